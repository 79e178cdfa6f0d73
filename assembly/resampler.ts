// Streaming polyphase resampler: a Kaiser-windowed sinc low-pass evaluated at every phase the
// rational ratio from/to = M/L can produce, computed once in init() and then applied as one
// SIMD dot product per output sample. One WASM instance holds one stream.
//
// Time base (why outputs are time-aligned with inputs): output j sits at time j/to, i.e. at the
// fractional input position p_j = j*M/L (input samples). It is computed as the zero-phase sum
//   y[j] = sum_k x[k] * h(p_j - k),  k in (p_j - H, p_j + H]
// so the filter's group delay is removed by construction: a click at input time t comes out at
// output time t. The price is H input samples of look-ahead (the stream's latency). Samples
// before the stream's start and after flush() are taken as zero.
//
// Memory: the stub runtime's bump allocator; the table is allocated once, the input history and
// the output block grow geometrically when a caller hands in a larger chunk than before.

/** Input step per output, as the reduced fraction M/L (from/to): whole part and remainder. */
let M: i32 = 1;
let L: i32 = 1;
let stepWhole: i32 = 1;
let stepRemainder: i32 = 0;
/** Half-width of the window in input samples (H); each phase row has 2H taps, 2H % 8 == 0. */
let half: i32 = 0;
let taps: i32 = 0;
/** L rows of `taps` f32 coefficients: row phi holds h(phi/L + H - 1 - i), i = 0..taps-1. */
let table: usize = 0;

/** Input history: buf[0..filled) are input samples; the next output is centred on buf[pos] + phase/L. */
let buf: usize = 0;
let bufCapacity: i32 = 0;
let filled: i32 = 0;
let pos: i32 = 0;
let phase: i32 = 0;
/** Output block handed back to JS (valid until the next call). */
let out: usize = 0;
let outCapacity: i32 = 0;
/** Samples fed and produced since reset, to make flush() end at ceil(inputs * L / M) outputs. */
let inputTotal: i64 = 0;
let outputTotal: i64 = 0;

/** Modified Bessel function of the first kind, order 0, by its power series
 *  I0(x) = sum_k ((x/2)^k / k!)^2 (Abramowitz & Stegun 9.6.12); converges fast for the
 *  beta <= 12 a Kaiser window uses. */
function besselI0(x: f64): f64 {
  const q = (x * 0.5) * (x * 0.5);
  let term: f64 = 1.0;
  let sum: f64 = 1.0;
  for (let k: f64 = 1.0; k < 200.0; k += 1.0) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Kaiser-windowed ideal low-pass at offset u input samples (Oppenheim & Schafer, Discrete-Time
 *  Signal Processing 3rd ed., sec. 7.6): 2c*sinc(2cu) * I0(beta*sqrt(1-(u/H)^2)) / I0(beta),
 *  with c the cutoff in cycles per input sample. */
function kaiserSinc(u: f64, cutoff: f64, beta: f64, i0Beta: f64): f64 {
  const r = u / <f64>half;
  if (r <= -1.0 || r >= 1.0) return 0.0;
  const window = besselI0(beta * Math.sqrt(1.0 - r * r)) / i0Beta;
  const x = Math.PI * 2.0 * cutoff * u;
  const sinc = x == 0.0 ? 1.0 : Math.sin(x) / x;
  return 2.0 * cutoff * sinc * window;
}

/** Builds the filter table and empties the stream. The design (cutoff, H, beta) comes from the
 *  caller, which documents it; this only evaluates it. Returns the table size in bytes. */
export function init(m: i32, l: i32, halfTaps: i32, cutoff: f64, beta: f64): i32 {
  M = m;
  L = l;
  stepWhole = m / l;
  stepRemainder = m % l;
  half = halfTaps;
  taps = halfTaps * 2;
  const bytes = <usize>l * <usize>taps * 4;
  table = heap.alloc(bytes);
  const i0Beta = besselI0(beta);
  // h is even, so row L - phi is row phi reversed: compute rows 0 .. L/2, mirror the rest.
  for (let phi = 0; phi <= l >> 1; phi++) {
    const row = table + <usize>phi * <usize>taps * 4;
    const frac = <f64>phi / <f64>l;
    let sum: f64 = 0.0;
    for (let i = 0; i < taps; i++) {
      const h = kaiserSinc(frac + <f64>(half - 1 - i), cutoff, beta, i0Beta);
      store<f32>(row + (<usize>i << 2), <f32>h);
      sum += h;
    }
    // Normalise each row to unit DC gain so every fractional delay passes DC exactly; without it
    // the rows' gains differ by up to the stop-band ripple and modulate the signal at the phase rate.
    const scale = <f32>(1.0 / sum);
    for (let i = 0; i < taps; i++) store<f32>(row + (<usize>i << 2), load<f32>(row + (<usize>i << 2)) * scale);
    if (phi > 0) {
      const mirror = table + <usize>(l - phi) * <usize>taps * 4;
      for (let i = 0; i < taps; i++) store<f32>(mirror + (<usize>(taps - 1 - i) << 2), load<f32>(row + (<usize>i << 2)));
    }
  }
  bufCapacity = taps * 4 + 4096;
  buf = heap.alloc(<usize>bufCapacity << 2);
  outCapacity = 4096;
  out = heap.alloc(<usize>outCapacity << 2);
  reset();
  return <i32>bytes;
}

/** Forgets all input: the next sample fed is time 0, preceded by H - 1 zeros of history. */
export function reset(): void {
  filled = half - 1;
  memory.fill(buf, 0, <usize>filled << 2);
  pos = half - 1;
  phase = 0;
  inputTotal = 0;
  outputTotal = 0;
}

/** Makes room for n more input samples and returns where JS must write them. May grow memory. */
export function reserve(n: i32): usize {
  if (filled + n > bufCapacity) {
    // Drop history no future output needs: the next output reads from buf[pos - H + 1].
    const drop = min(max(pos - half + 1, 0), filled);
    if (drop > 0) {
      memory.copy(buf, buf + (<usize>drop << 2), <usize>(filled - drop) << 2);
      filled -= drop;
      pos -= drop;
    }
    if (filled + n > bufCapacity) {
      bufCapacity = max(bufCapacity * 2, filled + n);
      buf = heap.realloc(buf, <usize>bufCapacity << 2);
    }
  }
  return buf + (<usize>filled << 2);
}

/** Address of the output block written by the last process() or flush(). */
export function outputPointer(): usize {
  return out;
}

/** Ensures the output block can hold every output the current history can produce. */
function reserveOutput(): void {
  const most = <i32>((<i64>(filled - pos + 1) * <i64>L) / <i64>M) + 2;
  if (most > outCapacity) {
    outCapacity = max(outCapacity * 2, most);
    out = heap.realloc(out, <usize>outCapacity << 2);
  }
}

/** Produces every output whose whole window lies in the history, up to `limit` outputs since reset. */
function produce(limit: i64): i32 {
  let p = pos;
  let ph = phase;
  let n = 0;
  const lastCentre = filled - 1 - half; // output centred at p needs buf[p - H + 1 .. p + H]
  const rowBytes = <usize>taps << 2;
  while (p <= lastCentre && outputTotal + <i64>n < limit) {
    const x = buf + (<usize>(p - half + 1) << 2);
    const c = table + <usize>ph * rowBytes;
    let acc0 = f32x4.splat(0.0);
    let acc1 = f32x4.splat(0.0);
    // Two accumulators break the add dependency chain; taps is a multiple of 8.
    for (let i: usize = 0; i < rowBytes; i += 32) {
      acc0 = f32x4.add(acc0, f32x4.mul(v128.load(x + i), v128.load(c + i)));
      acc1 = f32x4.add(acc1, f32x4.mul(v128.load(x + i, 16), v128.load(c + i, 16)));
    }
    const acc = f32x4.add(acc0, acc1);
    const y = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) +
      (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    store<f32>(out + (<usize>n << 2), y);
    n++;
    p += stepWhole;
    ph += stepRemainder;
    if (ph >= L) {
      ph -= L;
      p++;
    }
  }
  pos = p;
  phase = ph;
  outputTotal += <i64>n;
  return n;
}

/** Takes the n samples JS wrote at reserve(n)'s address; returns how many outputs are ready. */
export function process(n: i32): i32 {
  filled += n;
  inputTotal += <i64>n;
  reserveOutput();
  return produce(i64.MAX_VALUE);
}

/** Feeds H zeros after the last input and emits the remaining outputs, so the stream yields
 *  ceil(inputs * L / M) outputs in all (every output time j/to inside the input's span);
 *  then resets for a new stream. The output block stays valid until the next call. */
export function flush(): i32 {
  const total = (inputTotal * <i64>L + <i64>(M - 1)) / <i64>M;
  const zeros = reserve(half);
  memory.fill(zeros, 0, <usize>half << 2);
  filled += half;
  reserveOutput();
  const n = produce(total);
  reset();
  return n;
}
