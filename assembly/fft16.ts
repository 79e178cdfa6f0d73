// Fixed-point real FFT -> power spectrum, for boards without fast float.
//
// Data are int16 in Q15, twiddles Q15 (cos 1 stored as 32767), products rounded as
// (a*b + 2^14) >> 15 (the i16x8.q15mulr_sat_s instruction). Block floating point keeps loud
// input from overflowing: a radix-2 butterfly can grow a component by 1 + sqrt(2) < 2^1.3, so
// every stage starts with all |values| < 2^13; when the previous stage's output reached 2^13 the
// whole block is shifted right (by 1 or 2) as it is loaded, and the shift is added to the
// block exponent. The caller normalises each frame into [2^12, 2^13) first, so quiet frames use
// the full precision. Power and mel sums are then taken in i64 (Q31 and wider).
import { alloc } from './tables';

export class Fft16 {
  n: i32;
  m: i32;
  re: usize; // i16[M]
  im: usize; // i16[M]
  twRe: usize; // i16[M], same layout as Fft32
  twIm: usize;
  spRe: usize; // i32[M+1] Q15 cos(2 pi k/N)
  spIm: usize; // i32[M+1] Q15 -sin(2 pi k/N)
  exponent: i32; // right shifts applied inside the FFT (block exponent)
}

function q15(v: f64): i32 {
  const r = <i32>Math.round(v * 32768.0);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

export function createFft16(n: i32): Fft16 {
  const f = new Fft16();
  f.n = n;
  f.m = n >> 1;
  const m = f.m;
  f.re = alloc(m * 2);
  f.im = alloc(m * 2);
  f.twRe = alloc(m * 2);
  f.twIm = alloc(m * 2);
  for (let h = 1; h < m; h <<= 1) {
    for (let j = 0; j < h; j++) {
      const a = (-Math.PI * <f64>j) / <f64>h;
      store<i16>(f.twRe + (<usize>(h + j) << 1), <i16>q15(Math.cos(a)));
      store<i16>(f.twIm + (<usize>(h + j) << 1), <i16>q15(Math.sin(a)));
    }
  }
  f.spRe = alloc((m + 1) * 4);
  f.spIm = alloc((m + 1) * 4);
  for (let k = 0; k <= m; k++) {
    const a = (2.0 * Math.PI * <f64>k) / <f64>n;
    store<i32>(f.spRe + (<usize>k << 2), q15(Math.cos(a)));
    store<i32>(f.spIm + (<usize>k << 2), q15(-Math.sin(a)));
  }
  return f;
}

// @ts-ignore: decorator
@inline function mulq15(a: i32, b: i32): i32 {
  return (a * b + 0x4000) >> 15;
}

/** Shift that brings a block whose max |value| is `mx` below 2^13. */
// @ts-ignore: decorator
@inline function headroomShift(mx: i32): i32 {
  return mx >= 0x4000 ? 2 : mx >= 0x2000 ? 1 : 0;
}

function abs32(v: i32): i32 {
  return v < 0 ? -v : v;
}

/** One radix-2 stage of half-span h, scalar; returns max |output|. */
function stageScalar(f: Fft16, h: i32, shift: i32): i32 {
  const m = f.m;
  let mx = 0;
  for (let g = 0; g < m; g += h << 1) {
    for (let j = 0; j < h; j++) {
      const pa = <usize>(g + j) << 1;
      const pb = <usize>(g + j + h) << 1;
      const ar = <i32>load<i16>(f.re + pa) >> shift, ai = <i32>load<i16>(f.im + pa) >> shift;
      const br = <i32>load<i16>(f.re + pb) >> shift, bi = <i32>load<i16>(f.im + pb) >> shift;
      const wr = <i32>load<i16>(f.twRe + (<usize>(h + j) << 1)), wi = <i32>load<i16>(f.twIm + (<usize>(h + j) << 1));
      const xr = mulq15(br, wr) - mulq15(bi, wi);
      const xi = mulq15(br, wi) + mulq15(bi, wr);
      const o0 = ar + xr, o1 = ai + xi, o2 = ar - xr, o3 = ai - xi;
      store<i16>(f.re + pa, <i16>o0);
      store<i16>(f.im + pa, <i16>o1);
      store<i16>(f.re + pb, <i16>o2);
      store<i16>(f.im + pb, <i16>o3);
      mx = max(mx, max(max(abs32(o0), abs32(o1)), max(abs32(o2), abs32(o3))));
    }
  }
  return mx;
}

/** One radix-2 stage of half-span h >= 8 with eight butterflies per instruction. */
function stageSimd(f: Fft16, h: i32, shift: i32): i32 {
  const m = f.m;
  const hb = <usize>h << 1;
  const tr = f.twRe + hb;
  const ti = f.twIm + hb;
  let vmax = i16x8.splat(0);
  for (let g = 0; g < m; g += h << 1) {
    const ga = <usize>g << 1;
    for (let j: usize = 0; j < hb; j += 16) {
      let ar = v128.load(f.re + ga + j), ai = v128.load(f.im + ga + j);
      let br = v128.load(f.re + ga + hb + j), bi = v128.load(f.im + ga + hb + j);
      if (shift) {
        ar = i16x8.shr_s(ar, shift);
        ai = i16x8.shr_s(ai, shift);
        br = i16x8.shr_s(br, shift);
        bi = i16x8.shr_s(bi, shift);
      }
      const wr = v128.load(tr + j), wi = v128.load(ti + j);
      const xr = i16x8.sub(i16x8.q15mulr_sat_s(br, wr), i16x8.q15mulr_sat_s(bi, wi));
      const xi = i16x8.add(i16x8.q15mulr_sat_s(br, wi), i16x8.q15mulr_sat_s(bi, wr));
      const o0 = i16x8.add(ar, xr), o1 = i16x8.add(ai, xi);
      const o2 = i16x8.sub(ar, xr), o3 = i16x8.sub(ai, xi);
      v128.store(f.re + ga + j, o0);
      v128.store(f.im + ga + j, o1);
      v128.store(f.re + ga + hb + j, o2);
      v128.store(f.im + ga + hb + j, o3);
      vmax = i16x8.max_s(vmax, i16x8.max_s(i16x8.max_s(i16x8.abs(o0), i16x8.abs(o1)), i16x8.max_s(i16x8.abs(o2), i16x8.abs(o3))));
    }
  }
  // horizontal max of the eight lanes (lane indices must be constants)
  const a = max(<i32>i16x8.extract_lane_s(vmax, 0), <i32>i16x8.extract_lane_s(vmax, 1));
  const b = max(<i32>i16x8.extract_lane_s(vmax, 2), <i32>i16x8.extract_lane_s(vmax, 3));
  const c = max(<i32>i16x8.extract_lane_s(vmax, 4), <i32>i16x8.extract_lane_s(vmax, 5));
  const d = max(<i32>i16x8.extract_lane_s(vmax, 6), <i32>i16x8.extract_lane_s(vmax, 7));
  return max(max(a, b), max(c, d));
}

/**
 * In-place complex FFT of f.re/f.im (bit-reversed input, every |value| < 2^13). Sets f.exponent
 * to the number of right shifts applied, so Z_true = Z * 2^exponent.
 */
export function fft16(f: Fft16): void {
  const m = f.m;
  let exponent = 0;
  let shift = 0;
  for (let h = 1; h < m; h <<= 1) {
    const mx = ASC_FEATURE_SIMD && h >= 8 ? stageSimd(f, h, shift) : stageScalar(f, h, shift);
    exponent += shift;
    shift = headroomShift(mx);
  }
  if (shift) {
    // keep the output below 2^13 too, so the real-FFT split below stays in range
    for (let i = 0; i < m; i++) {
      const p = <usize>i << 1;
      store<i16>(f.re + p, <i16>(<i32>load<i16>(f.re + p) >> shift));
      store<i16>(f.im + p, <i16>(<i32>load<i16>(f.im + p) >> shift));
    }
    exponent += shift;
  }
  f.exponent = exponent;
}

/**
 * Real-FFT split and power in integers: P[k] = 4 |X[k]|^2 in the block's scale (the factor 4
 * because E and O are kept doubled to avoid rounding), as i64[M+1].
 */
export function powerSpectrum16(f: Fft16, power: usize): void {
  const m = f.m;
  for (let k = 0; k <= m; k++) {
    const ka = <usize>(k == m ? 0 : k) << 1;
    const kb = <usize>(k == 0 ? 0 : m - k) << 1;
    const a = <i32>load<i16>(f.re + ka), b = <i32>load<i16>(f.im + ka);
    const c = <i32>load<i16>(f.re + kb), d = <i32>load<i16>(f.im + kb);
    const er = a + c, ei = b - d, or = b + d, oi = c - a; // 2E, 2O
    const wr = load<i32>(f.spRe + (<usize>k << 2)), wi = load<i32>(f.spIm + (<usize>k << 2));
    const xr = <i64>(er + mulq15(wr, or) - mulq15(wi, oi));
    const xi = <i64>(ei + mulq15(wr, oi) + mulq15(wi, or));
    store<i64>(power + (<usize>k << 3), xr * xr + xi * xi);
  }
}
