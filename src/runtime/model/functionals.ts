/**
 * Utterance functionals: 159 numbers that summarise an utterance's frame features (40 log-mel +
 * RMS + ZCR + f0 + voicing, the shipped CRNN's frontend): band means and spreads, cepstral shape,
 * spectral change, loudness, ZCR and pitch (in semitones) as mean / spread / percentiles / range /
 * slope / change, jitter- and shimmer-like frame-to-frame changes over voiced frames, voicing,
 * rate of voiced stretches, duration and spectral balance. Normalised per speaker, they carry what
 * the network, seeing one utterance normalised on its own, does not: how this voice differs from
 * itself (docs/experiments/2026-12-01-functional-head.md). training/python/earshot_train/functionals.py
 * computes the same numbers in the same order for training (test/e2e/functionals.test.ts compares the two).
 */
import { EarshotError } from '../../core/errors.ts';
import type { FrontendConfig } from '../frontend/config.ts';

/**
 * The frontend the functionals are defined on (and the heads trained on): 40 log-mel bands (the
 * cepstra, the band groups and the spectral balance are written for 40) at 100 frames/s (rates and
 * durations count frames of 10 ms). checkFunctionalFrontend() refuses any other.
 */
export const MEL_BANDS = 40;
export const FRAMES_PER_SECOND = 100;
const CEPSTRA = 12;
/** voicing above which a frame's f0 counts (training/python/earshot_train/functionals.py VOICED) */
const VOICED = 0.5;

/** Throws E_MODEL unless the frontend has MEL_BANDS mel bands at FRAMES_PER_SECOND frames per second. */
export function checkFunctionalFrontend(frontend: Pick<FrontendConfig, 'melBands' | 'hopLength' | 'sampleRate'>): void {
  const fps = frontend.sampleRate / frontend.hopLength;
  if (frontend.melBands === MEL_BANDS && Math.abs(fps - FRAMES_PER_SECOND) < 1e-9) return;
  throw new EarshotError(
    'E_MODEL',
    `the model's functional head is defined on ${MEL_BANDS} mel bands at ${FRAMES_PER_SECOND} frames/s, but this model's frontend has ${frontend.melBands} mel bands at ${+fps.toFixed(3)} frames/s (hopLength ${frontend.hopLength} at ${frontend.sampleRate} Hz); ` +
      `use a head trained for this model or remove functionalHead from its metadata`,
  );
}

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
    if (i < 0) throw new EarshotError('E_MODEL', `the functional head needs feature "${n}" (${MEL_BANDS} log-mel + rms + zcr + f0 + voicing); this model's frontend has [${featureNames.join(', ')}]`);
    return i;
  };
  return { mel: Array.from({ length: MEL_BANDS }, (_, k) => at(`mel${k}`)), rms: at('rms'), zcr: at('zcr'), f0: at('f0'), voicing: at('voicing') };
}

/** DCT-II basis of cepstra 1..12 over the 40 bands, [cepstrum][band] in one array. */
const DCT = Float64Array.from({ length: CEPSTRA * MEL_BANDS }, (_, i) => Math.cos((Math.PI / MEL_BANDS) * ((i % MEL_BANDS) + 0.5) * (Math.floor(i / MEL_BANDS) + 1)));
const BANDS = Float64Array.from({ length: MEL_BANDS }, (_, n) => n - (MEL_BANDS - 1) / 2);
const BANDS_SQ = BANDS.reduce((s, b) => s + b * b, 0);

/**
 * Working memory of computeFunctionals, grown to the longest utterance seen and then reused, so an
 * utterance allocates nothing. computeFunctionals is synchronous: one call uses it at a time.
 */
class Workspace {
  frames = 0;
  /** per frame, 1 when its voicing is above VOICED */
  voiced = new Uint8Array(0);
  /** where the spectral balance's frames start in x (the voiced frames; all when fewer than 3 are voiced) */
  balanceRows = new Int32Array(0);
  balanceCount = 0;
  /** f0 in semitones, of the voiced frames only */
  semitone = new Float64Array(0);
  /** log RMS and ZCR, per frame */
  loud = new Float64Array(0);
  zcr = new Float64Array(0);
  /** the cepstra, [frame][cepstrum] */
  cep = new Float64Array(0);
  /** each spectral-balance frame's slope over the bands */
  slope = new Float64Array(0);
  /** a track's copy, reordered by percentiles() */
  order = new Float64Array(0);
  /** one frame's mel bands */
  readonly frame = new Float64Array(MEL_BANDS);
  /** per band: the sum of absolute frame-to-frame changes, and the mean over the spectral-balance frames */
  readonly bandDabs = new Float64Array(MEL_BANDS);
  readonly balanceMean = new Float64Array(MEL_BANDS);
  /** what prosody() finds */
  voicedCount = 0;
  voicingSum = 0;
  onsets = 0;
  jitter = 0;
  shimmer = 0;
  pairs = 0;

  grow(n: number): void {
    if (n <= this.frames) return;
    this.frames = n;
    this.voiced = new Uint8Array(n);
    this.balanceRows = new Int32Array(n);
    this.semitone = new Float64Array(n);
    this.loud = new Float64Array(n);
    this.zcr = new Float64Array(n);
    this.cep = new Float64Array(n * CEPSTRA);
    this.slope = new Float64Array(n);
    this.order = new Float64Array(n);
  }
}
const work = new Workspace();

// The passes below are small functions called once per band, frame or track, not loops in one long
// function: V8 optimises a function that is called often whole, with type feedback from all of it.
// The one long function it replaced was compiled in the middle of its first call's loop (on-stack
// replacement), before its later lines had ever run, and then bailed out at that loop's end on each
// of the next hundred or so calls (node --trace-deopt), so those utterances cost 3-8 ms each instead
// of 0.9: all of `earshot bench --only models`, and a daemon's first hundred utterances.

const semitones = (f0: number): number => 12 * Math.log2(Math.max(f0, 30) / 55);

/**
 * The frame-by-frame prosody into `w`: voicing, f0 in semitones of the voiced frames, loudness (log
 * RMS) and ZCR, and the jitter- and shimmer-like changes between consecutive voiced frames.
 */
function prosody(x: Float32Array, n: number, dim: number, cols: FunctionalColumns, w: Workspace): void {
  const { voiced, semitone, loud, zcr } = w;
  let voicedCount = 0;
  let voicingSum = 0;
  let onsets = 0;
  let jitter = 0;
  let shimmer = 0;
  let pairs = 0;
  for (let t = 0, row = 0; t < n; t++, row += dim) {
    const v = x[row + cols.voicing];
    voicingSum += v;
    loud[t] = Math.log(Math.max(x[row + cols.rms], 1e-5));
    zcr[t] = x[row + cols.zcr];
    voiced[t] = v > VOICED ? 1 : 0;
    if (!voiced[t]) continue;
    semitone[voicedCount++] = semitones(x[row + cols.f0]);
    if (t === 0) continue;
    if (voiced[t - 1]) {
      jitter += Math.abs(semitone[voicedCount - 1] - semitone[voicedCount - 2]);
      shimmer += Math.abs(loud[t] - loud[t - 1]);
      pairs++;
    } else {
      onsets++;
    }
  }
  w.voicedCount = voicedCount;
  w.voicingSum = voicingSum;
  w.onsets = onsets;
  w.jitter = jitter;
  w.shimmer = shimmer;
  w.pairs = pairs;
}

/**
 * Mel band `b` (column `j` of x) down the frames: its mean and spread into out[at], out[at + 1];
 * its summed frame-to-frame change and its mean over the spectral-balance frames into `w`.
 * Returns at + 2.
 */
function melBand(x: Float32Array, j: number, dim: number, n: number, b: number, w: Workspace, out: Float64Array, at: number): number {
  const end = j + n * dim;
  let sum = 0;
  let dabs = 0;
  let last = x[j];
  for (let i = j; i < end; i += dim) {
    const v = x[i];
    sum += v;
    if (i > j) dabs += Math.abs(v - last);
    last = v;
  }
  const m = sum / n;
  let sq = 0;
  for (let i = j; i < end; i += dim) {
    const d = x[i] - m;
    sq += d * d;
  }
  const { balanceRows, balanceCount } = w;
  let balance = 0;
  for (let r = 0; r < balanceCount; r++) balance += x[balanceRows[r] + j] / balanceCount;
  w.bandDabs[b] = dabs;
  w.balanceMean[b] = balance;
  out[at] = m;
  out[at + 1] = Math.sqrt(sq / n);
  return at + 2;
}

/**
 * The cepstra of the frame at x[row] (its mel bands at `melAt`, copied into `frame`) into cep[at..at+11].
 * Two cepstra at a time, so a band is loaded once per pair, each with four running sums, so the
 * additions pipeline (the bands are a multiple of 4).
 */
function frameCepstra(x: Float32Array, row: number, melAt: readonly number[], frame: Float64Array, cep: Float64Array, at: number): void {
  for (let b = 0; b < MEL_BANDS; b++) frame[b] = x[row + melAt[b]];
  for (let c = 0; c < CEPSTRA; c += 2) {
    const o = c * MEL_BANDS;
    const p = o + MEL_BANDS;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let r0 = 0;
    let r1 = 0;
    let r2 = 0;
    let r3 = 0;
    for (let b = 0; b < MEL_BANDS; b += 4) {
      const f0 = frame[b];
      const f1 = frame[b + 1];
      const f2 = frame[b + 2];
      const f3 = frame[b + 3];
      s0 += f0 * DCT[o + b];
      s1 += f1 * DCT[o + b + 1];
      s2 += f2 * DCT[o + b + 2];
      s3 += f3 * DCT[o + b + 3];
      r0 += f0 * DCT[p + b];
      r1 += f1 * DCT[p + b + 1];
      r2 += f2 * DCT[p + b + 2];
      r3 += f3 * DCT[p + b + 3];
    }
    cep[at + c] = s0 + s1 + s2 + s3;
    cep[at + c + 1] = r0 + r1 + r2 + r3;
  }
}

/** The regression slope of one frame's mel bands over the band index. */
function spectralSlope(frame: Float64Array): number {
  let m = 0;
  for (let b = 0; b < MEL_BANDS; b++) m += frame[b];
  m /= MEL_BANDS;
  let s = 0;
  for (let b = 0; b < MEL_BANDS; b++) s += (frame[b] - m) * BANDS[b];
  return s / BANDS_SQ;
}

/** Cepstrum `c` (of `cep`, [frame][cepstrum]) down the frames: mean, spread, mean absolute change into out[at..at+2]. Returns at + 3. */
function cepstrum(cep: Float64Array, c: number, n: number, out: Float64Array, at: number): number {
  let sum = 0;
  let dabs = 0;
  for (let t = 0, i = c; t < n; t++, i += CEPSTRA) {
    sum += cep[i];
    if (t > 0) dabs += Math.abs(cep[i] - cep[i - CEPSTRA]);
  }
  const m = sum / n;
  let sq = 0;
  for (let t = 0, i = c; t < n; t++, i += CEPSTRA) {
    const d = cep[i] - m;
    sq += d * d;
  }
  out[at] = m;
  out[at + 1] = Math.sqrt(sq / n);
  out[at + 2] = n < 2 ? 0 : dabs / (n - 1);
  return at + 3;
}

/**
 * Rearranges a[lo, hi) so that a[k] holds what a sorted copy holds there, nothing larger before it
 * and nothing smaller after it (Hoare's FIND, median-of-three pivot, insertion sort for short
 * ranges): the value a sort would put there, in O(n). NaN-free input.
 */
function select(a: Float64Array, lo: number, hi: number, k: number): void {
  let l = lo;
  let r = hi - 1;
  while (r - l > 16) {
    const x = a[l];
    const y = a[(l + r) >> 1];
    const z = a[r];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = l;
    let j = r;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    // now a[l..j] <= pivot <= a[i..r], and what lies between equals the pivot
    if (k <= j) r = j;
    else if (k >= i) l = i;
    else return;
  }
  for (let i = l + 1; i <= r; i++) {
    const v = a[i];
    let j = i - 1;
    for (; j >= l && a[j] > v; j--) a[j + 1] = a[j];
    a[j + 1] = v;
  }
}

/** The value at fractional rank `pos` of a sorted copy: rank lo = floor(pos) is in place, rank lo + 1 is the least of a[lo + 1 .. bound]. */
function between(a: Float64Array, pos: number, bound: number): number {
  const lo = Math.floor(pos);
  let hi = a[Math.min(lo + 1, bound)];
  for (let i = lo + 2; i <= bound; i++) if (a[i] < hi) hi = a[i];
  return a[lo] + (hi - a[lo]) * (pos - lo);
}

/**
 * numpy.percentile's default (linear between closest ranks) at 10, 50 and 90 of a[0, len), len >= 3,
 * into out[at..at+2]; reorders `a`. Selects the ranks instead of sorting: the same values, in O(n).
 */
function percentiles(a: Float64Array, len: number, out: Float64Array, at: number): void {
  const last = len - 1;
  const p10 = 0.1 * last;
  const p50 = 0.5 * last;
  const p90 = 0.9 * last;
  const r50 = Math.floor(p50);
  const r90 = Math.floor(p90);
  let nan = false;
  for (let i = 0; i < len; i++) if (a[i] !== a[i]) nan = true;
  if (nan) {
    a.subarray(0, len).sort(); // NaN sorts last; comparisons cannot place it
  } else {
    select(a, 0, len, r50);
    select(a, 0, r50, Math.floor(p10)); // below r50 from len 3 on
    if (r90 > r50) select(a, r50 + 1, len, r90);
  }
  out[at] = between(a, p10, r50);
  out[at + 1] = between(a, p50, r90 > r50 ? r90 : last);
  out[at + 2] = between(a, p90, last);
}

/**
 * mean, spread, 10/50/90th percentiles, range, slope over time, mean absolute change of v[0, len)
 * into out[at..at+7]; zeros for fewer than 3 values. Returns at + 8.
 */
function track(v: Float64Array, len: number, out: Float64Array, at: number): number {
  if (len < 3) {
    out.fill(0, at, at + 8);
    return at + 8;
  }
  let sum = 0;
  for (let i = 0; i < len; i++) sum += v[i];
  const m = sum / len;
  let sq = 0;
  let num = 0;
  let den = 0;
  let dabs = 0;
  for (let i = 0; i < len; i++) {
    const d = v[i] - m;
    sq += d * d;
    // slope against time mapped to [-1, 1]
    const t = -1 + (2 * i) / (len - 1);
    num += t * d; // the mean of t is 0
    den += t * t;
    if (i > 0) dabs += Math.abs(v[i] - v[i - 1]);
  }
  const order = work.order;
  for (let i = 0; i < len; i++) order[i] = v[i];
  percentiles(order, len, out, at + 2);
  out[at] = m;
  out[at + 1] = Math.sqrt(sq / len);
  out[at + 5] = out[at + 4] - out[at + 2];
  out[at + 6] = num / Math.max(den, 1e-9);
  out[at + 7] = dabs / (len - 1);
  return at + 8;
}

/**
 * The functionals of one utterance (`frames` rows of `dim` raw frontend features, row-major) into
 * `out` (length FUNCTIONAL_NAMES.length), in FUNCTIONAL_NAMES order. Returns `out`.
 *
 * Every sum adds the same terms in the same order as the plain column-by-column version before
 * it (77ae20f), and the percentiles select the ranks a sort would, so the values are the same to the
 * bit: the heads were trained on them (test/e2e/functionals.test.ts holds them to numpy's).
 */
export function computeFunctionals(x: Float32Array, frames: number, dim: number, cols: FunctionalColumns, out: Float64Array): Float64Array {
  const n = frames;
  if (n <= 0) throw new EarshotError('E_INTERNAL', 'functionals of an empty utterance');
  const w = work;
  w.grow(n);
  prosody(x, n, dim, cols, w);
  // spectral balance and slope over the voiced frames (all frames when fewer than 3 are voiced)
  const allFrames = w.voicedCount <= 2;
  w.balanceCount = 0;
  for (let t = 0; t < n; t++) if (allFrames || w.voiced[t]) w.balanceRows[w.balanceCount++] = t * dim;
  let k = 0;
  for (let b = 0; b < MEL_BANDS; b++) k = melBand(x, cols.mel[b], dim, n, b, w, out, k);
  let slopes = 0;
  for (let t = 0; t < n; t++) {
    frameCepstra(x, t * dim, cols.mel, w.frame, w.cep, t * CEPSTRA);
    if (allFrames || w.voiced[t]) w.slope[slopes++] = spectralSlope(w.frame);
  }
  for (let c = 0; c < CEPSTRA; c++) k = cepstrum(w.cep, c, n, out, k);
  for (let b0 = 0; b0 < MEL_BANDS; b0 += 4) {
    let s = 0;
    for (let b = b0; b < b0 + 4; b++) s += n < 2 ? 0 : w.bandDabs[b] / (n - 1);
    out[k++] = s / 4;
  }
  k = track(w.loud, n, out, k);
  k = track(w.zcr, n, out, k);
  k = track(w.semitone, w.voicedCount, out, k);
  out[k++] = w.pairs ? w.jitter / w.pairs : 0;
  out[k++] = w.pairs ? w.shimmer / w.pairs : 0;
  out[k++] = w.voicedCount / n;
  out[k++] = w.voicingSum / n;
  out[k++] = w.onsets / Math.max(n / FRAMES_PER_SECOND, 0.1);
  out[k++] = n / FRAMES_PER_SECOND;
  const bandMean = w.balanceMean;
  let overall = 0;
  let low = 0;
  let high = 0;
  for (let b = 0; b < MEL_BANDS; b++) overall += bandMean[b];
  for (let b = 0; b < 14; b++) low += bandMean[b];
  for (let b = 26; b < MEL_BANDS; b++) high += bandMean[b];
  overall /= MEL_BANDS;
  out[k++] = low / 14 - high / (MEL_BANDS - 26);
  let slope = 0;
  for (let b = 0; b < MEL_BANDS; b++) slope += (bandMean[b] - overall) * BANDS[b];
  out[k++] = slope / BANDS_SQ;
  let slopeSum = 0;
  for (let i = 0; i < slopes; i++) slopeSum += w.slope[i];
  const slopeMean = slopeSum / slopes;
  let slopeSq = 0;
  for (let i = 0; i < slopes; i++) slopeSq += (w.slope[i] - slopeMean) ** 2;
  out[k] = Math.sqrt(slopeSq / slopes);
  return out;
}
