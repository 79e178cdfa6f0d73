/**
 * The pipeline's health numbers: counters, and latency percentiles over a rolling window of the
 * most recent results. Recording is O(1) and allocation-free; the percentiles are computed when
 * asked for (a copy into a preallocated scratch array, sorted), which is per metrics period, not
 * per frame.
 */

/** The last `capacity` samples and their percentiles (nearest-rank). */
export class RollingPercentiles {
  private readonly values: Float64Array;
  private readonly scratch: Float64Array;
  private next = 0;
  private size = 0;

  constructor(readonly capacity = 256) {
    this.values = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  add(v: number): void {
    this.values[this.next] = v;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  get count(): number {
    return this.size;
  }

  /** Percentiles (0..100) of the window, in the order asked; 0 when empty. Writes into `out`. */
  percentiles(ps: readonly number[], out: number[] = []): number[] {
    out.length = ps.length;
    if (this.size === 0) return out.fill(0);
    const s = this.scratch.subarray(0, this.size);
    s.set(this.values.subarray(0, this.size));
    s.sort();
    for (let i = 0; i < ps.length; i++) {
      const rank = Math.ceil((ps[i] / 100) * this.size);
      out[i] = s[Math.min(this.size - 1, Math.max(0, rank - 1))];
    }
    return out;
  }

  clear(): void {
    this.next = 0;
    this.size = 0;
  }
}

/** What `EmotionPipeline.stats()` reports. Counters are totals since the pipeline was built. */
export interface PipelineStats {
  /** Seconds of audio pushed (at the capture rate). */
  audioSeconds: number;
  /** Feature frames computed. */
  framesProcessed: number;
  /** Frames the VAD found active. */
  speechFrames: number;
  /** Wall time spent in push() and in inference (ms). */
  processingMs: number;
  /** processingMs / audio time: below 1 keeps up with the microphone. */
  realTimeFactor: number;
  /** From the arrival of a segment's last audio to its result (ms), p50/p99 over the last `latencyWindow` results; includes the VAD hang-over wait. */
  latencyMs: { p50: number; p99: number };
  /** From the moment a segment was handed to inference (VAD decided it ended, or it was cut) to its result (ms). */
  inferenceLatencyMs: { p50: number; p99: number };
  /** Audio frames missing from the stream (gaps in the capture timestamps), counted in frontend hops. */
  droppedFrames: number;
  /** Segments replaced in the queue by a newer one while an inference was running. */
  droppedInferences: number;
  /** Segments shorter than the model's minFrames, skipped. */
  segmentsDropped: number;
  /** utterances with no dominant talker: not published (pipeline.crowd "suppress"), published with crowd: true ("mark") */
  crowdSuppressed?: number;
  crowdMarked?: number;
  /** Emotion-model runs (segments classified; under pipeline.crowd "suppress" the held-back ones are not). */
  classifications?: number;
  /** Wall time inside the emotion model (classify) and inside the crowd detector (ms), totals. */
  modelMs?: { emotion: number; crowd: number };
  /** Segments handed to inference. */
  segments: number;
  /** Results emitted. */
  results: number;
  /** State changes emitted by the smoother. */
  stateChanges: number;
  /** Inferences that threw (logged; the pipeline went on). */
  inferenceErrors: number;
  /** Listeners that threw (logged once; counted). */
  listenerErrors: number;
  /** An inference is running now. */
  inFlight: boolean;
  /** Segments waiting for the running inference. */
  queued: number;
}
