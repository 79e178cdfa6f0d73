/**
 * Runs the classifier on segments, one inference at a time. A segment that arrives while one is
 * running waits in a queue of `queueDepth` slots (default 1); when the queue is full the oldest
 * waiting segment is dropped and counted, so the newest audio wins and a slow device sheds load
 * instead of falling ever further behind. The segment's features are copied into a preallocated
 * slot when it is queued (the segmenter's ring moves on); no allocation per frame, one small
 * record per segment.
 *
 * The crowd detector (issue 32), when there is one, runs after the classifier (pipeline.crowd
 * "mark": both answers are wanted), or before it when `holdBack` is set ("suppress"): a segment it
 * holds back is never classified, so an utterance of babble costs the detector's run (0.6-0.7 ms
 * of CPU here) and not also the emotion model's (2-3 ms; docs/experiments/2026-12-07-crowds-and-cost.md).
 */
import type { BaselineStats } from '../model/baseline.ts';
import type { Classification } from '../model/session.ts';
import type { Segment } from './segmenter.ts';

/** The part of EmotionClassifier the queue needs. */
export interface Classifier {
  classify(features: Float32Array, frames: number, baseline?: BaselineStats | null, fuseHead?: boolean): Promise<Classification>;
}

/** A queued segment with whatever the caller attached (timings, stream times). */
export interface Job<T> {
  segment: Segment;
  info: T;
  frames: number;
  features: Float32Array;
  /** monotonic ms when queued */
  queuedAt: number;
  /** the crowd detector's score of the segment (null: no detector) */
  crowdScore: number | null;
}

export interface InferenceCallbacks<T> {
  /** the classification's arrays are reused by the classifier: copy what you keep, before returning */
  result(job: Job<T>, c: Classification, startedAt: number, doneAt: number): void;
  /** a segment `holdBack` kept from the classifier (its `crowdScore` says why); required with holdBack */
  held?(job: Job<T>, startedAt: number, doneAt: number): void;
  error(job: Job<T>, e: Error): void;
}

export class InferenceQueue<T> {
  /** Whether the classifier may fuse its functional head with this job (unset: always); see pipeline.headMinSnrDb. */
  trustHead?: (job: Job<T>) => boolean;
  droppedInferences = 0;
  inferenceErrors = 0;
  /** ms spent inside classify() and the crowd detector */
  busyMs = 0;
  /** classify() calls (emotion model runs), and the ms spent in them and in the crowd detector */
  classifications = 0;
  classifyMs = 0;
  crowdMs = 0;
  /** Scores each segment (the crowd detector), after its classification unless `holdBack` is set; or null. */
  crowd: ((features: Float32Array, frames: number) => Promise<number>) | null = null;
  /**
   * With `crowd`: true for a score whose segment is not to be classified at all; the detector then
   * runs first and such a segment goes to `held` instead of `result`. Null: classify everything.
   */
  holdBack: ((score: number) => boolean) | null = null;
  private readonly free: Float32Array[] = [];
  private readonly waiting: Job<T>[] = [];
  private running: Job<T> | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly classifier: Classifier,
    private readonly dim: number,
    maxFrames: number,
    private readonly queueDepth: number,
    private readonly now: () => number,
    private readonly callbacks: InferenceCallbacks<T>,
    /** the speaker baseline to normalise against when the segment runs (null: none yet) */
    private readonly baseline: () => BaselineStats | null = () => null,
  ) {
    for (let i = 0; i < queueDepth + 1; i++) this.free.push(new Float32Array(maxFrames * dim));
  }

  /** Queues a segment; `fill` copies its features into the slot and returns the frame count. */
  submit(segment: Segment, info: T, fill: (dst: Float32Array) => number): void {
    if (this.waiting.length === this.queueDepth) {
      const old = this.waiting.shift()!;
      this.free.push(old.features);
      this.droppedInferences++;
    }
    const features = this.free.pop()!;
    const frames = fill(features);
    this.waiting.push({ segment, info, frames, features, queuedAt: this.now(), crowdScore: null });
    if (!this.running) void this.runNext();
  }

  get inFlight(): boolean {
    return this.running !== null;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves when nothing is running or waiting. */
  drain(): Promise<void> {
    if (!this.running && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops every waiting segment (not counted as dropped: the stream was abandoned). */
  clear(): void {
    while (this.waiting.length) this.free.push(this.waiting.shift()!.features);
  }

  private async runNext(): Promise<void> {
    while (this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      this.running = job;
      const startedAt = this.now();
      try {
        const c = await this.process(job);
        const doneAt = this.now();
        this.busyMs += doneAt - startedAt;
        if (c) this.callbacks.result(job, c, startedAt, doneAt);
        else this.callbacks.held?.(job, startedAt, doneAt);
      } catch (e) {
        this.busyMs += this.now() - startedAt;
        this.inferenceErrors++;
        this.callbacks.error(job, e as Error);
      } finally {
        this.running = null;
        this.free.push(job.features);
      }
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Classifies the job and scores it for crowd, in the order `holdBack` asks; null: held back, not classified. */
  private async process(job: Job<T>): Promise<Classification | null> {
    const features = job.features.subarray(0, job.frames * this.dim);
    if (this.crowd && this.holdBack) {
      job.crowdScore = await this.scoreCrowd(features, job.frames);
      if (this.holdBack(job.crowdScore)) return null;
      return this.classify(features, job);
    }
    const c = await this.classify(features, job);
    if (this.crowd) job.crowdScore = await this.scoreCrowd(features, job.frames);
    return c;
  }

  private async classify(features: Float32Array, job: Job<T>): Promise<Classification> {
    const t0 = this.now();
    this.classifications++;
    try {
      return await this.classifier.classify(features, job.frames, this.baseline(), this.trustHead?.(job) ?? true);
    } finally {
      this.classifyMs += this.now() - t0;
    }
  }

  private async scoreCrowd(features: Float32Array, frames: number): Promise<number> {
    const t0 = this.now();
    try {
      return await this.crowd!(features, frames);
    } finally {
      this.crowdMs += this.now() - t0;
    }
  }
}
