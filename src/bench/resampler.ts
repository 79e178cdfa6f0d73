/**
 * How many times faster than real time the resampler converts each supported rate to 16 kHz,
 * fed in 20 ms chunks as a capture source delivers them. Called by `earshot bench`.
 */
import { Resampler, SUPPORTED_RATES } from '../runtime/frontend/resampler.ts';
import { MODEL_SAMPLE_RATE } from '../core/constants.ts';

export interface ResamplerBenchResult {
  /** input rate (Hz), converted to 16 kHz */
  from: number;
  /** seconds of audio converted per second of wall time */
  xRealtime: number;
  /** multiply-adds per output sample (2H taps) */
  taps: number;
  /** building the filter table (ms) */
  initMs: number;
}

/** Deterministic broadband test signal (xorshift32 white noise at -10 dBFS RMS-ish). */
function noise(length: number): Float32Array {
  const x = new Float32Array(length);
  let s = 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = ((s >>> 0) / 0xffffffff - 0.5) * 0.6;
  }
  return x;
}

/** Converts `seconds` of audio per rate (after one warm-up pass) and reports the speed. */
export function benchResampler(seconds: number, now: () => number = () => performance.now()): ResamplerBenchResult[] {
  const results: ResamplerBenchResult[] = [];
  for (const from of SUPPORTED_RATES) {
    if (from === MODEL_SAMPLE_RATE) continue; // identity: no work
    const t0 = now();
    const r = new Resampler(from, MODEL_SAMPLE_RATE);
    const initMs = now() - t0;
    const input = noise(Math.round(seconds * from));
    const chunk = Math.round(from * 0.02);
    const run = (): void => {
      for (let i = 0; i < input.length; i += chunk) r.process(input.subarray(i, Math.min(i + chunk, input.length)));
      r.flush();
    };
    run(); // warm-up: JIT, memory growth
    const t1 = now();
    run();
    const elapsed = (now() - t1) / 1000;
    results.push({ from, xRealtime: seconds / elapsed, taps: r.design!.halfTaps * 2, initMs });
  }
  return results;
}
