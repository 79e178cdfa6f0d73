/**
 * Turns whatever block sizes a device, pipe or file hands us into fixed-size mono Float32 chunks.
 * One preallocated output buffer is reused for every chunk (no allocation per block), and raw
 * PCM bytes that end in the middle of a sample are carried over to the next block, because pipes
 * and sockets split data wherever they like.
 */
import { EarshotError } from '../../core/errors.ts';

export type PcmFormat = 's16le' | 'f32le';

export const PCM_BYTES: Record<PcmFormat, number> = { s16le: 2, f32le: 4 };

/** s16 full scale maps to [-1, 1) by dividing by 2^15, as sox and libsndfile do. */
const S16_SCALE = 1 / 32768;

export class ChunkAssembler {
  private readonly buf: Float32Array;
  private fill = 0;
  /** bytes of a sample split across two blocks (at most 3) */
  private readonly carry = new Uint8Array(4);
  private carryLen = 0;
  private readonly carryView = new DataView(this.carry.buffer);

  /** `emit` receives the reused buffer (or, on flush, a view of its filled part) and must not keep it. */
  constructor(
    readonly chunkSamples: number,
    private readonly emit: (samples: Float32Array) => void,
  ) {
    if (!Number.isInteger(chunkSamples) || chunkSamples < 1) {
      throw new EarshotError('E_CONFIG', `capture chunk size ${chunkSamples} is invalid: use a positive whole number of samples (e.g. 1600 for 100 ms at 16 kHz)`);
    }
    this.buf = new Float32Array(chunkSamples);
  }

  /** Append samples src[from, to) already in [-1, 1]. */
  pushFloat(src: Float32Array, from = 0, to = src.length): void {
    const buf = this.buf;
    let i = from;
    while (i < to) {
      const n = Math.min(to - i, buf.length - this.fill);
      buf.set(src.subarray(i, i + n), this.fill);
      this.fill += n;
      i += n;
      if (this.fill === buf.length) this.full();
    }
  }

  /** Append little-endian PCM bytes; a trailing partial sample waits for the next block. */
  pushPcm(bytes: Uint8Array, format: PcmFormat): void {
    const width = PCM_BYTES[format];
    let p = 0;
    if (this.carryLen > 0) {
      while (this.carryLen < width && p < bytes.length) this.carry[this.carryLen++] = bytes[p++];
      if (this.carryLen < width) return;
      this.put(format === 's16le' ? this.carryView.getInt16(0, true) * S16_SCALE : this.carryView.getFloat32(0, true));
      this.carryLen = 0;
    }
    const whole = Math.floor((bytes.length - p) / width);
    const view = new DataView(bytes.buffer, bytes.byteOffset + p, whole * width);
    const buf = this.buf;
    let fill = this.fill;
    if (format === 's16le') {
      for (let o = 0; o < view.byteLength; o += 2) {
        buf[fill++] = view.getInt16(o, true) * S16_SCALE;
        if (fill === buf.length) { this.fill = fill; this.full(); fill = 0; }
      }
    } else {
      for (let o = 0; o < view.byteLength; o += 4) {
        buf[fill++] = view.getFloat32(o, true);
        if (fill === buf.length) { this.fill = fill; this.full(); fill = 0; }
      }
    }
    this.fill = fill;
    p += whole * width;
    while (p < bytes.length) this.carry[this.carryLen++] = bytes[p++];
  }

  /** Emit what is buffered as a short last chunk (end of file or stream). A dangling partial sample is dropped. */
  flush(): void {
    if (this.fill > 0) {
      const n = this.fill;
      this.fill = 0;
      this.emit(this.buf.subarray(0, n));
    }
    this.carryLen = 0;
  }

  /** Forget buffered samples (a restart must not glue old audio to new). */
  reset(): void {
    this.fill = 0;
    this.carryLen = 0;
  }

  /** bytes of an incomplete sample waiting for its next block */
  get pendingBytes(): number {
    return this.carryLen;
  }

  private put(v: number): void {
    this.buf[this.fill++] = v;
    if (this.fill === this.buf.length) this.full();
  }

  private full(): void {
    this.fill = 0;
    this.emit(this.buf);
  }
}
