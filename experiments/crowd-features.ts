// Issue 32, item 1 (a crowd detector), feasibility only: can per-utterance statistics of the
// shipped frontend's features (40 log-mels, rms, zcr, f0, voicing) tell "a dominant talker" from
// "a crowd and no one near"? Synthesises RAVDESS mixtures, computes the features with the default
// model's frontend (the daemon's WASM kernels) and writes one row of statistics per mixture;
// experiments/crowd-feasibility.py trains and scores a logistic regression and a small MLP on them.
// Speaker-disjoint: training mixtures use actors 1-16 (talkers and babble), test mixtures 17-24.
//   node --import tsx experiments/crowd-features.ts [out.json]
// With CROWD_FRAMES=1 the raw feature frames are written too (out.json -> out.f32, each row's
// `offset` and `frames` in the JSON), for experiments/crowd-frames.py (a small recurrent network).
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { loadCorpus } from '../src/training/corpus/index.ts';
import { atLevel, loadBabblePool, makeNoise, mixAtSnr, type BabblePool } from '../src/training/noise.ts';
import { mulberry32 } from '../src/training/augment.ts';
import { Frontend } from '../src/runtime/frontend/frontend.ts';
import { loadModel } from '../src/runtime/model/metadata.ts';

const out = process.argv[2] ?? '/tmp/crowd/features.json';
const RATE = 16000;
const LEN = Math.round(2.5 * RATE);
// CROWD_CORPORA=all: talkers and babble from every corpus (speakers split 4:1 by a hash of their
// id, at most 40 clips each), so the babble is not the talker's own sentences in 24 voices
const all = process.env.CROWD_CORPORA === 'all';
const KINDS = ['ravdess', 'tess', 'emodb', 'emotiontts-kr', 'nemo'] as const;
const hash = (s: string) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
const items = all
  ? KINDS.flatMap((k) => {
      const perSpeaker = new Map<string, number>();
      return loadCorpus(k, `../shared/data/${k}`)
        .map((i) => ({ ...i, speaker: `${k}:${i.speaker}` }))
        .filter((i) => {
          const n = (perSpeaker.get(i.speaker) ?? 0) + 1;
          perSpeaker.set(i.speaker, n);
          return n <= 40;
        });
    })
  : loadCorpus('ravdess', '../shared/data/ravdess');
const trainItems = items.filter((i) => (all ? hash(i.speaker) % 5 !== 0 : Number(i.speaker) <= 16));
const testItems = items.filter((i) => (all ? hash(i.speaker) % 5 === 0 : Number(i.speaker) >= 17));
const frontend = new Frontend(loadModel(undefined, 'models').frontend);
const dim = frontend.dim;

/** Sum of `x` into `y` at offset `at` (clipped to y). */
function addAt(y: Float32Array, x: Float32Array, at: number, gain: number): void {
  for (let i = Math.max(0, -at); i < x.length && at + i < y.length; i++) y[at + i] += gain * x[i];
}

/** Per-feature mean, standard deviation and mean |frame-to-frame change| over the frames above the mixture's quietest 20 % + 10 dB (rms column), plus the share of such frames. */
function stats(feat: Float32Array): number[] {
  const frames = feat.length / dim;
  const rms = dim - 4; // rms, zcr, f0, voicing are the last four columns
  const levels = Array.from({ length: frames }, (_, t) => feat[t * dim + rms]).sort((a, b) => a - b);
  const gate = levels[Math.floor(frames * 0.2)] * Math.sqrt(10); // the rms column is linear amplitude: +10 dB of power
  // rms as ln, like the mels, so its statistics do not scale with the level
  for (let t = 0; t < frames; t++) feat[t * dim + rms] = Math.log(feat[t * dim + rms] + 1e-6);
  const keep: number[] = [];
  for (let t = 0; t < frames; t++) if (feat[t * dim + rms] > Math.log(gate + 1e-6)) keep.push(t);
  const rows = keep.length >= 10 ? keep : Array.from({ length: frames }, (_, t) => t);
  const row: number[] = [];
  for (let j = 0; j < dim; j++) {
    let s = 0;
    let s2 = 0;
    let d = 0;
    for (let k = 0; k < rows.length; k++) {
      const v = feat[rows[k] * dim + j];
      s += v;
      s2 += v * v;
      if (k > 0 && rows[k] === rows[k - 1] + 1) d += Math.abs(v - feat[rows[k - 1] * dim + j]);
    }
    const m = s / rows.length;
    row.push(m, Math.sqrt(Math.max(0, s2 / rows.length - m * m)), d / rows.length);
  }
  row.push(rows.length / frames);
  return row;
}

const framesOut = process.env.CROWD_FRAMES === '1' ? openSync(out.replace(/\.json$/, '.f32'), 'w') : null;
let frameOffset = 0;

interface Row {
  offset?: number;
  frames?: number;
  split: 'train' | 'test';
  kind: string;
  snr: number | null;
  talkers: number;
  label: 0 | 1;
  x: number[];
}

function levelled(x: Float32Array, rng: () => number): Float32Array {
  // a random overall level (-45..-20 dBFS of mean power), so loudness alone cannot decide
  return atLevel(x, -45 + 25 * rng());
}

function byspeaker(pool: BabblePool): Map<string, Float32Array[]> {
  const m = new Map<string, Float32Array[]>();
  for (const c of pool.clips) m.set(c.speaker, [...(m.get(c.speaker) ?? []), c.samples]);
  return m;
}

async function make(split: 'train' | 'test', n: number, seed: number): Promise<Row[]> {
  const rng = mulberry32(seed);
  const pool = await loadBabblePool(split === 'train' ? trainItems : testItems);
  const speakers = byspeaker(pool);
  const names = [...speakers.keys()];
  const pick = (s: string) => speakers.get(s)![Math.floor(rng() * speakers.get(s)!.length)];
  const rows: Row[] = [];
  const floor = () => atLevel(makeNoise('pink', LEN, rng), -75);
  const push = (kind: string, snr: number | null, talkers: number, label: 0 | 1, x: Float32Array) => {
    const feat = frontend.computeAll(levelled(x, rng));
    const frames = feat.length / dim;
    if (framesOut !== null) writeSync(framesOut, new Uint8Array(feat.buffer, feat.byteOffset, feat.byteLength)); // before stats() rewrites the rms column
    rows.push({ split, kind, snr, talkers, label, ...(framesOut !== null ? { offset: frameOffset, frames } : {}), x: stats(feat) });
    frameOffset += frames;
  };
  for (let i = 0; i < n; i++) {
    const speaker = names[Math.floor(rng() * names.length)];
    const clip = pick(speaker);
    const talker = new Float32Array(LEN);
    addAt(talker, clip, Math.floor(rng() * Math.max(1, LEN - clip.length)), 1);
    // one talker, clean
    const quiet = floor();
    push('single', null, 1, 1, talker.map((v, k) => v + quiet[k]));
    // one talker over babble of others (the SNR over the talker's active part)
    for (const snr of split === 'train' ? [0 + 20 * rng()] : [0, 5, 10, 20]) {
      const babble = makeNoise('babble', LEN, rng, { pool, excludeSpeakers: [speaker] });
      push('talker+babble', snr, 1, 1, mixAtSnr(talker, babble, snr));
    }
    // 2-8 talkers at random levels (+-6 dB) and offsets: no one dominant
    const k = 2 + Math.floor(rng() * 7);
    const chosen = names.map((s) => [rng(), s] as const).sort((a, b) => a[0] - b[0]).slice(0, k).map(([, s]) => s);
    const crowd = new Float32Array(LEN);
    for (const s of chosen) {
      const c = pick(s);
      addAt(crowd, c, Math.floor(rng() * LEN) - Math.floor(c.length / 2), 10 ** ((-6 + 12 * rng()) / 20));
    }
    push('crowd', null, k, 0, crowd);
    // babble alone (6 talkers)
    push('babble', null, 6, 0, makeNoise('babble', LEN, rng, { pool }));
  }
  return rows;
}

const t0 = Date.now();
const rows = [...(await make('train', Number(process.env.CROWD_TRAIN ?? 400), 1)), ...(await make('test', 120, 2))];
writeFileSync(out, JSON.stringify({ dim, features: frontend.config, rows }));
if (framesOut !== null) closeSync(framesOut);
console.log(`${rows.length} mixtures (${rows.filter((r) => r.split === 'train').length} train) -> ${out} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
