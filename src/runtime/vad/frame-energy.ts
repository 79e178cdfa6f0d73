/**
 * Per-frame energy for the VAD, computed on the samples the frontend sees, framed exactly as the
 * frontend frames them (frame i covers samples [i*hop, i*hop + frameLength), not centred), so VAD
 * decision i and feature row i describe the same audio. The model's own features may lack an RMS
 * column (or apply pre-emphasis and a window to it), so the VAD keeps its own: a mean square over
 * the raw frame, about frameLength/hop (2.5) multiply-adds per input sample.
 *
 * Streaming: any chunk size gives the same frame energies as the whole signal. No allocation per
 * call: the output array is reused (grows, doubling, when a chunk yields more frames than before).
 */
export class FrameEnergy {
  readonly frameLength: number;
  readonly hop: number;
  /** the last frameLength samples, as a ring (a sum of squares does not care about order) */
  private readonly ring: Float32Array;
  private ringPos = 0;
  /** samples seen since reset() */
  private seen = 0;
  /** first sample index of the next frame to complete */
  private nextFrameStart = 0;
  private out: Float32Array;

  constructor(frameLength: number, hop: number) {
    this.frameLength = frameLength;
    this.hop = hop;
    this.ring = new Float32Array(frameLength);
    this.out = new Float32Array(64);
  }

  /**
   * Feeds samples; returns the number of frames completed, whose energies (dBFS of the mean square,
   * 10*log10(mean x^2), so a full-scale sine is -3 dB) are in `levels()[0 .. n)` until the next call.
   */
  push(samples: Float32Array): number {
    let n = 0;
    const L = this.frameLength;
    for (let i = 0; i < samples.length; i++) {
      this.ring[this.ringPos] = samples[i];
      this.ringPos = this.ringPos + 1 === L ? 0 : this.ringPos + 1;
      this.seen++;
      if (this.seen === this.nextFrameStart + L) {
        let acc = 0;
        for (let k = 0; k < L; k++) acc += this.ring[k] * this.ring[k];
        if (n === this.out.length) this.grow();
        // 1e-12 floor (-120 dBFS) keeps digital silence finite
        this.out[n++] = 10 * Math.log10(acc / L + 1e-12);
        this.nextFrameStart += this.hop;
      }
    }
    return n;
  }

  /** The energies written by the last push(), in dBFS. */
  levels(): Float32Array {
    return this.out;
  }

  /** Frames completed since reset(). */
  get frames(): number {
    return this.nextFrameStart / this.hop;
  }

  reset(): void {
    this.ring.fill(0);
    this.ringPos = 0;
    this.seen = 0;
    this.nextFrameStart = 0;
  }

  private grow(): void {
    const next = new Float32Array(this.out.length * 2);
    next.set(this.out);
    this.out = next;
  }
}
