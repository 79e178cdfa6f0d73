// Fixed-point real FFT -> power spectrum, for boards without fast float.
//
// Data are int16 in Q15, twiddles Q15 (cos 1 stored as 32767), products rounded as
// (a*b + 2^14) >> 15 (the i16x8.q15mulr_sat_s instruction). Block floating point keeps loud
// input from overflowing: a radix-2 butterfly can grow a component by 1 + sqrt(2) < 2^1.3, so
// every stage starts with all |values| < 2^13; when the previous stage's output reached 2^13 the
// whole block is shifted right (by 1 or 2) as it is loaded, and the shift is added to the
// block exponent. The caller normalises each frame into [2^12, 2^13) first, so quiet frames use
// the full precision. The power spectrum fits a u32 (Q30 plus sign-free headroom) and the mel
// sums are taken in i64.
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

/**
 * Stages h = 1 and h = 2 fused as one radix-4 pass: the twiddles are 1 and -i, so no
 * multiplies. Input < 2^13; two stages can grow it to < 2^15, so the outputs are halved
 * (counted in the exponent by the caller) and come out below 2^14.
 */
function radix4First(f: Fft16): i32 {
  const m = f.m;
  let mx = 0;
  for (let i = 0; i < m; i += 4) {
    const p = <usize>i << 1;
    const a0r = <i32>load<i16>(f.re + p), a0i = <i32>load<i16>(f.im + p);
    const a1r = <i32>load<i16>(f.re + p + 2), a1i = <i32>load<i16>(f.im + p + 2);
    const a2r = <i32>load<i16>(f.re + p + 4), a2i = <i32>load<i16>(f.im + p + 4);
    const a3r = <i32>load<i16>(f.re + p + 6), a3i = <i32>load<i16>(f.im + p + 6);
    const b0r = a0r + a1r, b0i = a0i + a1i, b1r = a0r - a1r, b1i = a0i - a1i;
    const b2r = a2r + a3r, b2i = a2i + a3i, b3r = a2r - a3r, b3i = a2i - a3i;
    const o0r = (b0r + b2r) >> 1, o0i = (b0i + b2i) >> 1;
    const o2r = (b0r - b2r) >> 1, o2i = (b0i - b2i) >> 1;
    const o1r = (b1r + b3i) >> 1, o1i = (b1i - b3r) >> 1; // b1 + (-i) b3
    const o3r = (b1r - b3i) >> 1, o3i = (b1i + b3r) >> 1;
    store<i16>(f.re + p, <i16>o0r);
    store<i16>(f.im + p, <i16>o0i);
    store<i16>(f.re + p + 2, <i16>o1r);
    store<i16>(f.im + p + 2, <i16>o1i);
    store<i16>(f.re + p + 4, <i16>o2r);
    store<i16>(f.im + p + 4, <i16>o2i);
    store<i16>(f.re + p + 6, <i16>o3r);
    store<i16>(f.im + p + 6, <i16>o3i);
    mx = max(mx, max(max(max(abs32(o0r), abs32(o0i)), max(abs32(o1r), abs32(o1i))), max(max(abs32(o2r), abs32(o2i)), max(abs32(o3r), abs32(o3i)))));
  }
  return mx;
}

/**
 * The h = 4 stage with SIMD: two groups of 8 per pair of vectors, their a and b halves gathered
 * by lane shuffles, the butterflies done 8 at a time, and the halves shuffled back.
 */
function stage4Simd(f: Fft16, shift: i32): i32 {
  const m = f.m;
  const tw = f.twRe + 8; // twiddles of h = 4 at index 4..7
  const wr4 = v128.load64_zero(tw);
  const wi4 = v128.load64_zero(f.twIm + 8);
  const wr = v128.shuffle<i16>(wr4, wr4, 0, 1, 2, 3, 0, 1, 2, 3);
  const wi = v128.shuffle<i16>(wi4, wi4, 0, 1, 2, 3, 0, 1, 2, 3);
  let vmax = i16x8.splat(0);
  for (let g = 0; g < m; g += 16) {
    const p = <usize>g << 1;
    let r0 = v128.load(f.re + p), r1 = v128.load(f.re + p + 16);
    let i0 = v128.load(f.im + p), i1 = v128.load(f.im + p + 16);
    if (shift) {
      r0 = i16x8.shr_s(r0, shift);
      r1 = i16x8.shr_s(r1, shift);
      i0 = i16x8.shr_s(i0, shift);
      i1 = i16x8.shr_s(i1, shift);
    }
    const ar = v128.shuffle<i16>(r0, r1, 0, 1, 2, 3, 8, 9, 10, 11), br = v128.shuffle<i16>(r0, r1, 4, 5, 6, 7, 12, 13, 14, 15);
    const ai = v128.shuffle<i16>(i0, i1, 0, 1, 2, 3, 8, 9, 10, 11), bi = v128.shuffle<i16>(i0, i1, 4, 5, 6, 7, 12, 13, 14, 15);
    const xr = i16x8.sub(i16x8.q15mulr_sat_s(br, wr), i16x8.q15mulr_sat_s(bi, wi));
    const xi = i16x8.add(i16x8.q15mulr_sat_s(br, wi), i16x8.q15mulr_sat_s(bi, wr));
    const o0 = i16x8.add(ar, xr), o1 = i16x8.add(ai, xi);
    const o2 = i16x8.sub(ar, xr), o3 = i16x8.sub(ai, xi);
    v128.store(f.re + p, v128.shuffle<i16>(o0, o2, 0, 1, 2, 3, 8, 9, 10, 11));
    v128.store(f.re + p + 16, v128.shuffle<i16>(o0, o2, 4, 5, 6, 7, 12, 13, 14, 15));
    v128.store(f.im + p, v128.shuffle<i16>(o1, o3, 0, 1, 2, 3, 8, 9, 10, 11));
    v128.store(f.im + p + 16, v128.shuffle<i16>(o1, o3, 4, 5, 6, 7, 12, 13, 14, 15));
    vmax = i16x8.max_s(vmax, i16x8.max_s(i16x8.max_s(i16x8.abs(o0), i16x8.abs(o1)), i16x8.max_s(i16x8.abs(o2), i16x8.abs(o3))));
  }
  return hmax(vmax);
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
  return hmax(vmax);
}

/** Horizontal max of eight i16 lanes (lane indices must be constants). */
// @ts-ignore: decorator
@inline function hmax(vmax: v128): i32 {
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
  let exponent = 1; // radix4First halves its output
  let shift = headroomShift(radix4First(f));
  for (let h = 4; h < m; h <<= 1) {
    const mx = ASC_FEATURE_SIMD ? (h >= 8 ? stageSimd(f, h, shift) : stage4Simd(f, shift)) : stageScalar(f, h, shift);
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
 * because E and O are kept doubled to avoid rounding), as u32[M+1].
 */
export function powerSpectrum16(f: Fft16, power: usize): void {
  const m = f.m;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    splitScalar16(f, power, 0);
    // four bins per step in i32 lanes; partners M-k..M-k-3 loaded once, lanes reversed
    const round = i32x4.splat(0x4000);
    for (k = 1; k + 4 <= m; k += 4) {
      const kb = <usize>(m - k - 3) << 1;
      const a = v128.load16x4_s(f.re + (<usize>k << 1)), b = v128.load16x4_s(f.im + (<usize>k << 1));
      const c0 = v128.load16x4_s(f.re + kb), d0 = v128.load16x4_s(f.im + kb);
      const c = v128.shuffle<i32>(c0, c0, 3, 2, 1, 0), d = v128.shuffle<i32>(d0, d0, 3, 2, 1, 0);
      const er = i32x4.add(a, c), ei = i32x4.sub(b, d), or = i32x4.add(b, d), oi = i32x4.sub(c, a);
      const wr = v128.load(f.spRe + (<usize>k << 2)), wi = v128.load(f.spIm + (<usize>k << 2));
      const wror = i32x4.shr_s(i32x4.add(i32x4.mul(wr, or), round), 15);
      const wioi = i32x4.shr_s(i32x4.add(i32x4.mul(wi, oi), round), 15);
      const wroi = i32x4.shr_s(i32x4.add(i32x4.mul(wr, oi), round), 15);
      const wior = i32x4.shr_s(i32x4.add(i32x4.mul(wi, or), round), 15);
      const xr = i32x4.sub(i32x4.add(er, wror), wioi);
      const xi = i32x4.add(i32x4.add(ei, wroi), wior);
      v128.store(power + (<usize>k << 2), i32x4.add(i32x4.mul(xr, xr), i32x4.mul(xi, xi)));
    }
  }
  for (; k <= m; k++) splitScalar16(f, power, k);
}

// @ts-ignore: decorator
@inline function splitScalar16(f: Fft16, power: usize, k: i32): void {
  const m = f.m;
  const ka = <usize>(k == m ? 0 : k) << 1;
  const kb = <usize>(k == 0 ? 0 : m - k) << 1;
  const a = <i32>load<i16>(f.re + ka), b = <i32>load<i16>(f.im + ka);
  const c = <i32>load<i16>(f.re + kb), d = <i32>load<i16>(f.im + kb);
  const er = a + c, ei = b - d, or = b + d, oi = c - a; // 2E, 2O
  const wr = load<i32>(f.spRe + (<usize>k << 2)), wi = load<i32>(f.spIm + (<usize>k << 2));
  // |values| < 2^13 on output, so |xr|, |xi| < 2^15 and the power fits a u32
  const xr = er + mulq15(wr, or) - mulq15(wi, oi);
  const xi = ei + mulq15(wr, oi) + mulq15(wi, or);
  store<u32>(power + (<usize>k << 2), <u32>(xr * xr) + <u32>(xi * xi));
}
