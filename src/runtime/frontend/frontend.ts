/**
 * The streaming feature frontend. Fed audio in chunks of any size, it emits exactly the frames
 * the whole signal gives (frame i starts at sample i*hopLength). The WASM kernel computes whole
 * blocks of frames per call; this class only moves samples in and rows out, and applies deltas,
 * which need two (deltas=1) or four (deltas=2) frames of lookahead: those frames come out of
 * push() late and the last ones out of flush(), padded by repeating the edge frame as
 * torchaudio.functional.compute_deltas does. No allocation per frame: the output buffer grows
 * (doubling) only when a call yields more frames than ever before.
 */
import { baseFeatureCount, featureCount, parseFrontendConfig, type FrontendConfig, type FrontendConfigInput } from './config.ts';
import { instantiateKernel, simdSupported, type KernelExports } from './wasm.ts';

/** The kernel's exports, typed by the bindings asc generates beside the module (scripts/build-wasm.sh). */
type FrontendKernel = KernelExports<typeof import('../../../dist/wasm/frontend.js')>;

export interface FrontendOptions {
  /** Use the SIMD build of the kernels (default: when the engine supports WASM SIMD). */
  simd?: boolean;
  /** Frames the kernel computes per call at most; bounds its buffers. Default 64. */
  blockFrames?: number;
}

/** Rows produced by one call; `data` holds `frames * dim` valid values and is reused by the next call. */
export interface FeatureBlock {
  data: Float32Array;
  frames: number;
  dim: number;
}

const WINDOW_CODE = { none: 0, hann: 1, hamming: 2 } as const;
const EXTRA_CODE = { rms: 1, zcr: 2, f0: 3, voicing: 4 } as const;
const NOISE_CODE = { off: 0, subtract: 1, gate: 2 } as const;
/** Regression weights of a 5-frame delta: sum n^2 for n = 1, 2, times 2 (torchaudio compute_deltas). */
const DELTA_DENOM = 10;

export class Frontend {
  readonly config: FrontendConfig;
  /** Features per output frame (deltas included). */
  readonly dim: number;
  /** Features per frame before deltas. */
  readonly baseDim: number;
  readonly simd: boolean;

  private readonly kernel: FrontendKernel;
  private readonly memory: WebAssembly.Memory;
  private readonly input: Float32Array;
  private readonly kernelOut: Float32Array;
  private readonly lookahead: number;
  // ring of the last 4*deltas+1 base rows, for deltas
  private readonly ring: Float32Array;
  private readonly ringRows: number;
  private seen = 0; // base frames computed so far
  private emitted = 0; // output frames emitted so far
  private out: Float32Array;
  private readonly block: FeatureBlock;

  constructor(config: FrontendConfigInput | FrontendConfig, options: FrontendOptions = {}) {
    this.config = parseFrontendConfig(config);
    const c = this.config;
    this.simd = options.simd ?? simdSupported;
    this.kernel = instantiateKernel<FrontendKernel>(this.simd ? 'frontend.wasm' : 'frontend-scalar.wasm');
    this.memory = this.kernel.memory;
    // the kernel takes the extras as one i32, four bits per slot in output order (assembly/frontend.ts)
    const extras = c.extras.reduce((code, e, k) => code | (EXTRA_CODE[e] << (4 * k)), 0);
    this.kernel.init(
      c.frameLength, c.hopLength, c.fftSize, WINDOW_CODE[c.window], c.preEmphasis,
      c.melBands, c.melScale === 'slaney', c.melNorm === 'slaney', c.fMin, c.fMax, c.sampleRate,
      c.log === 'db', c.logFloor, c.mfcc, c.lifter, extras,
      NOISE_CODE[c.noiseSuppression], c.arithmetic === 'q15', options.blockFrames ?? 64,
    );
    this.baseDim = baseFeatureCount(c);
    this.dim = featureCount(c);
    if (this.kernel.rowLength() !== this.baseDim) throw new Error(`kernel row ${this.kernel.rowLength()} != ${this.baseDim}`);
    // views are taken after init: the stub runtime never grows memory afterwards
    this.input = new Float32Array(this.memory.buffer, this.kernel.inputPtr(), this.kernel.inputCapacity());
    this.kernelOut = new Float32Array(this.memory.buffer, this.kernel.outputPtr(), (options.blockFrames ?? 64) * this.baseDim);
    this.lookahead = 2 * c.deltas;
    this.ringRows = 2 * this.lookahead + 1;
    this.ring = new Float32Array(this.ringRows * this.baseDim);
    this.out = new Float32Array(64 * this.dim);
    this.block = { data: this.out, frames: 0, dim: this.dim };
  }

  /** Feeds samples (mono, [-1, 1], at config.sampleRate); returns the frames now complete. */
  push(samples: Float32Array): FeatureBlock {
    this.block.frames = 0;
    const cap = this.input.length;
    for (let off = 0; off < samples.length; off += cap) {
      const n = Math.min(cap, samples.length - off);
      this.input.set(n === samples.length ? samples : samples.subarray(off, off + n));
      const frames = this.kernel.push(n);
      for (let f = 0; f < frames; f++) this.acceptBaseRow(f * this.baseDim);
    }
    return this.block;
  }

  /** Ends the stream: emits the frames held back for deltas (edge-padded). Then reset() to reuse. */
  flush(): FeatureBlock {
    this.block.frames = 0;
    while (this.emitted < this.seen) this.emit(this.emitted, this.seen - 1);
    return this.block;
  }

  /** Forgets all buffered audio and state, for a new stream. */
  reset(): void {
    this.kernel.reset();
    this.seen = 0;
    this.emitted = 0;
    this.block.frames = 0;
  }

  /** Whole signal at once: a new [frames * dim] array (flushes and resets around it). */
  computeAll(samples: Float32Array): Float32Array {
    this.reset();
    const first = this.push(samples);
    const all = new Float32Array(this.seen * this.dim);
    const head = first.frames * this.dim;
    all.set(first.data.subarray(0, head));
    const rest = this.flush(); // the same block object, refilled
    all.set(rest.data.subarray(0, rest.frames * this.dim), head);
    this.reset();
    return all;
  }

  private acceptBaseRow(offset: number): void {
    const t = this.seen++;
    if (this.lookahead === 0) {
      this.ensureCapacity(this.block.frames + 1);
      this.out.set(this.kernelOut.subarray(offset, offset + this.baseDim), this.block.frames * this.dim);
      this.block.frames++;
      this.emitted++;
      return;
    }
    this.ring.set(this.kernelOut.subarray(offset, offset + this.baseDim), (t % this.ringRows) * this.baseDim);
    if (t - this.lookahead >= 0) this.emit(t - this.lookahead, t);
  }

  /** Writes output frame t (base, delta, delta-delta); `last` is the newest frame index known. */
  private emit(t: number, last: number): void {
    this.ensureCapacity(this.block.frames + 1);
    const b = this.baseDim;
    const o = this.block.frames * this.dim;
    const rt = (t % this.ringRows) * b;
    for (let k = 0; k < b; k++) this.out[o + k] = this.ring[rt + k];
    for (let k = 0; k < b; k++) this.out[o + b + k] = this.delta(t, k, last);
    if (this.config.deltas === 2) {
      for (let k = 0; k < b; k++) {
        let acc = 0;
        for (let n = 1; n <= 2; n++) {
          const tp = Math.min(t + n, last);
          const tm = Math.max(t - n, 0);
          acc += n * (this.delta(tp, k, last) - this.delta(tm, k, last));
        }
        this.out[o + 2 * b + k] = acc / DELTA_DENOM;
      }
    }
    this.block.frames++;
    this.emitted++;
  }

  /** 5-frame regression delta of base feature k at frame s, edges replicated. */
  private delta(s: number, k: number, last: number): number {
    const b = this.baseDim;
    let acc = 0;
    for (let n = 1; n <= 2; n++) {
      const p = (Math.min(s + n, last) % this.ringRows) * b;
      const m = (Math.max(s - n, 0) % this.ringRows) * b;
      acc += n * (this.ring[p + k] - this.ring[m + k]);
    }
    return acc / DELTA_DENOM;
  }

  private ensureCapacity(frames: number): void {
    if (frames * this.dim <= this.out.length) return;
    const next = new Float32Array(Math.max(frames * this.dim, this.out.length * 2));
    next.set(this.out);
    this.out = next;
    this.block.data = next;
  }
}
