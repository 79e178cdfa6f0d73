// Tables computed once at init: window, mel filterbank (sparse), DCT-II matrix, bit reversal,
// log2 interpolation table. Every table lives in linear memory allocated from the stub runtime's
// bump allocator; a frontend instance never frees (one WASM instance per frontend).

/** Allocates `bytes` zeroed bytes, 16-byte aligned (v128 loads need no alignment, but it is faster). */
export function alloc(bytes: i32): usize {
  const p = heap.alloc(<usize>((bytes + 15) & ~15));
  memory.fill(p, 0, <usize>((bytes + 15) & ~15));
  return p;
}

export const WINDOW_NONE = 0;
export const WINDOW_HANN = 1;
export const WINDOW_HAMMING = 2;

/** Periodic window of length n (the DFT-even form, as torch.hann_window(periodic=True)). */
export function windowValue(kind: i32, j: i32, n: i32): f64 {
  const phase = (2.0 * Math.PI * <f64>j) / <f64>n;
  if (kind == WINDOW_HANN) return 0.5 - 0.5 * Math.cos(phase);
  // Hamming with alpha 0.54, beta 0.46 (torch.hamming_window defaults).
  if (kind == WINDOW_HAMMING) return 0.54 - 0.46 * Math.cos(phase);
  return 1.0;
}

// --- mel scales, as torchaudio.functional.melscale_fbanks (and librosa for "slaney") ---

/** HTK: m = 2595 log10(1 + f/700) (Young et al., The HTK Book). */
function hzToMelHtk(f: f64): f64 {
  return 2595.0 * Math.log10(1.0 + f / 700.0);
}
function melToHzHtk(m: f64): f64 {
  return 700.0 * (Math.pow(10.0, m / 2595.0) - 1.0);
}
// Slaney (Auditory Toolbox): linear 200/3 Hz per mel below 1 kHz, logarithmic above with
// 27 steps per factor 6.4 (librosa.core.convert.hz_to_mel, htk=False).
const SLANEY_F_SP: f64 = 200.0 / 3.0;
const SLANEY_MIN_LOG_HZ: f64 = 1000.0;
const SLANEY_MIN_LOG_MEL: f64 = 15.0; // = 1000 / F_SP
function slaneyLogStep(): f64 {
  return Math.log(6.4) / 27.0;
}
function hzToMelSlaney(f: f64): f64 {
  if (f < SLANEY_MIN_LOG_HZ) return f / SLANEY_F_SP;
  return SLANEY_MIN_LOG_MEL + Math.log(f / SLANEY_MIN_LOG_HZ) / slaneyLogStep();
}
function melToHzSlaney(m: f64): f64 {
  if (m < SLANEY_MIN_LOG_MEL) return m * SLANEY_F_SP;
  return SLANEY_MIN_LOG_HZ * Math.exp(slaneyLogStep() * (m - SLANEY_MIN_LOG_MEL));
}

/**
 * Sparse triangular mel filterbank. For band m: first bin melStart[m], melLen[m] bins, weights at
 * melWeights + melOffset[m]. Follows torchaudio melscale_fbanks: filter edges are mel-spaced
 * points converted back to Hz, slopes evaluated at the linear bin frequencies k*sr/nFft.
 */
export class MelBank {
  bands: i32;
  start: usize; // i32[bands]
  len: usize; // i32[bands]
  offset: usize; // i32[bands]
  weights: usize; // f32[total]
  total: i32;
}

export function buildMelBank(nBins: i32, bands: i32, fMin: f64, fMax: f64, sampleRate: f64, slaney: bool, norm: bool): MelBank {
  const mMin = slaney ? hzToMelSlaney(fMin) : hzToMelHtk(fMin);
  const mMax = slaney ? hzToMelSlaney(fMax) : hzToMelHtk(fMax);
  const pts = alloc((bands + 2) * 8);
  for (let i = 0; i < bands + 2; i++) {
    const m = mMin + ((mMax - mMin) * <f64>i) / <f64>(bands + 1);
    store<f64>(pts + (<usize>i << 3), slaney ? melToHzSlaney(m) : melToHzHtk(m));
  }
  // dense scratch for one band, then keep only the non-zero run
  const bank = new MelBank();
  bank.bands = bands;
  bank.start = alloc(bands * 4);
  bank.len = alloc(bands * 4);
  bank.offset = alloc(bands * 4);
  bank.weights = alloc(bands * nBins * 4); // upper bound; only `total` used
  let total = 0;
  const binHz = sampleRate / 2.0 / <f64>(nBins - 1); // all_freqs = linspace(0, sr/2, nBins)
  for (let m = 0; m < bands; m++) {
    const f0 = load<f64>(pts + (<usize>m << 3));
    const f1 = load<f64>(pts + (<usize>(m + 1) << 3));
    const f2 = load<f64>(pts + (<usize>(m + 2) << 3));
    const enorm = norm ? 2.0 / (f2 - f0) : 1.0; // Slaney: constant area per filter
    let first = -1;
    let last = -1;
    for (let k = 0; k < nBins; k++) {
      const f = binHz * <f64>k;
      const down = (f - f0) / (f1 - f0);
      const up = (f2 - f) / (f2 - f1);
      const w = Math.max(0.0, Math.min(down, up));
      if (w > 0.0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    const len = first < 0 ? 0 : last - first + 1;
    store<i32>(bank.start + (<usize>m << 2), first < 0 ? 0 : first);
    store<i32>(bank.len + (<usize>m << 2), len);
    store<i32>(bank.offset + (<usize>m << 2), total);
    for (let t = 0; t < len; t++) {
      const f = binHz * <f64>(first + t);
      const w = Math.max(0.0, Math.min((f - f0) / (f1 - f0), (f2 - f) / (f2 - f1)));
      store<f32>(bank.weights + (<usize>(total + t) << 2), <f32>(w * enorm));
    }
    total += len;
  }
  bank.total = total;
  return bank;
}

/**
 * Orthonormal DCT-II, rows k = 0..n-1 over m = 0..bands-1, each row padded to `stride` (zeros):
 * D[k][m] = sqrt(2/B) cos(pi/B (m + 0.5) k), row 0 scaled by 1/sqrt(2) (torchaudio create_dct
 * norm="ortho"). The lifter is folded in by the caller.
 */
export function dctValue(k: i32, m: i32, bands: i32): f64 {
  let v = Math.sqrt(2.0 / <f64>bands) * Math.cos((Math.PI / <f64>bands) * (<f64>m + 0.5) * <f64>k);
  if (k == 0) v *= Math.SQRT1_2;
  return v;
}

/** HTK/librosa cepstral lifter: 1 + (L/2) sin(pi n / L). */
export function lifterValue(n: i32, L: f64): f64 {
  return L > 0.0 ? 1.0 + (L / 2.0) * Math.sin((Math.PI * <f64>n) / L) : 1.0;
}

/** Bit-reversal permutation of log2(n) bits, as i32[n]. */
export function buildBitReverse(n: i32): usize {
  const t = alloc(n * 4);
  let bits = 0;
  while ((1 << bits) < n) bits++;
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
    store<i32>(t + (<usize>i << 2), r);
  }
  return t;
}
