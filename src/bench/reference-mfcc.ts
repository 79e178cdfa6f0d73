/**
 * A plain-TypeScript MFCC frame with fft.js, the baseline the WASM kernels are measured against.
 * Written the way a careful JS developer would: tables precomputed, buffers preallocated, a
 * sparse mel filterbank; only the arithmetic is left to the JIT. It computes the same features
 * as the f32 frontend (checked in test/e2e/bench.test.ts) so the comparison is like for like.
 */
import FFT from 'fft.js';
import type { FrontendConfig } from '../runtime/frontend/config.ts';

function hzToMel(f: number): number {
  return 2595 * Math.log10(1 + f / 700);
}
function melToHz(m: number): number {
  return 700 * (10 ** (m / 2595) - 1);
}

export class ReferenceMfcc {
  private readonly fft: FFT;
  private readonly frame: Float64Array;
  private readonly spectrum: Float64Array;
  private readonly power: Float64Array;
  private readonly window: Float64Array;
  private readonly melStart: Int32Array;
  private readonly melWeights: Float64Array[];
  private readonly logMel: Float64Array;
  private readonly dct: Float64Array;

  constructor(private readonly c: FrontendConfig) {
    if (c.melScale !== 'htk' || c.melNorm !== null || c.log !== 'ln' || c.window !== 'hann') throw new Error('reference MFCC: htk, no norm, ln, hann only');
    const n = c.fftSize;
    this.fft = new FFT(n);
    this.frame = new Float64Array(n);
    this.spectrum = new Float64Array(2 * n); // interleaved re, im; realTransform fills bins 0..n/2
    this.power = new Float64Array(n / 2 + 1);
    this.window = Float64Array.from({ length: c.frameLength }, (_, j) => 0.5 - 0.5 * Math.cos((2 * Math.PI * j) / c.frameLength));
    const bins = n / 2 + 1;
    const lo = hzToMel(c.fMin);
    const hi = hzToMel(c.fMax);
    const pts = Array.from({ length: c.melBands + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (c.melBands + 1)));
    this.melStart = new Int32Array(c.melBands);
    this.melWeights = [];
    for (let m = 0; m < c.melBands; m++) {
      const w: number[] = [];
      let start = -1;
      for (let k = 0; k < bins; k++) {
        const f = (k * c.sampleRate) / n;
        const v = Math.max(0, Math.min((f - pts[m]!) / (pts[m + 1]! - pts[m]!), (pts[m + 2]! - f) / (pts[m + 2]! - pts[m + 1]!)));
        if (v > 0) {
          if (start < 0) start = k;
          w[k - start] = v;
        }
      }
      this.melStart[m] = Math.max(start, 0);
      this.melWeights.push(Float64Array.from(w, (x) => x ?? 0));
    }
    this.logMel = new Float64Array(c.melBands);
    this.dct = new Float64Array(c.mfcc * c.melBands);
    for (let k = 0; k < c.mfcc; k++) {
      for (let m = 0; m < c.melBands; m++) {
        this.dct[k * c.melBands + m] = Math.sqrt(2 / c.melBands) * Math.cos((Math.PI / c.melBands) * (m + 0.5) * k) * (k === 0 ? Math.SQRT1_2 : 1);
      }
    }
  }

  /** MFCCs of the frame starting at `start` of `x` (x[start-1] feeds the pre-emphasis) into `out`. */
  compute(x: Float32Array, start: number, out: Float32Array): void {
    const { frameLength, preEmphasis, melBands, mfcc, logFloor } = this.c;
    for (let j = 0; j < frameLength; j++) {
      const prev = start + j > 0 ? x[start + j - 1]! : 0;
      this.frame[j] = (x[start + j]! - preEmphasis * prev) * this.window[j]!;
    }
    this.fft.realTransform(this.spectrum as unknown as number[], this.frame as unknown as number[]);
    const s = this.spectrum;
    for (let k = 0; k < this.power.length; k++) this.power[k] = s[2 * k]! * s[2 * k]! + s[2 * k + 1]! * s[2 * k + 1]!;
    for (let m = 0; m < melBands; m++) {
      const w = this.melWeights[m]!;
      const b = this.melStart[m]!;
      let acc = 0;
      for (let t = 0; t < w.length; t++) acc += w[t]! * this.power[b + t]!;
      this.logMel[m] = Math.log(Math.max(acc, logFloor));
    }
    for (let k = 0; k < mfcc; k++) {
      let acc = 0;
      for (let m = 0; m < melBands; m++) acc += this.dct[k * melBands + m]! * this.logMel[m]!;
      out[k] = acc;
    }
  }
}
