/**
 * The benchmark's baselines compute what they claim (so the ratios compare like with like), and
 * `earshot bench --json` reports every implementation. No timing is asserted: figures are printed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { BENCH_FRONTEND } from '../../src/bench/frontend.ts';
import { ReferenceMfcc } from '../../src/bench/reference-mfcc.ts';
import { frameCount, parseFrontendConfig } from '../../src/runtime/frontend/config.ts';
import { Frontend } from '../../src/runtime/frontend/frontend.ts';
import { DEFAULT_CLIP } from '../../src/core/paths.ts';

test('the plain-TS fft.js baseline computes the same MFCCs as the WASM frontend', async () => {
  const x = (await decodeAudioFile(DEFAULT_CLIP)).samples;
  const c = parseFrontendConfig(BENCH_FRONTEND);
  const wasm = new Frontend(c).computeAll(x);
  const ref = new ReferenceMfcc(c);
  const out = new Float32Array(c.mfcc);
  let worst = 0;
  for (let i = 0; i < frameCount(c, x.length); i++) {
    ref.compute(x, i * c.hopLength, out);
    for (let k = 0; k < c.mfcc; k++) worst = Math.max(worst, Math.abs(out[k]! - wasm[i * c.mfcc + k]!) / (1 + Math.abs(out[k]!)));
  }
  assert.ok(worst < 1e-3, `worst relative difference ${worst}`);
});

test('earshot bench --json reports every frontend implementation', () => {
  const r = spawnSync(process.execPath, ['bin/earshot.js', 'bench', '--only', 'frontend', '--seconds', '1', '--rounds', '1', '--json'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const names = j.frontend.map((row: { name: string }) => row.name);
  for (const n of ['f32 SIMD (WASM)', 'f32 scalar (WASM)', 'Q15 SIMD (WASM)', 'plain TS + fft.js', 'meyda']) assert.ok(names.includes(n), `${n} missing from ${names}`);
  for (const row of j.frontend) assert.ok(row.usPerFrame > 0 && Number.isFinite(row.realTimeFactor), JSON.stringify(row));
});

test('earshot bench --only arithmetic --json: the model frontend and the whole pipeline, f32 and Q15', () => {
  const r = spawnSync(process.execPath, ['bin/earshot.js', 'bench', '--only', 'arithmetic', '--seconds', '1', '--rounds', '1', '--pipeline-seconds', '2', '--json'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.arithmetic.model, 'earshot-crnn');
  const names = j.arithmetic.rows.map((row: { name: string }) => row.name);
  for (const a of ['f32', 'Q15']) {
    for (const n of [`frontend ${a} SIMD`, `frontend ${a} scalar`, `mel path (no pitch) ${a} SIMD`]) assert.ok(names.includes(n), `${n} missing from ${names}`);
    assert.ok(names.includes(`pipeline, frontend ${a}`), names.join(', '));
  }
  for (const row of j.arithmetic.rows) assert.ok(row.realTimeFactor > 0 && Number.isFinite(row.realTimeFactor), JSON.stringify(row));
});

test('earshot bench --only models --json: each model\'s runs per utterance, size and CPU time per second of speech', () => {
  const r = spawnSync(process.execPath, ['bin/earshot.js', 'bench', '--only', 'models', '--seconds', '6', '--rounds', '1', '--json'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout).models.rows as { model: string; runsPerUtterance: number; onnxBytes: number; msPerAudioSecond: number; msPerUtterance: number }[];
  assert.equal(rows.map((x) => x.model), ['earshot-crnn', 'earshot-crnn-ensemble'], 'the default and the ensemble, in that order');
  // one network run for the default; 5 members x 4 test-time variants for the ensemble
  assert.equal(rows.map((x) => x.runsPerUtterance), [1, 20]);
  for (const x of rows) assert.ok(x.onnxBytes > 100_000 && x.msPerAudioSecond > 0 && x.msPerUtterance > x.msPerAudioSecond, JSON.stringify(x));
});

test.run();
