// Float32 real FFT -> power spectrum.
//
// A real frame of N samples is packed as N/2 complex points z[n] = x[2n] + i x[2n+1] (in
// bit-reversed order by the caller), transformed by an iterative radix-2 decimation-in-time
// complex FFT on split re/im arrays, and unpacked with the standard real-FFT split
// X[k] = E[k] + W^k O[k] (e.g. Oppenheim & Schafer, or FFTW's r2c). Twiddles are computed
// once in f64 and stored as f32. With SIMD, stages whose butterfly span is >= 4 run four
// butterflies per instruction.
import { alloc } from './tables';

export class Fft32 {
  n: i32; // real size N
  m: i32; // complex size M = N/2
  re: usize; // f32[M]
  im: usize; // f32[M]
  twRe: usize; // f32[M]: for a stage of half-span h, twiddle j at index h + j = exp(-2 pi i j / 2h)
  twIm: usize;
  spRe: usize; // f32[M+1]: cos(2 pi k / N)
  spIm: usize; // f32[M+1]: -sin(2 pi k / N)
}

export function createFft32(n: i32): Fft32 {
  const f = new Fft32();
  f.n = n;
  f.m = n >> 1;
  const m = f.m;
  f.re = alloc(m * 4);
  f.im = alloc(m * 4);
  f.twRe = alloc(m * 4);
  f.twIm = alloc(m * 4);
  for (let h = 1; h < m; h <<= 1) {
    for (let j = 0; j < h; j++) {
      const a = (-Math.PI * <f64>j) / <f64>h;
      store<f32>(f.twRe + (<usize>(h + j) << 2), <f32>Math.cos(a));
      store<f32>(f.twIm + (<usize>(h + j) << 2), <f32>Math.sin(a));
    }
  }
  f.spRe = alloc((m + 1) * 4);
  f.spIm = alloc((m + 1) * 4);
  for (let k = 0; k <= m; k++) {
    const a = (2.0 * Math.PI * <f64>k) / <f64>n;
    store<f32>(f.spRe + (<usize>k << 2), <f32>Math.cos(a));
    store<f32>(f.spIm + (<usize>k << 2), <f32>-Math.sin(a));
  }
  return f;
}

/** In-place complex FFT of f.re/f.im, input already in bit-reversed order. */
export function fft32(f: Fft32): void {
  const m = f.m;
  const re = f.re;
  const im = f.im;
  // Stages h = 1 and h = 2 fused as one radix-4 pass (twiddles 1 and -i need no multiply).
  for (let i = 0; i < m; i += 4) {
    const p = <usize>i << 2;
    const a0r = load<f32>(re + p), a0i = load<f32>(im + p);
    const a1r = load<f32>(re + p + 4), a1i = load<f32>(im + p + 4);
    const a2r = load<f32>(re + p + 8), a2i = load<f32>(im + p + 8);
    const a3r = load<f32>(re + p + 12), a3i = load<f32>(im + p + 12);
    const b0r = a0r + a1r, b0i = a0i + a1i;
    const b1r = a0r - a1r, b1i = a0i - a1i;
    const b2r = a2r + a3r, b2i = a2i + a3i;
    const b3r = a2r - a3r, b3i = a2i - a3i;
    store<f32>(re + p, b0r + b2r);
    store<f32>(im + p, b0i + b2i);
    store<f32>(re + p + 8, b0r - b2r);
    store<f32>(im + p + 8, b0i - b2i);
    // -i * b3 = (b3i, -b3r)
    store<f32>(re + p + 4, b1r + b3i);
    store<f32>(im + p + 4, b1i - b3r);
    store<f32>(re + p + 12, b1r - b3i);
    store<f32>(im + p + 12, b1i + b3r);
  }
  for (let h = 4; h < m; h <<= 1) {
    const tr = f.twRe + (<usize>h << 2);
    const ti = f.twIm + (<usize>h << 2);
    const hb = <usize>h << 2;
    for (let g = 0; g < m; g += h << 1) {
      const ga = <usize>g << 2;
      if (ASC_FEATURE_SIMD) {
        for (let j: usize = 0; j < hb; j += 16) {
          const ar = v128.load(re + ga + j), ai = v128.load(im + ga + j);
          const br = v128.load(re + ga + hb + j), bi = v128.load(im + ga + hb + j);
          const wr = v128.load(tr + j), wi = v128.load(ti + j);
          const xr = f32x4.sub(f32x4.mul(br, wr), f32x4.mul(bi, wi));
          const xi = f32x4.add(f32x4.mul(br, wi), f32x4.mul(bi, wr));
          v128.store(re + ga + j, f32x4.add(ar, xr));
          v128.store(im + ga + j, f32x4.add(ai, xi));
          v128.store(re + ga + hb + j, f32x4.sub(ar, xr));
          v128.store(im + ga + hb + j, f32x4.sub(ai, xi));
        }
      } else {
        for (let j: usize = 0; j < hb; j += 4) {
          const ar = load<f32>(re + ga + j), ai = load<f32>(im + ga + j);
          const br = load<f32>(re + ga + hb + j), bi = load<f32>(im + ga + hb + j);
          const wr = load<f32>(tr + j), wi = load<f32>(ti + j);
          const xr = br * wr - bi * wi;
          const xi = br * wi + bi * wr;
          store<f32>(re + ga + j, ar + xr);
          store<f32>(im + ga + j, ai + xi);
          store<f32>(re + ga + hb + j, ar - xr);
          store<f32>(im + ga + hb + j, ai - xi);
        }
      }
    }
  }
}

/** Unpacks the N/2-point complex FFT into the power spectrum |X[k]|^2, k = 0..N/2, into `power`. */
export function powerSpectrum32(f: Fft32, power: usize): void {
  const m = f.m;
  const re = f.re;
  const im = f.im;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    splitScalar32(f, power, 0);
    // four bins k..k+3 per step; their partners M-k..M-k-3 are one load, lanes reversed
    const half = f32x4.splat(0.5);
    for (k = 1; k + 4 <= m; k += 4) {
      const kb = <usize>(m - k - 3) << 2;
      const a = v128.load(re + (<usize>k << 2)), b = v128.load(im + (<usize>k << 2));
      const c0 = v128.load(re + kb), d0 = v128.load(im + kb);
      const c = v128.shuffle<f32>(c0, c0, 3, 2, 1, 0), d = v128.shuffle<f32>(d0, d0, 3, 2, 1, 0);
      const er = f32x4.mul(f32x4.add(a, c), half), ei = f32x4.mul(f32x4.sub(b, d), half);
      const or = f32x4.mul(f32x4.add(b, d), half), oi = f32x4.mul(f32x4.sub(c, a), half);
      const wr = v128.load(f.spRe + (<usize>k << 2)), wi = v128.load(f.spIm + (<usize>k << 2));
      const xr = f32x4.add(er, f32x4.sub(f32x4.mul(wr, or), f32x4.mul(wi, oi)));
      const xi = f32x4.add(ei, f32x4.add(f32x4.mul(wr, oi), f32x4.mul(wi, or)));
      v128.store(power + (<usize>k << 2), f32x4.add(f32x4.mul(xr, xr), f32x4.mul(xi, xi)));
    }
  }
  for (; k <= m; k++) splitScalar32(f, power, k);
}

// @ts-ignore: decorator
@inline function splitScalar32(f: Fft32, power: usize, k: i32): void {
  const m = f.m;
  const ka = <usize>(k == m ? 0 : k) << 2;
  const kb = <usize>(k == 0 ? 0 : m - k) << 2;
  const a = load<f32>(f.re + ka), b = load<f32>(f.im + ka);
  const c = load<f32>(f.re + kb), d = load<f32>(f.im + kb);
  // E = (Z[k] + conj Z[M-k]) / 2, O = -i (Z[k] - conj Z[M-k]) / 2
  const er = (a + c) * 0.5, ei = (b - d) * 0.5;
  const or = (b + d) * 0.5, oi = (c - a) * 0.5;
  const wr = load<f32>(f.spRe + (<usize>k << 2)), wi = load<f32>(f.spIm + (<usize>k << 2));
  const xr = er + wr * or - wi * oi;
  const xi = ei + wr * oi + wi * or;
  store<f32>(power + (<usize>k << 2), xr * xr + xi * xi);
}
