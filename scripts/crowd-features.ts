/**
 * The crowd detector's training data: mixtures of every corpus through the default model's
 * frontend (the daemon's WASM kernels), written for `python3 -m earshot_train.crowd`.
 *   node --import tsx scripts/crowd-features.ts [OUT.json] [--train N] [--val N] [--test N]
 * Defaults: /tmp/crowd-work/features.json, 1200 train draws (6,000 mixtures), 150 validation and
 * 120 test draws (8 mixtures each). See src/training/crowd-mixtures.ts for what is mixed.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { Frontend } from '../src/runtime/frontend/frontend.ts';
import { loadModel } from '../src/runtime/model/metadata.ts';
import { writeCrowdData } from '../src/training/crowd-mixtures.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { train: { type: 'string', default: '1200' }, val: { type: 'string', default: '150' }, test: { type: 'string', default: '120' }, root: { type: 'string', default: '../shared/data' } },
});
const out = positionals[0] ?? '/tmp/crowd-work/features.json';
mkdirSync(dirname(out), { recursive: true });
const t0 = Date.now();
const rows = await writeCrowdData({
  root: values.root!,
  out,
  frontend: new Frontend(loadModel().frontend),
  train: Number(values.train),
  val: Number(values.val),
  test: Number(values.test),
  log: (s) => console.log(s),
});
console.log(`${rows.length} mixtures -> ${out} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
