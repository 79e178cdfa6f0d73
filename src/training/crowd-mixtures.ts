/**
 * Training data for the crowd detector (issue 32): mixtures synthesised from every corpus, their
 * frontend frames written for `python3 -m earshot_train.crowd`.
 *
 * Each mixture is 2.5 s at a random level (-60..-20 dBFS, so loudness alone cannot decide), made
 * of talkers and babble from RAVDESS, TESS, EmoDB, emotiontts-kr and nEMO (at most 40 clips a
 * speaker). Positives (a dominant talker): one talker clean (over a room noise floor 30-70 dB below its speech); one talker 0-20 dB over 6-talker
 * babble of others. Negatives: 2-8 talkers at +-6 dB and random offsets; babble alone; TV-like
 * babble (babble with music-like tones or pink noise at -6..+6 dB against it).
 *
 * Speakers are split by a hash of their id: test (1 in 5), validation (1 in 5), train (3 in 5), so
 * the threshold is chosen and early stopping decided on voices the network never heard, and
 * `earshot vad-eval --crowd` measures on voices neither saw (crowdSplit is shared with it).
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { loadCorpus, type CorpusItem } from './corpus/index.ts';
import { atLevel, loadBabblePool, makeNoise, mixAtSnr, type BabblePool } from './noise.ts';
import { mulberry32 } from './augment.ts';
import { Frontend } from '../runtime/frontend/frontend.ts';
import { MODEL_SAMPLE_RATE } from '../core/constants.ts';

export const CROWD_CORPORA = ['ravdess', 'tess', 'emodb', 'emotiontts-kr', 'nemo'] as const;
export type CrowdSplit = 'train' | 'val' | 'test';
/** Clips kept per speaker (nEMO and TESS have hundreds per voice; this keeps the voices balanced). */
const PER_SPEAKER = 40;
const LEN = Math.round(2.5 * MODEL_SAMPLE_RATE);
/** Levels a mixture is brought to (dBFS of mean power over its 2.5 s): RAVDESS clips sit near -50, emotiontts-kr near -20. */
const LEVEL_DBFS = [-60, -20] as const;

function hash(s: string): number {
  return [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
}

/** Which split a speaker ("corpus:id") belongs to: the same everywhere the detector is trained or measured. */
export function crowdSplit(speaker: string): CrowdSplit {
  const h = hash(speaker) % 5;
  return h === 0 ? 'test' : h === 1 ? 'val' : 'train';
}

/** Every corpus under `root`, speakers named "corpus:id", at most PER_SPEAKER clips each. */
export function crowdItems(root: string): CorpusItem[] {
  return CROWD_CORPORA.flatMap((k) => {
    const perSpeaker = new Map<string, number>();
    return loadCorpus(k, `${root}/${k}`)
      .map((i) => ({ ...i, speaker: `${k}:${i.speaker}` }))
      .filter((i) => {
        const n = (perSpeaker.get(i.speaker) ?? 0) + 1;
        perSpeaker.set(i.speaker, n);
        return n <= PER_SPEAKER;
      });
  });
}

/**
 * Music-like tones: notes of 150-600 ms (one to three at a time, a fundamental of 110-880 Hz with
 * four decaying harmonics and a plucked envelope), the steady pitched sound a television or a
 * radio adds to a room. Unscaled.
 */
export function musicTones(length: number, rng: () => number, rate = MODEL_SAMPLE_RATE): Float32Array {
  const out = new Float32Array(length);
  for (let voice = 1 + Math.floor(rng() * 3); voice > 0; voice--) {
    let pos = 0;
    while (pos < length) {
      const dur = Math.round((0.15 + 0.45 * rng()) * rate);
      const f0 = 110 * 2 ** (Math.floor(rng() * 36) / 12);
      for (let i = 0; i < dur && pos + i < length; i++) {
        const env = Math.min(1, i / (0.01 * rate)) * Math.exp(-i / (0.3 * rate));
        let v = 0;
        for (let h = 1; h <= 4; h++) v += Math.sin((2 * Math.PI * f0 * h * i) / rate) / h;
        out[pos + i] += env * v;
      }
      pos += dur;
    }
  }
  return out;
}

export interface CrowdRow {
  split: CrowdSplit;
  kind: 'single' | 'talker+babble' | 'crowd' | 'babble' | 'tv';
  snr: number | null;
  label: 0 | 1;
  /** first frame in the .f32 file, and the number of frames */
  offset: number;
  frames: number;
}

function addAt(y: Float32Array, x: Float32Array, at: number, gain: number): void {
  for (let i = Math.max(0, -at); i < x.length && at + i < y.length; i++) y[at + i] += gain * x[i];
}

function sum(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => v + b[i]);
}

interface Writer {
  frontend: Frontend;
  fd: number;
  offset: number;
  rows: CrowdRow[];
}

function bySpeaker(pool: BabblePool): Map<string, Float32Array[]> {
  const m = new Map<string, Float32Array[]>();
  for (const c of pool.clips) m.set(c.speaker, [...(m.get(c.speaker) ?? []), c.samples]);
  return m;
}

/** `n` draws of every condition for one split (train: one random SNR a draw; val and test: 0, 5, 10, 20 dB). */
async function makeSplit(w: Writer, split: CrowdSplit, items: CorpusItem[], n: number, seed: number): Promise<void> {
  const rng = mulberry32(seed);
  const pool = await loadBabblePool(items);
  const speakers = bySpeaker(pool);
  const names = [...speakers.keys()];
  const pick = (s: string) => speakers.get(s)![Math.floor(rng() * speakers.get(s)!.length)];
  const hop = w.frontend.config.hopLength;
  const dim = w.frontend.dim;
  // what is written is the span a VAD would hand over: the talker's clip with 0-0.2 s around it, or
  // (no talker) a random span of 0.8-2.5 s; the whole mixture only sets the frontend's context
  let span: [number, number] = [0, LEN];
  const push = (kind: CrowdRow['kind'], snr: number | null, label: 0 | 1, x: Float32Array) => {
    const all = w.frontend.computeAll(atLevel(x, LEVEL_DBFS[0] + (LEVEL_DBFS[1] - LEVEL_DBFS[0]) * rng()));
    const total = all.length / dim;
    const from = Math.max(0, Math.floor(span[0] / hop));
    const to = Math.min(total, Math.max(from + 50, Math.ceil(span[1] / hop)));
    const feat = all.subarray(from * dim, to * dim);
    const frames = to - from;
    writeSync(w.fd, new Uint8Array(feat.buffer, feat.byteOffset, feat.byteLength));
    w.rows.push({ split, kind, snr, label, offset: w.offset, frames });
    w.offset += frames;
  };
  for (let i = 0; i < n; i++) {
    const speaker = names[Math.floor(rng() * names.length)];
    const clip = pick(speaker);
    const talker = new Float32Array(LEN);
    const at = Math.floor(rng() * Math.max(1, LEN - clip.length));
    addAt(talker, clip, at, 1);
    span = [at - Math.floor(0.2 * MODEL_SAMPLE_RATE * rng()), at + clip.length + Math.floor(0.2 * MODEL_SAMPLE_RATE * rng())];
    push('single', null, 1, sum(talker, atLevel(makeNoise('pink', LEN, rng), -30 - 40 * rng())));
    for (const snr of split === 'train' ? [20 * rng()] : [0, 5, 10, 20]) {
      push('talker+babble', snr, 1, mixAtSnr(talker, makeNoise('babble', LEN, rng, { pool, excludeSpeakers: [speaker] }), snr));
    }
    const len = Math.floor((0.8 + 1.7 * rng()) * MODEL_SAMPLE_RATE);
    const start = Math.floor(rng() * (LEN - len));
    span = [start, start + len];
    const k = 2 + Math.floor(rng() * 7);
    const crowd = new Float32Array(LEN);
    for (const s of names.map((s) => [rng(), s] as const).sort((a, b) => a[0] - b[0]).slice(0, k).map(([, s]) => s)) {
      const c = pick(s);
      addAt(crowd, c, Math.floor(rng() * LEN) - Math.floor(c.length / 2), 10 ** ((-6 + 12 * rng()) / 20));
    }
    push('crowd', null, 0, crowd);
    push('babble', null, 0, makeNoise('babble', LEN, rng, { pool }));
    const tv = rng() < 0.5 ? musicTones(LEN, rng) : makeNoise('pink', LEN, rng);
    push('tv', null, 0, mixAtSnr(makeNoise('babble', LEN, rng, { pool }), tv, -6 + 12 * rng()));
  }
}

export interface CrowdDataOptions {
  root: string;
  /** output: OUT.json (rows, frontend) and OUT.f32 (frames, row-major [frames, dim]) */
  out: string;
  frontend: Frontend;
  train: number;
  val: number;
  test: number;
  log?: (s: string) => void;
}

/** Writes the mixtures' frames and their index; returns the rows. */
export async function writeCrowdData(o: CrowdDataOptions): Promise<CrowdRow[]> {
  const items = crowdItems(o.root);
  const fd = openSync(o.out.replace(/\.json$/, '.f32'), 'w');
  const w: Writer = { frontend: o.frontend, fd, offset: 0, rows: [] };
  try {
    const counts: Record<CrowdSplit, number> = { train: o.train, val: o.val, test: o.test };
    for (const [i, split] of (['train', 'val', 'test'] as const).entries()) {
      const part = items.filter((it) => crowdSplit(it.speaker) === split);
      o.log?.(`${split}: ${new Set(part.map((p) => p.speaker)).size} speakers, ${part.length} clips, ${counts[split]} draws`);
      await makeSplit(w, split, part, counts[split], i + 1);
    }
  } finally {
    closeSync(fd);
  }
  writeFileSync(o.out, JSON.stringify({ dim: o.frontend.dim, features: o.frontend.config, rows: w.rows }));
  return w.rows;
}
