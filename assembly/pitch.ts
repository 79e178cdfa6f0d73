// Per-frame pitch: F0 (semitones re 100 Hz) and voicing (periodicity strength, 0..1) of the raw
// frame, by normalised cross-correlation over the lags of 70-500 Hz. The definition is item 8 of
// scripts/golden.py, whose float64 reference the golden tests compare against:
//   x = frame - mean(frame); E = sum x^2; below 1e-10 N the frame is silent: f0 = voicing = 0.
//   r(tau) = sum_{j<N-tau} x_j x_{j+tau} / sqrt(sum_{j<N-tau} x_j^2 * sum_{j<N-tau} x_{j+tau}^2)
//   for tau in [floor(sr/500), min(ceil(sr/70), floor(3N/4))] (at least N/4 samples of overlap;
//   the normalised cross-correlation function of RAPT, Talkin 1995), 0 when the denominator
//   is below 1e-6 E;
//   tau* = the shortest lag that is a local peak with r >= 0.9 max r (range ends count as peaks
//   only as the maximum): the shortest period wins over its multiples, so no octave-down errors
//   (the key-maximum rule of the McLeod Pitch Method, McLeod & Wyvill 2005, with k = 0.9);
//   parabolic interpolation of r around tau* gives the fractional period T;
//   f0 = 12 log2(sr / T / 100), voicing = max(0, r(tau*)).
// The cross-correlation sums are f32 dot products (f32x4 with SIMD); the energies are f64 prefix
// and suffix sums, so each overlap's energy is one lookup. Cost: about
// (tauMax - tauMin) * (N - (tauMin + tauMax) / 2) multiply-adds per frame (~53k at 16 kHz, N 400):
// measured ~0.65 ms per second of audio with SIMD, ~1.7 ms scalar (x86-64, Node 20), about three
// times the rest of a log-mel frontend.
import { alloc } from './tables';

const F_HIGH: f64 = 500.0; // Hz: shortest lag floor(sr / 500)
const F_LOW: f64 = 70.0; // Hz: longest lag ceil(sr / 70), capped at 3/4 of the frame
const PEAK_RATIO: f64 = 0.9; // the first peak within 10% of the best one wins
const SILENCE: f64 = 1e-10; // frame energy per sample (after DC removal) below which f0 = voicing = 0
const OVERLAP_FLOOR: f64 = 1e-12; // r = 0 when sum x_j^2 * sum x_{j+tau}^2 < 1e-12 E^2 (no energy to correlate)
const F0_REF_HZ: f64 = 100.0; // f0 is in semitones re 100 Hz

export class Pitch {
  n: i32; // frame length N
  rate: f64; // sample rate, Hz
  tauMin: i32;
  tauMax: i32;
  x: usize; // f32[N]: the frame, DC removed
  head: usize; // f64[N+1]: head[k] = sum_{j<k} x_j^2
  tail: usize; // f64[N+1]: tail[k] = sum_{j>=k} x_j^2
  r: usize; // f64[tauMax+1]: r(tau)
  f0: f32; // results of the last frame
  voicing: f32;
}

export function createPitch(n: i32, rate: f64): Pitch {
  const p = new Pitch();
  p.n = n;
  p.rate = rate;
  p.tauMin = <i32>Math.floor(rate / F_HIGH);
  p.tauMax = min(<i32>Math.ceil(rate / F_LOW), (3 * n) >> 2);
  p.x = alloc(n * 4);
  p.head = alloc((n + 1) * 8);
  p.tail = alloc((n + 1) * 8);
  p.r = alloc((max(p.tauMax, 0) + 1) * 8);
  return p;
}

/** F0 and voicing of the frame at src (T = f32 samples with scale 1, or i16 with scale 1/32768) into p.f0, p.voicing. */
export function pitch<T>(p: Pitch, src: usize, scale: f64): void {
  const n = p.n;
  p.f0 = 0;
  p.voicing = 0;
  let sum: f64 = 0;
  for (let j = 0; j < n; j++) sum += <f64>load<T>(src + (<usize>j << alignof<T>()));
  const mean = (sum * scale) / <f64>n;
  let e: f64 = 0;
  store<f64>(p.head, 0);
  for (let j = 0; j < n; j++) {
    const v = <f32>(<f64>load<T>(src + (<usize>j << alignof<T>())) * scale - mean);
    store<f32>(p.x + (<usize>j << 2), v);
    e += <f64>v * <f64>v;
    store<f64>(p.head + (<usize>(j + 1) << 3), e);
  }
  // the tail sums run backwards rather than as e - head[k]: no cancellation when the energy sits early
  let t: f64 = 0;
  store<f64>(p.tail + (<usize>n << 3), 0);
  for (let j = n - 1; j >= 0; j--) {
    const v = <f64>load<f32>(p.x + (<usize>j << 2));
    t += v * v;
    store<f64>(p.tail + (<usize>j << 3), t);
  }
  if (e < SILENCE * <f64>n || p.tauMax < p.tauMin) return;

  const floor = OVERLAP_FLOOR * e * e;
  let best: f64 = -Infinity;
  for (let tau = p.tauMin; tau <= p.tauMax; tau++) {
    const len = n - tau;
    const d = load<f64>(p.head + (<usize>len << 3)) * load<f64>(p.tail + (<usize>tau << 3));
    const r = d < floor ? 0 : <f64>dot(p.x, p.x + (<usize>tau << 2), len) / Math.sqrt(d);
    store<f64>(p.r + (<usize>tau << 3), r);
    best = max(best, r);
  }
  // best <= 0 only for frames with no correlation at any lag; then the maximum itself is taken
  const threshold = best > 0 ? PEAK_RATIO * best : best;
  let star = p.tauMin;
  for (let tau = p.tauMin; tau <= p.tauMax; tau++) {
    const r = load<f64>(p.r + (<usize>tau << 3));
    if (r < threshold) continue;
    const peak = tau == p.tauMin || tau == p.tauMax
      ? r == best
      : r >= load<f64>(p.r + (<usize>(tau - 1) << 3)) && r >= load<f64>(p.r + (<usize>(tau + 1) << 3));
    if (peak) {
      star = tau; // the maximum is a peak, so this is always reached
      break;
    }
  }
  const rs = load<f64>(p.r + (<usize>star << 3));
  let lag = <f64>star;
  if (star > p.tauMin && star < p.tauMax) {
    // vertex of the parabola through (tau*-1, tau*, tau*+1); a peak keeps it within half a lag
    const a = load<f64>(p.r + (<usize>(star - 1) << 3));
    const c = load<f64>(p.r + (<usize>(star + 1) << 3));
    const curve = a - 2.0 * rs + c;
    if (curve < 0) lag += (0.5 * (a - c)) / curve;
  }
  p.f0 = <f32>(12.0 * Math.log2(p.rate / lag / F0_REF_HZ));
  p.voicing = <f32>max(rs, 0.0);
}

/**
 * sum_{j<len} a[j] b[j] of two f32 arrays. Two independent accumulators (eight products per step
 * with SIMD, two lanes of four; four scalars without) so the adds do not wait on each other.
 */
function dot(a: usize, b: usize, len: i32): f32 {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    let v0 = f32x4.splat(0);
    let v1 = f32x4.splat(0);
    for (; j + 8 <= len; j += 8) {
      const p = <usize>j << 2;
      v0 = f32x4.add(v0, f32x4.mul(v128.load(a + p), v128.load(b + p)));
      v1 = f32x4.add(v1, f32x4.mul(v128.load(a + p, 16), v128.load(b + p, 16)));
    }
    if (j + 4 <= len) {
      v0 = f32x4.add(v0, f32x4.mul(v128.load(a + (<usize>j << 2)), v128.load(b + (<usize>j << 2))));
      j += 4;
    }
    const v = f32x4.add(v0, v1);
    let acc = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
    for (; j < len; j++) acc += load<f32>(a + (<usize>j << 2)) * load<f32>(b + (<usize>j << 2));
    return acc;
  }
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  for (; j + 4 <= len; j += 4) {
    const p = <usize>j << 2;
    s0 += load<f32>(a + p) * load<f32>(b + p);
    s1 += load<f32>(a + p, 4) * load<f32>(b + p, 4);
    s2 += load<f32>(a + p, 8) * load<f32>(b + p, 8);
    s3 += load<f32>(a + p, 12) * load<f32>(b + p, 12);
  }
  for (; j < len; j++) s0 += load<f32>(a + (<usize>j << 2)) * load<f32>(b + (<usize>j << 2));
  return (s0 + s1) + (s2 + s3);
}
