/**
 * Turns the VAD's speech boundaries and the frontend's feature rows into the segments the model
 * classifies. Two modes:
 * - `utterance`: one segment per VAD segment, cut into pieces of at most `maxFrames` so a long
 *   monologue still yields results (and the model sees lengths it was trained on);
 * - `window`: sliding windows of `windowFrames` every `hopFrames` over speech (the model's
 *   `meta.window`); a stretch of speech shorter than one window gives one shorter segment, and the
 *   uncovered end of a longer one (at least `minFrames`) gives one last window aligned to its end.
 * Segments shorter than `minFrames` (the model's) are dropped and counted.
 *
 * The VAD runs ahead of the features (the frontend holds frames back for deltas, the onset is
 * retroactive), so boundaries are queued and applied when the feature rows they name have arrived.
 * Rows live in a ring indexed by absolute frame number, long enough for the longest segment plus
 * the VAD's look-back; a segment is copied out of it by `copyFrames` when it is handed over.
 * Nothing is allocated per frame; one small descriptor per segment.
 */
import type { FeatureBlock } from '../frontend/frontend.ts';
import type { VadSink } from '../vad/energy-vad.ts';

export type SegmentKind = 'utterance' | 'window';

/** A span of frames ready to classify: [startFrame, endFrame). */
export interface Segment {
  kind: SegmentKind;
  startFrame: number;
  endFrame: number;
}

export interface SegmenterOptions {
  mode: SegmentKind;
  /** features per frame */
  dim: number;
  /** utterance mode: longest segment (frames); longer speech is cut */
  maxFrames: number;
  /** window mode: window length and step (frames) */
  windowFrames: number;
  hopFrames: number;
  /** shorter segments are dropped (frames) */
  minFrames: number;
  /** frames the VAD can name before the features for them arrive (onset + hang-over + frontend lookahead + the largest block fed at once) */
  lookBackFrames: number;
}

const BOUNDARY_QUEUE = 64;

export class Segmenter implements VadSink {
  readonly options: SegmenterOptions;
  /** frames the ring holds */
  readonly ringFrames: number;
  /** Segments dropped for being shorter than minFrames. */
  droppedShort = 0;
  private readonly ring: Float32Array;
  /** rows [0, available) have arrived */
  private available = 0;
  // queued boundaries: frame index, and 1 = start / 0 = end
  private readonly qFrame = new Float64Array(BOUNDARY_QUEUE);
  private readonly qStart = new Uint8Array(BOUNDARY_QUEUE);
  private qHead = 0;
  private qLen = 0;
  private active = false;
  private segStart = 0;
  /** utterance mode: start of the piece not yet handed over; window mode: next window start */
  private cursor = 0;
  /** window mode: end of the last window handed over in this stretch of speech */
  private lastEnd = 0;
  /** the open speech lasts at least until this frame (exclusive), whenever the VAD ends it */
  private confirmed = 0;

  constructor(options: SegmenterOptions, private readonly onSegment: (segment: Segment) => void) {
    this.options = options;
    const longest = options.mode === 'utterance' ? options.maxFrames : options.windowFrames + options.hopFrames;
    this.ringFrames = longest + options.lookBackFrames + 16;
    this.ring = new Float32Array(this.ringFrames * options.dim);
  }

  /** Longest segment this segmenter hands over (frames): size the buffers it is copied into. */
  get maxSegmentFrames(): number {
    return this.options.mode === 'utterance' ? this.options.maxFrames : this.options.windowFrames;
  }

  speechStart(frame: number): void {
    this.enqueue(frame, 1);
  }

  speechEnd(frame: number): void {
    this.enqueue(frame, 0);
  }

  speechActive(frame: number): void {
    this.confirmed = frame + 1;
  }

  /** Appends the frontend's rows (the next frames in order) and hands over what is complete. */
  push(block: FeatureBlock): void {
    const d = this.options.dim;
    const R = this.ringFrames;
    // copy in at most ceil(frames / R) + 1 runs (one view each), not a view per row
    for (let f = 0; f < block.frames; ) {
      const r = this.available % R;
      const run = Math.min(block.frames - f, R - r);
      this.ring.set(block.data.subarray(f * d, (f + run) * d), r * d);
      f += run;
      this.available += run;
    }
    this.advance();
  }

  /** Copies frames [start, end) (still in the ring) row-major into `dst`; returns end - start. */
  copyFrames(start: number, end: number, dst: Float32Array): number {
    const d = this.options.dim;
    const R = this.ringFrames;
    if (end > this.available || this.available - start > R) throw new Error(`segmenter: frames ${start}..${end} are not in the ring (have ${this.available - R}..${this.available})`);
    let o = 0;
    for (let t = start; t < end; ) {
      const r = t % R;
      const run = Math.min(end - t, R - r);
      dst.set(this.ring.subarray(r * d, (r + run) * d), o);
      o += run * d;
      t += run;
    }
    return end - start;
  }

  /** Frames received since reset(). */
  get frames(): number {
    return this.available;
  }

  reset(): void {
    this.available = 0;
    this.qHead = 0;
    this.qLen = 0;
    this.active = false;
    this.segStart = this.cursor = this.lastEnd = this.confirmed = 0;
  }

  private enqueue(frame: number, start: number): void {
    if (this.qLen === BOUNDARY_QUEUE) throw new Error('segmenter: boundary queue overflow (feed smaller blocks)');
    const i = (this.qHead + this.qLen) % BOUNDARY_QUEUE;
    this.qFrame[i] = frame;
    this.qStart[i] = start;
    this.qLen++;
    this.advance();
  }

  private pop(): void {
    this.qHead = (this.qHead + 1) % BOUNDARY_QUEUE;
    this.qLen--;
  }

  private advance(): void {
    const o = this.options;
    for (;;) {
      if (!this.active) {
        if (this.qLen === 0) return;
        // the VAD alternates start/end, so an inactive segmenter's next boundary is a start
        this.active = true;
        this.segStart = this.cursor = this.lastEnd = this.qFrame[this.qHead];
        this.pop();
        continue;
      }
      // Cut or slide only over frames the VAD has confirmed as speech (its end, once queued, or its
      // newest active frame): deciding on frames that may turn out to be hang-over would make the
      // segments depend on how far the VAD happened to be ahead, i.e. on the chunk sizes.
      const endKnown = this.qLen > 0;
      const end = endKnown ? this.qFrame[this.qHead] : Infinity;
      const sure = endKnown ? end : this.confirmed;
      if (o.mode === 'utterance') {
        const longer = endKnown ? end - this.cursor > o.maxFrames : sure - this.cursor >= o.maxFrames;
        if (longer && this.available >= this.cursor + o.maxFrames) {
          this.emit(this.cursor, this.cursor + o.maxFrames);
          this.cursor += o.maxFrames;
          continue;
        }
        if (this.available < end) return;
        if (end > this.cursor) this.emit(this.cursor, end); // (== when the last cut landed on the end)
      } else {
        const w = this.cursor;
        if (w + o.windowFrames <= sure && this.available >= w + o.windowFrames) {
          this.emit(w, w + o.windowFrames);
          this.lastEnd = w + o.windowFrames;
          this.cursor += o.hopFrames;
          continue;
        }
        if (this.available < end) return;
        if (this.lastEnd === this.segStart) this.emit(this.segStart, end);
        else if (end - this.lastEnd >= o.minFrames) this.emit(Math.max(this.segStart, end - o.windowFrames), end);
      }
      this.active = false;
      this.pop();
    }
  }

  private emit(start: number, end: number): void {
    if (end - start < this.options.minFrames) {
      this.droppedShort++;
      return;
    }
    this.onSegment({ kind: this.options.mode, startFrame: start, endFrame: end });
  }
}
