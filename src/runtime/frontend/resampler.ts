/**
 * Sample-rate conversion to the frontend's rate (16 kHz by default), streaming, in WASM
 * (assembly/resampler.ts). A polyphase Kaiser-windowed sinc: exact rational ratios (44100 -> 16000
 * is 441/160, TESS's 24414.0625 -> 16000 is 3125/2048), every phase's taps computed once when a
 * Resampler is built (0.2-40 ms; the 8000-phase table for 24414 Hz is the slow one).
 *
 * Filter specification, held for every supported rate by test/unit/resampler.test.ts:
 * - pass-band 0 .. 0.9 * min(from, to) / 2 (0 .. 7.2 kHz into 16 kHz), flat within
 *   +-PASSBAND_RIPPLE_DB (measured worst 0.00027 dB);
 * - stop-band from min(from, to) / 2 (8 kHz) upward, at least STOPBAND_DB down (measured worst
 *   89.9 dB, 25 Hz above the edge; 100+ dB an octave up), so nothing above 8 kHz aliases in;
 * - the 7.2-8 kHz transition band is partly kept, partly removed (-6 dB at 7.6 kHz).
 *
 * Time alignment: output sample j is the signal at time j / toRate, with the filter's delay
 * compensated (zero-phase), so a click at 0.5 s is at 0.5 s in the output. The stream therefore
 * looks ahead: `latencySamples` output samples stay inside until more input (or flush()) arrives.
 *
 * Hot path: process() copies the chunk into WASM memory once, makes one call, and returns a view
 * of the kernel's reused output block (the view object is the only allocation per call).
 */
import { EarshotError } from '../../core/errors.ts';
import { MODEL_SAMPLE_RATE } from '../../core/constants.ts';
import { instantiateKernel, type KernelExports } from './wasm.ts';

/** Input rates the resampler converts (Hz). 24414.0625 is TESS's native rate (25 MHz / 1024). */
export const SUPPORTED_RATES: readonly number[] = [8000, MODEL_SAMPLE_RATE, 22050, 24000, 24414, 24414.0625, 32000, 44100, 48000, 96000];

/** Kaiser design target; the window formulas below turn it into beta and a length. */
export const DESIGN_ATTENUATION_DB = 90;
/** Stop-band attenuation every supported rate meets (dB); the worst measured is 89.9 dB, just above the stop-band edge. */
export const STOPBAND_DB = 88;
/** Pass-band ripple bound the tests hold every supported rate to (dB, +-). */
export const PASSBAND_RIPPLE_DB = 0.001;
/** Pass-band edge as a fraction of the lower Nyquist frequency (0.9 * 8 kHz = 7.2 kHz). */
export const PASSBAND_FRACTION = 0.9;
/** Phase tables above this size (bytes) are refused: the pair needs a two-step conversion. */
const MAX_TABLE_BYTES = 16 << 20;

/** The low-pass behind one from -> to conversion. */
export interface ResamplerDesign {
  /** input step per output as the reduced fraction m / l = from / to */
  m: number;
  l: number;
  /** pass-band edge and stop-band edge (Hz) */
  passbandHz: number;
  stopbandHz: number;
  /** cut-off (-6 dB point) in cycles per input sample */
  cutoff: number;
  /** Kaiser shape parameter */
  beta: number;
  /** window half-width H in input samples; each output is a dot product of 2H taps */
  halfTaps: number;
}

/** A rate as an exact fraction num / den with den a power of two (24414.0625 = 390625 / 16). */
function rateFraction(rate: number): { num: number; den: number } {
  for (let den = 1; den <= 1024; den *= 2) {
    if (Number.isInteger(rate * den)) return { num: rate * den, den };
  }
  return { num: NaN, den: 1 }; // unreachable for SUPPORTED_RATES
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function rateError(rate: number, which: string): EarshotError {
  return new EarshotError(
    'E_SAMPLE_RATE',
    `cannot resample ${which} ${rate} Hz: supported rates are ${SUPPORTED_RATES.join(', ')} Hz; ` +
      `convert the audio first, e.g. \`sox in.wav -r 16000 out.wav\``,
  );
}

/**
 * The Kaiser window design (Kaiser 1974; Oppenheim & Schafer, Discrete-Time Signal Processing,
 * 3rd ed., eqs. 7.62-7.63) for converting `from` to `to`. Throws E_SAMPLE_RATE for a rate
 * outside SUPPORTED_RATES.
 */
export function designResampler(from: number, to: number): ResamplerDesign {
  if (!SUPPORTED_RATES.includes(from)) throw rateError(from, 'from');
  if (!SUPPORTED_RATES.includes(to)) throw rateError(to, 'to');
  const f = rateFraction(from);
  const t = rateFraction(to);
  let m = f.num * t.den;
  let l = t.num * f.den;
  const g = gcd(m, l);
  m /= g;
  l /= g;
  const nyquist = Math.min(from, to) / 2;
  const passbandHz = PASSBAND_FRACTION * nyquist;
  const stopbandHz = nyquist;
  const A = DESIGN_ATTENUATION_DB;
  // Transition width in radians per input sample, and the Kaiser length estimate
  // N = (A - 8) / (2.285 * dw) (eq. 7.63), beta = 0.1102 (A - 8.7) for A > 50 (eq. 7.62).
  const dw = (2 * Math.PI * (stopbandHz - passbandHz)) / from;
  const length = (A - 8) / (2.285 * dw);
  const beta = 0.1102 * (A - 8.7);
  // The window spans [-H, H]; H is rounded up to a multiple of 4 so the 2H taps are a whole
  // number of the kernel's two 4-lane SIMD accumulators.
  const halfTaps = Math.ceil(length / 2 / 4) * 4;
  const cutoff = (passbandHz + stopbandHz) / 2 / from;
  if (l * 2 * halfTaps * 4 > MAX_TABLE_BYTES) {
    throw new EarshotError(
      'E_SAMPLE_RATE',
      `resampling ${from} Hz to ${to} Hz needs a ${l}-phase filter table (too large); ` +
        `convert through 16000 Hz, e.g. \`sox in.wav -r 16000 out.wav\``,
    );
  }
  return { m, l, passbandHz, stopbandHz, cutoff, beta, halfTaps };
}

/** The exports of dist/wasm/resampler.wasm (assembly/resampler.ts), typed by asc's generated bindings. */
type ResamplerKernel = KernelExports<typeof import('../../../dist/wasm/resampler.js')>;

const EMPTY = new Float32Array(0);

/** Streaming converter from `fromRate` to `toRate`; one instance per audio stream. */
export class Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  /** Output samples (at toRate) held back for look-ahead: after n inputs, process() has returned
   *  about ceil(n * to / from) - latencySamples outputs; flush() returns the rest. 0 for identity. */
  readonly latencySamples: number;
  /** The filter in use, or null when fromRate === toRate (input passes through untouched). */
  readonly design: ResamplerDesign | null;
  private readonly kernel: ResamplerKernel | null;
  private heap: Float32Array;

  constructor(fromRate: number, toRate = MODEL_SAMPLE_RATE) {
    const design = designResampler(fromRate, toRate);
    this.fromRate = fromRate;
    this.toRate = toRate;
    if (fromRate === toRate) {
      this.design = null;
      this.kernel = null;
      this.latencySamples = 0;
      this.heap = EMPTY;
      return;
    }
    this.design = design;
    this.kernel = instantiateKernel<ResamplerKernel>('resampler.wasm');
    this.kernel.init(design.m, design.l, design.halfTaps, design.cutoff, design.beta);
    this.heap = new Float32Array(this.kernel.memory.buffer);
    this.latencySamples = Math.ceil((design.halfTaps * design.l) / design.m);
  }

  /** Converts the next chunk. Returns a view into the resampler's memory, valid until the next
   *  call on this instance (copy it to keep it); for identity it returns `input` itself. */
  process(input: Float32Array): Float32Array {
    const k = this.kernel;
    if (!k) return input;
    const at = k.reserve(input.length);
    this.view().set(input, at >>> 2);
    const count = k.process(input.length); // may grow memory for a larger output block
    const out = k.outputPointer() >>> 2;
    return this.view().subarray(out, out + count);
  }

  /** Ends the stream: returns the held-back outputs, so the stream's total is
   *  ceil(inputs * to / from) samples, and resets for a new stream. Same view rules as process(). */
  flush(): Float32Array {
    const k = this.kernel;
    if (!k) return EMPTY;
    const count = k.flush();
    const out = k.outputPointer() >>> 2;
    return this.view().subarray(out, out + count);
  }

  /** Drops all buffered input; the next sample fed is time 0 of a new stream. */
  reset(): void {
    this.kernel?.reset();
  }

  /** The Float32Array over WASM memory, renewed when memory.grow detached the old one. */
  private view(): Float32Array {
    const buffer = this.kernel!.memory.buffer;
    if (this.heap.buffer !== buffer) this.heap = new Float32Array(buffer);
    return this.heap;
  }
}

/** One Resampler per rate pair, reused by resample() so the table is built once per process. */
const shared = new Map<string, Resampler>();
/** resample() feeds whole signals in blocks of this many input samples, so converting a long file
 *  does not grow the kernel's memory to the file's size (memory is never returned to the OS). */
const WHOLE_SIGNAL_BLOCK = 1 << 16;

/**
 * Converts a whole signal; the result has ceil(input.length * to / from) samples and is
 * time-aligned with the input. Returns `input` itself when from === to.
 */
export function resample(input: Float32Array, from: number, to = MODEL_SAMPLE_RATE): Float32Array {
  const key = `${from}>${to}`;
  let r = shared.get(key);
  if (!r) {
    r = new Resampler(from, to);
    shared.set(key, r);
  }
  if (from === to) return input;
  r.reset();
  const { m, l } = r.design!;
  const result = new Float32Array(Math.floor((input.length * l + m - 1) / m));
  let n = 0;
  for (let i = 0; i < input.length; i += WHOLE_SIGNAL_BLOCK) {
    const y = r.process(input.subarray(i, i + WHOLE_SIGNAL_BLOCK));
    result.set(y, n);
    n += y.length;
  }
  result.set(r.flush(), n);
  return result;
}
