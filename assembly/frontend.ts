// The earshot feature frontend, whole blocks of frames per call.
//
// JS writes raw samples (f32 in [-1, 1]) into the input area and calls push(n); the kernel
// appends them to its signal buffer and computes every complete frame: pre-emphasis, periodic
// window, real FFT, power, optional noise suppression, sparse mel filterbank, log, orthonormal
// DCT-II with lifter, then the extras of the raw frame (RMS, ZCR, F0 and voicing, see pitch.ts).
// Frame i starts at sample i*hop (no centring). Deltas are applied by the caller, which sees
// whole rows. The float path and the Q15 path share the framing and tables; which one runs is
// fixed at init.
import { alloc, buildBitReverse, buildMelBank, dctValue, lifterValue, MelBank, windowValue } from './tables';
import { createFft32, fft32, Fft32, powerSpectrum32 } from './fft32';
import { createFft16, fft16, Fft16, powerSpectrum16 } from './fft16';
import { createPitch, pitch, Pitch } from './pitch';

// Extras arrive packed in one i32, four bits per slot (slot k in bits 4k..4k+3, in output order);
// the first zero slot ends the list. src/runtime/frontend/frontend.ts packs them.
const EXTRA_RMS = 1;
const EXTRA_ZCR = 2;
const EXTRA_F0 = 3;
const EXTRA_VOICING = 4;
const EXTRA_SLOTS = 4;
const NOISE_OFF = 0;
const NOISE_SUBTRACT = 1;
const NOISE_GATE = 2;

// Noise tracking (per power bin), in the spirit of the TensorFlow Lite Micro audio frontend's
// noise_reduction: the estimate follows a falling spectrum quickly and a rising one slowly, so
// speech bursts barely lift it while a fan's steady floor is learnt in ~2 s (100 frames/s).
const NOISE_RISE: f32 = 0.005; // per-frame smoothing when power > estimate (~200 frames)
const NOISE_FALL: f32 = 0.1; // per-frame smoothing when power < estimate (~10 frames)
const NOISE_FLOOR: f32 = 0.05; // keep at least 5% of a bin's power (TFLM min_signal_remaining)
const GATE_RATIO: f32 = 4.0; // gate: pass bins at least 6 dB above the noise estimate

let frameLength = 0;
let hop = 0;
let nBins = 0;
let windowKind = 0;
let preEmph: f32 = 0;
let melBands = 0;
let melPad = 0; // melBands rounded up to 8 (one i16x8 / two f32x4 vectors)
let nMfcc = 0;
let logDb = false;
let logFloor: f64 = 0;
let extras = 0; // packed extra codes, see EXTRA_SLOTS
let nExtras = 0;
let noiseMode = 0;
let q15 = false;
let rowLen = 0; // floats per output row
let maxFrames = 0;

let win: usize = 0; // f32[frameLength] window (or i16 Q15 for the fixed path)
let rev: usize = 0; // i32[M] bit reversal
let power: usize = 0; // f32[M+1] (f32 path) or u32[M+1] (Q15 path)
let noise: usize = 0; // f32[M+1] noise estimate
let noiseInit = false;
let mel: usize = 0; // f32[melPad] log-mel of the current frame (i16 Q for the fixed DCT)
let dct: usize = 0; // f32[nMfcc*melPad] (lifter folded in), or i16 Q15 for the fixed path
let lift: usize = 0; // f32[nMfcc] lifter, applied after the fixed DCT
let bank: MelBank = changetype<MelBank>(0);
let f32fft: Fft32 = changetype<Fft32>(0);
let f16fft: Fft16 = changetype<Fft16>(0);
let pitchState: Pitch = changetype<Pitch>(0); // only when f0 or voicing is an extra

let input: usize = 0; // f32[inputCap] where JS writes new samples
let inputCap = 0;
let sig: usize = 0; // f32 or i16 [1 + sigCap]: sig[0] is the sample before the first unconsumed one
let sigLen = 0;
let out: usize = 0; // f32[maxFrames * rowLen]

// Fixed path constants
let melBandOffset: usize = 0; // i32[melBands] Q16: -ln(G_m) - 32 ln 2, see logMelQ15
let melWeights16: usize = 0; // i16[total] weights scaled per band to peak 32767
let log2Table: usize = 0; // i32[257] log2(1 + i/256) in Q16
let logQ = 8; // fractional bits of the log-mel fed to the fixed DCT (8 for ln, 5 for dB)
const LN2_Q16: i64 = 45426; // round(ln 2 * 2^16)
const DB_PER_LN_Q16: i64 = 284619; // round(10 / ln 10 * 2^16)

export function init(
  aFrameLength: i32, aHop: i32, fftSize: i32, aWindow: i32, aPreEmph: f32,
  aMelBands: i32, melSlaney: bool, melNorm: bool, fMin: f64, fMax: f64, sampleRate: f64,
  aLogDb: bool, aLogFloor: f64, aMfcc: i32, lifter: f64, aExtras: i32,
  aNoise: i32, aQ15: bool, aMaxFrames: i32,
): void {
  frameLength = aFrameLength;
  hop = aHop;
  windowKind = aWindow;
  preEmph = aPreEmph;
  melBands = aMelBands;
  melPad = (aMelBands + 7) & ~7;
  nMfcc = aMfcc;
  logDb = aLogDb;
  logFloor = aLogFloor;
  extras = aExtras;
  nExtras = 0;
  let needPitch = false;
  for (; nExtras < EXTRA_SLOTS; nExtras++) {
    const kind = extraKind(nExtras);
    if (kind == 0) break;
    if (kind == EXTRA_F0 || kind == EXTRA_VOICING) needPitch = true;
  }
  noiseMode = aNoise;
  q15 = aQ15;
  maxFrames = aMaxFrames;
  nBins = (fftSize >> 1) + 1;
  rowLen = (nMfcc > 0 ? nMfcc : melBands) + nExtras;
  if (needPitch) pitchState = createPitch(frameLength, sampleRate);

  rev = buildBitReverse(fftSize >> 1);
  bank = buildMelBank(nBins, melBands, fMin, fMax, sampleRate, melSlaney, melNorm);
  noise = alloc(nBins * 4);
  lift = alloc(max(nMfcc, 1) * 4);
  for (let k = 0; k < nMfcc; k++) store<f32>(lift + (<usize>k << 2), <f32>lifterValue(k, lifter));
  if (q15) initFixed(fftSize);
  else initFloat(fftSize);

  inputCap = hop * maxFrames;
  input = alloc(inputCap * 4);
  sig = alloc((1 + frameLength + inputCap) * 4);
  sigLen = 0;
  out = alloc(maxFrames * rowLen * 4);
}

function initFloat(fftSize: i32): void {
  f32fft = createFft32(fftSize);
  win = alloc(frameLength * 4);
  for (let j = 0; j < frameLength; j++) store<f32>(win + (<usize>j << 2), <f32>windowValue(windowKind, j, frameLength));
  power = alloc(nBins * 4);
  mel = alloc(melPad * 4);
  dct = alloc(max(nMfcc, 1) * melPad * 4);
  for (let k = 0; k < nMfcc; k++) {
    for (let m = 0; m < melBands; m++) {
      store<f32>(dct + (<usize>(k * melPad + m) << 2), <f32>dctValue(k, m, melBands));
    }
  }
}

function initFixed(fftSize: i32): void {
  f16fft = createFft16(fftSize);
  win = alloc(frameLength * 2);
  for (let j = 0; j < frameLength; j++) {
    const w = <i32>Math.round(windowValue(windowKind, j, frameLength) * 32767.0);
    store<i16>(win + (<usize>j << 1), <i16>w);
  }
  power = alloc(max(nBins * 4, frameLength * 4 + 16)); // u32 power; also the i32 frame scratch
  mel = alloc(melPad * 2);
  dct = alloc(max(nMfcc, 1) * melPad * 2);
  for (let k = 0; k < nMfcc; k++) {
    for (let m = 0; m < melBands; m++) {
      store<i16>(dct + (<usize>(k * melPad + m) << 1), <i16>Math.round(dctValue(k, m, melBands) * 32767.0));
    }
  }
  logQ = logDb ? 5 : 8;
  // Per band: integer weights scaled so the band's peak is 32767 (Slaney-normalised weights
  // are ~0.002, far too small for Q15 as they are); the scale G_m comes back as a log offset.
  melWeights16 = alloc(bank.total * 2);
  melBandOffset = alloc(melBands * 4);
  for (let m = 0; m < melBands; m++) {
    const off = load<i32>(bank.offset + (<usize>m << 2));
    const len = load<i32>(bank.len + (<usize>m << 2));
    let peak: f64 = 0;
    for (let t = 0; t < len; t++) peak = Math.max(peak, <f64>load<f32>(bank.weights + (<usize>(off + t) << 2)));
    const g = peak > 0 ? 32767.0 / peak : 1.0;
    for (let t = 0; t < len; t++) {
      store<i16>(melWeights16 + (<usize>(off + t) << 1), <i16>Math.round(<f64>load<f32>(bank.weights + (<usize>(off + t) << 2)) * g));
    }
    // mel_true = acc * 2^(2E - 32) / G_m  (input Q15: 2^-30 on power, split doubled: 2^-2)
    store<i32>(melBandOffset + (<usize>m << 2), <i32>Math.round((-Math.log(g) - 32.0 * Math.LN2) * 65536.0));
  }
  log2Table = alloc(257 * 4);
  for (let i = 0; i <= 256; i++) store<i32>(log2Table + (<usize>i << 2), <i32>Math.round(Math.log2(1.0 + <f64>i / 256.0) * 65536.0));
}

export function inputPtr(): usize { return input; }
export function inputCapacity(): i32 { return inputCap; }
export function outputPtr(): usize { return out; }
export function rowLength(): i32 { return rowLen; }
export function pending(): i32 { return sigLen; }

/** Forgets buffered samples and the noise estimate (a new stream). */
export function reset(): void {
  sigLen = 0;
  noiseInit = false;
  if (q15) store<i16>(sig, 0);
  else store<f32>(sig, 0);
}

/** Appends n samples from the input area and computes every complete frame; returns the count. */
export function push(n: i32): i32 {
  if (q15) {
    const dst = sig + (<usize>(1 + sigLen) << 1);
    for (let i = 0; i < n; i++) {
      // f32 [-1, 1) -> Q15 with rounding and saturation
      let v = <i32>nearest<f32>(load<f32>(input + (<usize>i << 2)) * 32768.0);
      v = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      store<i16>(dst + (<usize>i << 1), <i16>v);
    }
  } else {
    memory.copy(sig + (<usize>(1 + sigLen) << 2), input, <usize>n << 2);
  }
  sigLen += n;
  let frames = 0;
  let pos = 0;
  while (pos + frameLength <= sigLen) {
    const row = out + (<usize>(frames * rowLen) << 2);
    if (q15) frameFixed(sig + (<usize>(1 + pos) << 1), row);
    else frameFloat(sig + (<usize>(1 + pos) << 2), row);
    frames++;
    pos += hop;
  }
  if (frames > 0) {
    // keep the sample before the next frame (pre-emphasis needs x[n-1]) and everything after
    const sz: usize = q15 ? 1 : 2;
    memory.copy(sig, sig + (<usize>pos << sz), <usize>(sigLen - pos + 1) << sz);
    sigLen -= pos;
  }
  return frames;
}

// ---------------------------------------------------------------------------- float path

function frameFloat(src: usize, row: usize): void {
  const f = f32fft;
  const m = f.m;
  const a = preEmph;
  // pre-emphasis + window, packed as complex pairs in bit-reversed order; zero past frameLength
  for (let i = 0; i < m; i++) {
    const j0 = i << 1;
    let x0: f32 = 0, x1: f32 = 0;
    if (j0 < frameLength) {
      const p = src + (<usize>j0 << 2);
      x0 = (load<f32>(p) - a * load<f32>(p - 4)) * load<f32>(win + (<usize>j0 << 2));
      if (j0 + 1 < frameLength) x1 = (load<f32>(p + 4) - a * load<f32>(p)) * load<f32>(win + (<usize>(j0 + 1) << 2));
    }
    const r = <usize>load<i32>(rev + (<usize>i << 2)) << 2;
    store<f32>(f.re + r, x0);
    store<f32>(f.im + r, x1);
  }
  fft32(f);
  powerSpectrum32(f, power);
  if (noiseMode != NOISE_OFF) suppressNoise();
  // sparse mel + log
  for (let b = 0; b < melBands; b++) {
    const s = load<i32>(bank.start + (<usize>b << 2));
    const len = load<i32>(bank.len + (<usize>b << 2));
    const w = bank.weights + (<usize>load<i32>(bank.offset + (<usize>b << 2)) << 2);
    const p = power + (<usize>s << 2);
    let acc: f32 = 0;
    for (let t = 0; t < len; t++) acc += load<f32>(w + (<usize>t << 2)) * load<f32>(p + (<usize>t << 2));
    const v = Mathf.max(acc, <f32>logFloor);
    store<f32>(mel + (<usize>b << 2), logDb ? 10.0 * Mathf.log10(v) : Mathf.log(v));
  }
  let col = 0;
  if (nMfcc > 0) {
    for (let k = 0; k < nMfcc; k++) {
      const d = dct + (<usize>(k * melPad) << 2);
      let acc: f32 = 0;
      if (ASC_FEATURE_SIMD) {
        let v = f32x4.splat(0);
        for (let i = 0; i < melPad; i += 4) v = f32x4.add(v, f32x4.mul(v128.load(mel + (<usize>i << 2)), v128.load(d + (<usize>i << 2))));
        acc = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
      } else {
        for (let i = 0; i < melBands; i++) acc += load<f32>(mel + (<usize>i << 2)) * load<f32>(d + (<usize>i << 2));
      }
      store<f32>(row + (<usize>k << 2), acc * load<f32>(lift + (<usize>k << 2)));
    }
    col = nMfcc;
  } else {
    memory.copy(row, mel, <usize>melBands << 2);
    col = melBands;
  }
  writeExtras<f32>(src, row + (<usize>col << 2), 1.0);
}

function extraKind(slot: i32): i32 {
  return (extras >> (slot << 2)) & 15;
}

/** The extras of the raw frame at src into out[0..nExtras), in config order; pitch runs once for f0 and voicing. */
function writeExtras<T>(src: usize, out: usize, scale: f64): void {
  let pitchDone = false;
  for (let k = 0; k < nExtras; k++) {
    const kind = extraKind(k);
    let v: f32;
    if (kind == EXTRA_F0 || kind == EXTRA_VOICING) {
      if (!pitchDone) pitch<T>(pitchState, src, scale);
      pitchDone = true;
      v = kind == EXTRA_F0 ? pitchState.f0 : pitchState.voicing;
    } else {
      v = extraOf<T>(kind, src, scale);
    }
    store<f32>(out + (<usize>k << 2), v);
  }
}

/**
 * RMS energy or zero-crossing rate of the raw frame (before pre-emphasis and window), for f32
 * samples (scale 1) or Q15 int16 samples (scale 1/32768). ZCR counts sign changes, zero counted
 * as positive, over frameLength.
 */
function extraOf<T>(kind: i32, src: usize, scale: f64): f32 {
  if (kind == EXTRA_RMS) {
    let s: f64 = 0; // exact for int16 input: 2048 * 2^30 < 2^53
    for (let j = 0; j < frameLength; j++) {
      const v = <f64>load<T>(src + (<usize>j << alignof<T>()));
      s += v * v;
    }
    return <f32>(Math.sqrt(s / <f64>frameLength) * scale);
  }
  let c = 0;
  let prev = load<T>(src) >= 0;
  for (let j = 1; j < frameLength; j++) {
    const cur = load<T>(src + (<usize>j << alignof<T>())) >= 0;
    if (cur != prev) c++;
    prev = cur;
  }
  return <f32>c / <f32>frameLength;
}

function suppressNoise(): void {
  if (!noiseInit) {
    memory.copy(noise, power, <usize>nBins << 2);
    noiseInit = true;
  }
  for (let k = 0; k < nBins; k++) {
    const pp = power + (<usize>k << 2);
    const np = noise + (<usize>k << 2);
    const p = load<f32>(pp);
    let n = load<f32>(np);
    n += (p > n ? NOISE_RISE : NOISE_FALL) * (p - n);
    store<f32>(np, n);
    if (noiseMode == NOISE_SUBTRACT) store<f32>(pp, Mathf.max(p - n, NOISE_FLOOR * p));
    else if (noiseMode == NOISE_GATE && p < GATE_RATIO * n) store<f32>(pp, NOISE_FLOOR * p);
  }
}

// ---------------------------------------------------------------------------- fixed path

function frameFixed(src: usize, row: usize): void {
  const f = f16fft;
  const m = f.m;
  const aq = <i32>nearest<f32>(preEmph * 32768.0);
  // pre-emphasis + window, kept in i32 (|e| < 2^16: a full-scale sign flip gives 1.97, which
  // int16 would clip), into a scratch frame; find the peak for the block normalisation
  const scratch = power; // sized for frameLength i32 values; the power spectrum comes later
  let peak = 0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    // four samples per step in i32 lanes: e = x - (a*x[n-1] + 2^14) >> 15, v = (e*w + 2^14) >> 15
    const av = i32x4.splat(aq);
    const round = i32x4.splat(0x4000);
    let vpeak = i32x4.splat(0);
    for (; j + 4 <= frameLength; j += 4) {
      const x = v128.load16x4_s(src + (<usize>j << 1));
      const xp = v128.load16x4_s(src + (<usize>(j - 1) << 1));
      const e = i32x4.sub(x, i32x4.shr_s(i32x4.add(i32x4.mul(av, xp), round), 15));
      const v = i32x4.shr_s(i32x4.add(i32x4.mul(e, v128.load16x4_s(win + (<usize>j << 1))), round), 15);
      v128.store(scratch + (<usize>j << 2), v);
      vpeak = i32x4.max_s(vpeak, i32x4.abs(v));
    }
    peak = max(max(i32x4.extract_lane(vpeak, 0), i32x4.extract_lane(vpeak, 1)), max(i32x4.extract_lane(vpeak, 2), i32x4.extract_lane(vpeak, 3)));
  }
  for (; j < frameLength; j++) {
    const x = <i32>load<i16>(src + (<usize>j << 1));
    const xp = <i32>load<i16>(src + (<usize>(j - 1) << 1));
    const e = x - ((aq * xp + 0x4000) >> 15);
    const v = (e * <i32>load<i16>(win + (<usize>j << 1)) + 0x4000) >> 15;
    store<i32>(scratch + (<usize>j << 2), v);
    peak = max(peak, v < 0 ? -v : v);
  }
  // block normalisation into [2^12, 2^13): quiet frames keep their precision
  const bits = 32 - <i32>clz<i32>(peak);
  const norm = peak == 0 ? 0 : 13 - bits; // left shift (negative = right)
  for (let i = 0; i < m; i++) {
    const j0 = i << 1;
    let x0 = 0, x1 = 0;
    if (j0 < frameLength) x0 = load<i32>(scratch + (<usize>j0 << 2));
    if (j0 + 1 < frameLength) x1 = load<i32>(scratch + (<usize>(j0 + 1) << 2));
    if (norm >= 0) {
      x0 <<= norm;
      x1 <<= norm;
    } else {
      x0 >>= -norm;
      x1 >>= -norm;
    }
    const r = <usize>load<i32>(rev + (<usize>i << 2)) << 1;
    store<i16>(f.re + r, <i16>x0);
    store<i16>(f.im + r, <i16>x1);
  }
  fft16(f);
  powerSpectrum16(f, power);
  const e = f.exponent - norm; // Z_true(Q15 input) = Z * 2^e
  // ln(mel) = ln(acc) + (2e - 32) ln 2 - ln G_m, all in Q16
  const frameOff = <i64>(2 * e) * LN2_Q16;
  const floorQ16 = <i64>Math.round(Math.log(logFloor) * 65536.0);
  const shiftOut = 16 - logQ;
  for (let b = 0; b < melBands; b++) {
    const s = load<i32>(bank.start + (<usize>b << 2));
    const len = load<i32>(bank.len + (<usize>b << 2));
    const w = melWeights16 + (<usize>load<i32>(bank.offset + (<usize>b << 2)) << 1);
    const p = power + (<usize>s << 2);
    let acc: i64 = 0;
    for (let t = 0; t < len; t++) acc += <i64>load<i16>(w + (<usize>t << 1)) * <i64>load<u32>(p + (<usize>t << 2));
    let lnQ16: i64 = acc > 0 ? ((<i64>log2Q16(acc) * LN2_Q16) >> 16) + frameOff + <i64>load<i32>(melBandOffset + (<usize>b << 2)) : floorQ16;
    if (lnQ16 < floorQ16) lnQ16 = floorQ16;
    const vQ16 = logDb ? (lnQ16 * DB_PER_LN_Q16) >> 16 : lnQ16;
    if (nMfcc > 0) {
      let q = <i32>(vQ16 >> shiftOut);
      q = q > 32767 ? 32767 : q < -32768 ? -32768 : q;
      store<i16>(mel + (<usize>b << 1), <i16>q);
    } else {
      store<f32>(row + (<usize>b << 2), <f32>(<f64>vQ16 / 65536.0));
    }
  }
  let col = melBands;
  if (nMfcc > 0) {
    const scale: f32 = 1.0 / <f32>(1 << (logQ + 15));
    for (let k = 0; k < nMfcc; k++) {
      const d = dct + (<usize>(k * melPad) << 1);
      let acc: i32 = 0;
      if (ASC_FEATURE_SIMD) {
        let v = i32x4.splat(0);
        for (let i = 0; i < melPad; i += 8) v = i32x4.add(v, i32x4.dot_i16x8_s(v128.load(mel + (<usize>i << 1)), v128.load(d + (<usize>i << 1))));
        acc = i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
      } else {
        for (let i = 0; i < melBands; i++) acc += <i32>load<i16>(mel + (<usize>i << 1)) * <i32>load<i16>(d + (<usize>i << 1));
      }
      store<f32>(row + (<usize>k << 2), <f32>acc * scale * load<f32>(lift + (<usize>k << 2)));
    }
    col = nMfcc;
  }
  writeExtras<i16>(src, row + (<usize>col << 2), 1.0 / 32768.0);
}

/** log2(x) in Q16 for x > 0: exponent from clz, mantissa from a 256-entry table, interpolated. */
function log2Q16(x: i64): i32 {
  const b = 63 - <i32>clz<i64>(x);
  // mantissa bits just below the leading one, as a 24-bit fraction
  const frac = <i32>(b >= 24 ? (x >> (b - 24)) & 0xffffff : (x << (24 - b)) & 0xffffff);
  const idx = frac >> 16;
  const t = frac & 0xffff;
  const lo = load<i32>(log2Table + (<usize>idx << 2));
  const hi = load<i32>(log2Table + (<usize>(idx + 1) << 2));
  return (b << 16) + lo + <i32>((<i64>(hi - lo) * <i64>t) >> 16);
}
