/**
 * Utterance functionals: 159 numbers that summarise an utterance's frame features (40 log-mel +
 * RMS + ZCR + f0 + voicing, the shipped CRNN's frontend): band means and spreads, cepstral shape,
 * spectral change, loudness, ZCR and pitch (in semitones) as mean / spread / percentiles / range /
 * slope / change, jitter- and shimmer-like frame-to-frame changes over voiced frames, voicing,
 * rate of voiced stretches, duration and spectral balance. Normalised per speaker, they carry what
 * the network, seeing one utterance normalised on its own, does not: how this voice differs from
 * itself (MODELS.md, "Prosodic functionals"). scripts/train/functionals.py computes the same
 * numbers in the same order for training (test/functionals.test.ts compares the two).
 */
import { EarshotError } from '../../core/errors.ts';

const MEL_BANDS = 40;
const CEPSTRA = 12;
/** voicing above which a frame's f0 counts (scripts/train/functionals.py VOICED) */
const VOICED = 0.5;
const FRAMES_PER_SECOND = 100;

function trackNames(prefix: string): string[] {
  return ['mean', 'std', 'p10', 'p50', 'p90', 'range', 'slope', 'dabs'].map((s) => `${prefix}_${s}`);
}

/** The functionals' names, in the order they are computed. */
export const FUNCTIONAL_NAMES: readonly string[] = [
  ...Array.from({ length: MEL_BANDS }, (_, k) => [`mel${k}_mean`, `mel${k}_std`]).flat(),
  ...Array.from({ length: CEPSTRA }, (_, k) => [`cep${k + 1}_mean`, `cep${k + 1}_std`, `cep${k + 1}_dabs`]).flat(),
  ...Array.from({ length: MEL_BANDS / 4 }, (_, k) => `dmel${4 * k}`),
  ...trackNames('loud'),
  ...trackNames('zcr'),
  ...trackNames('f0st'),
  'f0_jitter', 'loud_shimmer', 'voiced_frac', 'voicing_mean', 'voiced_rate', 'speech_sec', 'balance', 'spec_slope', 'spec_slope_std',
];

/** Where the functionals' inputs sit in a frame. */
export interface FunctionalColumns {
  mel: number[];
  rms: number;
  zcr: number;
  f0: number;
  voicing: number;
}

/** The columns of `featureNames` the functionals read; throws E_MODEL when the layout lacks one. */
export function functionalColumns(featureNames: readonly string[]): FunctionalColumns {
  const at = (n: string): number => {
    const i = featureNames.indexOf(n);
    if (i < 0) throw new EarshotError('E_MODEL', `the functional head needs feature "${n}" (40 log-mel + rms + zcr + f0 + voicing); this model's frontend has [${featureNames.join(', ')}]`);
    return i;
  };
  return { mel: Array.from({ length: MEL_BANDS }, (_, k) => at(`mel${k}`)), rms: at('rms'), zcr: at('zcr'), f0: at('f0'), voicing: at('voicing') };
}

const DCT = Array.from({ length: CEPSTRA }, (_, k) => Float64Array.from({ length: MEL_BANDS }, (_, n) => Math.cos((Math.PI / MEL_BANDS) * (n + 0.5) * (k + 1))));
const BANDS = Float64Array.from({ length: MEL_BANDS }, (_, n) => n - (MEL_BANDS - 1) / 2);
const BANDS_SQ = BANDS.reduce((s, b) => s + b * b, 0);

/** numpy.percentile's default (linear between closest ranks) of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s / v.length;
}

function std(v: ArrayLike<number>, m = mean(v)): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] - m) ** 2;
  return Math.sqrt(s / v.length);
}

function meanAbsDiff(v: ArrayLike<number>): number {
  if (v.length < 2) return 0;
  let s = 0;
  for (let i = 1; i < v.length; i++) s += Math.abs(v[i] - v[i - 1]);
  return s / (v.length - 1);
}

/** mean, spread, 10/50/90th percentiles, range, slope over time, mean absolute change; zeros for fewer than 3 values. */
function track(v: Float64Array, out: Float64Array, at: number): number {
  if (v.length < 3) {
    out.fill(0, at, at + 8);
    return at + 8;
  }
  const m = mean(v);
  const sorted = Float64Array.from(v).sort();
  const p10 = percentile(sorted, 10);
  const p90 = percentile(sorted, 90);
  // slope against time mapped to [-1, 1]
  let num = 0;
  let den = 0;
  for (let i = 0; i < v.length; i++) {
    const t = -1 + (2 * i) / (v.length - 1);
    num += t * (v[i] - m); // the mean of t is 0
    den += t * t;
  }
  out[at] = m;
  out[at + 1] = std(v, m);
  out[at + 2] = p10;
  out[at + 3] = percentile(sorted, 50);
  out[at + 4] = p90;
  out[at + 5] = p90 - p10;
  out[at + 6] = num / Math.max(den, 1e-9);
  out[at + 7] = meanAbsDiff(v);
  return at + 8;
}

const semitones = (f0: number): number => 12 * Math.log2(Math.max(f0, 30) / 55);

/**
 * The functionals of one utterance (`frames` rows of `dim` raw frontend features, row-major) into
 * `out` (length FUNCTIONAL_NAMES.length), in FUNCTIONAL_NAMES order. Returns `out`.
 */
export function computeFunctionals(x: Float32Array, frames: number, dim: number, cols: FunctionalColumns, out: Float64Array): Float64Array {
  const n = frames;
  if (n <= 0) throw new EarshotError('E_INTERNAL', 'functionals of an empty utterance');
  const col = (j: number): Float64Array => {
    const v = new Float64Array(n);
    for (let t = 0; t < n; t++) v[t] = x[t * dim + j];
    return v;
  };
  const mel = cols.mel.map(col);
  let k = 0;
  for (const band of mel) {
    const m = mean(band);
    out[k++] = m;
    out[k++] = std(band, m);
  }
  // the cepstra, frame by frame (each frame's 40 bands are contiguous in x)
  const ceps = DCT.map(() => new Float64Array(n));
  const frame = new Float64Array(MEL_BANDS);
  for (let t = 0; t < n; t++) {
    for (let b = 0; b < MEL_BANDS; b++) frame[b] = x[t * dim + cols.mel[b]];
    for (let c = 0; c < CEPSTRA; c++) {
      const basis = DCT[c];
      // four running sums: independent additions pipeline (the bands are a multiple of 4)
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let b = 0; b < MEL_BANDS; b += 4) {
        s0 += frame[b] * basis[b];
        s1 += frame[b + 1] * basis[b + 1];
        s2 += frame[b + 2] * basis[b + 2];
        s3 += frame[b + 3] * basis[b + 3];
      }
      ceps[c][t] = s0 + s1 + s2 + s3;
    }
  }
  for (const cep of ceps) {
    const m = mean(cep);
    out[k++] = m;
    out[k++] = std(cep, m);
    out[k++] = meanAbsDiff(cep);
  }
  for (let b0 = 0; b0 < MEL_BANDS; b0 += 4) {
    let s = 0;
    for (let b = b0; b < b0 + 4; b++) s += meanAbsDiff(mel[b]);
    out[k++] = s / 4;
  }
  const loud = col(cols.rms).map((r) => Math.log(Math.max(r, 1e-5)));
  k = track(loud, out, k);
  k = track(col(cols.zcr), out, k);
  const f0 = col(cols.f0);
  const voicing = col(cols.voicing);
  const voiced = Array.from(voicing, (v) => v > VOICED);
  k = track(Float64Array.from(f0.filter((_, t) => voiced[t]), semitones), out, k);
  let jitter = 0;
  let shimmer = 0;
  let pairs = 0;
  let onsets = 0;
  for (let t = 1; t < n; t++) {
    if (voiced[t] && voiced[t - 1]) {
      jitter += Math.abs(semitones(f0[t]) - semitones(f0[t - 1]));
      shimmer += Math.abs(loud[t] - loud[t - 1]);
      pairs++;
    }
    if (voiced[t] && !voiced[t - 1]) onsets++;
  }
  const voicedCount = voiced.filter(Boolean).length;
  out[k++] = pairs ? jitter / pairs : 0;
  out[k++] = pairs ? shimmer / pairs : 0;
  out[k++] = voicedCount / n;
  out[k++] = mean(voicing);
  out[k++] = onsets / Math.max(n / FRAMES_PER_SECOND, 0.1);
  out[k++] = n / FRAMES_PER_SECOND;
  // spectral balance and slope over the voiced frames (all frames when fewer than 3 are voiced)
  const rows = voicedCount > 2 ? voiced.flatMap((v, t) => (v ? [t] : [])) : Array.from({ length: n }, (_, t) => t);
  const bandMean = new Float64Array(MEL_BANDS);
  for (let b = 0; b < MEL_BANDS; b++) for (const t of rows) bandMean[b] += mel[b][t] / rows.length;
  const overall = mean(bandMean);
  out[k++] = mean(bandMean.subarray(0, 14)) - mean(bandMean.subarray(26));
  let slope = 0;
  for (let b = 0; b < MEL_BANDS; b++) slope += (bandMean[b] - overall) * BANDS[b];
  out[k++] = slope / BANDS_SQ;
  const frameSlopes = rows.map((t) => {
    let m = 0;
    for (let b = 0; b < MEL_BANDS; b++) m += mel[b][t];
    m /= MEL_BANDS;
    let s = 0;
    for (let b = 0; b < MEL_BANDS; b++) s += (mel[b][t] - m) * BANDS[b];
    return s / BANDS_SQ;
  });
  out[k++] = std(frameSlopes);
  return out;
}
