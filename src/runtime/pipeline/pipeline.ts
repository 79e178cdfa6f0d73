/**
 * The live inference pipeline: capture chunks in, emotion results and smoothed states out.
 *
 *   resample (to the model frontend's rate) -> Frontend (the model's metadata) -> VoiceDetector (energy, Silero or both)
 *   -> Segmenter (utterances or windows) -> InferenceQueue (one in flight) -> EmotionSmoother -> events
 *
 * `earshot analyze` and the daemon both run this class, so a file and a microphone stream are
 * treated identically; the result depends only on the samples, never on how they were chunked
 * (every stage is streaming-exact, test/unit/pipeline.test.ts holds it to 1e-6).
 *
 * Audio is processed synchronously inside push(), in sub-blocks of SUB_BLOCK_FRAMES hops, so the
 * VAD never runs more than one sub-block ahead of the features and every buffer is bounded and
 * preallocated. Silence costs the resampler, the frontend and one mean square per frame; it never
 * reaches the model.
 *
 * Time: stream time (seconds) is the first chunk's `time` plus the samples pushed since; it is
 * mapped to the wall clock through the arrival of the chunks (the audio at stream time t arrived
 * with the chunk that contains it), which is also where a result's latency is measured from.
 */
import type { AudioChunk } from '../capture/source.ts';
import { EarshotError } from '../../core/errors.ts';
import { featureNames } from '../frontend/config.ts';
import { Frontend, type FrontendOptions } from '../frontend/frontend.ts';
import { Resampler } from '../frontend/resampler.ts';
import type { Classification, EmotionClassifier } from '../model/session.ts';
import { vadFrames } from '../vad/energy-vad.ts';
import { VoiceDetector } from '../vad/voice-detector.ts';
import { SpeakerBaseline } from '../model/baseline.ts';
import { needsBaseline } from '../model/metadata.ts';
import { FUNCTIONAL_NAMES } from '../model/functionals.ts';
import { affectOf } from '../../core/affect.ts';
import { PIPELINE_DEFAULTS, type CrowdMode, type PipelineConfig } from './config.ts';
import { InferenceQueue, type Job } from './inference.ts';
import { Segmenter, type Segment } from './segmenter.ts';
import { EmotionSmoother } from './smoother.ts';
import { RollingPercentiles, type PipelineStats } from './stats.ts';
import { GuardedEmitter, probabilityRecord, stderrPipelineLog, systemClock, UNCERTAIN, type PipelineClock, type PipelineEvents, type PipelineLog, type PipelineResult, type PipelineState, type SegmentInfo } from './types.ts';
import type { CrowdScorer } from '../model/crowd.ts';

/** Hops of audio handled per step (32 = 320 ms at a 10 ms hop): bounds how far the VAD runs ahead. */
const SUB_BLOCK_FRAMES = 32;
/** Chunk arrivals remembered for mapping stream time to arrival time (covers the hang-over at any chunk size >= 5 ms). */
const ARRIVALS = 256;

/** Everything the pipeline needs, as one object. */
export interface PipelineContext {
  /** A loaded model; the pipeline builds the frontend from its metadata and does not close it. */
  classifier: EmotionClassifier;
  /** The parsed settings (parsePipelineConfig, or the daemon's config): validated once, where they are read. Default: the schema's defaults. */
  config?: PipelineConfig;
  clock?: PipelineClock;
  log?: PipelineLog;
  /** Frontend kernel options (SIMD on/off), for tests and benchmarks. */
  frontend?: FrontendOptions;
  /**
   * The speaker baseline to use (the daemon restores one from its state directory); by default a
   * new one when the model's normalisation is "speaker" or "prosody", none otherwise.
   */
  baseline?: SpeakerBaseline | null;
  /** The crowd detector (the daemon loads it unless config.crowd is "off"); none: every utterance counts as one talker. */
  crowd?: CrowdScorer | null;
}

/**
 * A segment's speech level over the room's noise floor, in dB: the mean power of its frames (the
 * frontend's `rms` column, column `rmsCol` of `dim`) against `floorDb`, the energy VAD's floor on
 * the same 10 log10(mean x^2) scale. Infinity while there is no floor yet.
 */
export function speechSnrDb(features: Float32Array, frames: number, dim: number, rmsCol: number, floorDb: number): number {
  if (!Number.isFinite(floorDb) || frames <= 0) return Infinity;
  let power = 0;
  for (let f = 0; f < frames; f++) {
    const r = features[f * dim + rmsCol];
    power += r * r;
  }
  return 10 * Math.log10(power / frames + 1e-12) - floorDb;
}

export class EmotionPipeline extends GuardedEmitter<PipelineEvents> {
  readonly config: PipelineConfig;
  readonly classifier: EmotionClassifier;
  readonly modelName: string;
  readonly labels: readonly string[];
  /** the model frontend's rate (Hz) and hop (samples) */
  readonly sampleRate: number;
  readonly hop: number;
  private readonly clock: PipelineClock;
  private readonly frameLength: number;
  private readonly frontend: Frontend;
  private readonly vad: VoiceDetector;
  private readonly segmenter: Segmenter;
  private readonly queue: InferenceQueue<SegmentInfo>;
  private readonly smoother: EmotionSmoother;
  private readonly latency: RollingPercentiles;
  private readonly inferenceLatency: RollingPercentiles;
  private readonly resamplers = new Map<number, Resampler>();
  /** The speaker and room baseline (models with normalisation "speaker" or "prosody"), else null. */
  readonly baseline: SpeakerBaseline | null;
  private lastAdapted = false;
  private resampler: Resampler | null = null;
  private readonly subBlock: number;
  // stream state
  private origin = 0;
  private inputSamples = 0;
  private expectedTime = NaN;
  private readonly arrivalEnd = new Float64Array(ARRIVALS);
  private readonly arrivalMono = new Float64Array(ARRIVALS);
  private arrivalNext = 0;
  private arrivalCount = 0;
  private lastEpoch = 0;
  private lastEndSec = 0;
  // totals
  private audioSeconds = 0;
  private framesProcessed = 0;
  private speechFrames = 0;
  private pushMs = 0;
  private droppedFrames = 0;
  private segments = 0;
  private results = 0;
  private stateChanges = 0;
  private seq = 0;
  private crowdSuppressed = 0;
  private crowdMarked = 0;
  private readonly crowdThreshold: number = NaN;
  /** What the crowd detector does here: config.crowd, or "off" when no detector was given. */
  readonly crowdMode: CrowdMode = 'off';

  constructor(ctx: PipelineContext) {
    super(ctx.log ?? stderrPipelineLog, 'pipeline');
    this.config = ctx.config ?? PIPELINE_DEFAULTS;
    this.classifier = ctx.classifier;
    this.clock = ctx.clock ?? systemClock;
    const meta = ctx.classifier.meta;
    this.modelName = meta.name;
    this.labels = ctx.classifier.labels;
    this.frontend = new Frontend(ctx.classifier.model.frontend, ctx.frontend);
    const fc = this.frontend.config;
    this.sampleRate = fc.sampleRate;
    this.hop = fc.hopLength;
    this.frameLength = fc.frameLength;
    this.subBlock = SUB_BLOCK_FRAMES * fc.hopLength;
    const c = this.config;
    const hopSec = fc.hopLength / fc.sampleRate;
    const { onsetFrames, hangoverFrames } = vadFrames(c.vad, hopSec);
    let vadSink: Segmenter | null = null;
    // the detector exists first (its lag sizes the segmenter's ring); it reports to the segmenter
    this.vad = new VoiceDetector(c.vad, fc, {
      speechStart: (f) => vadSink!.speechStart(f),
      speechActive: (f) => vadSink!.speechActive(f),
      speechEnd: (f) => vadSink!.speechEnd(f),
    });
    this.segmenter = new Segmenter(
      {
        mode: c.mode,
        dim: this.frontend.dim,
        maxFrames: Math.max(meta.window.minFrames, Math.round(c.maxUtteranceSeconds / hopSec)),
        windowFrames: meta.window.frames,
        hopFrames: meta.window.hopFrames,
        minFrames: meta.window.minFrames,
        // how far back a VAD boundary can name a frame the segmenter has already received
        lookBackFrames: onsetFrames + hangoverFrames + this.vad.lagFrames + 2 * fc.deltas + SUB_BLOCK_FRAMES,
      },
      (s) => this.onSegment(s),
    );
    vadSink = this.segmenter;
    this.queue = new InferenceQueue<SegmentInfo>(ctx.classifier, this.frontend.dim, this.segmenter.maxSegmentFrames, c.queueDepth, () => this.clock.now(), {
      result: (job, cl, _started, done) => this.onResult(job, cl, done),
      held: (job) => this.onCrowdHeld(job),
      error: (job, e) => this.fire('error', new EarshotError('E_MODEL', `inference failed on ${job.info.startSec.toFixed(2)}-${job.info.endSec.toFixed(2)} s: ${e.message}`, { cause: e })),
    }, () => {
      const stats = this.baseline?.stats() ?? null;
      this.lastAdapted = stats !== null;
      return stats;
    });
    // the functional head only where the speech stands clear of the room's noise (pipeline.headMinSnrDb)
    const rms = featureNames(fc).indexOf('rms');
    if (ctx.classifier.head && c.headMinSnrDb > 0 && rms >= 0) {
      const dim = this.frontend.dim;
      this.queue.trustHead = (job) => speechSnrDb(job.features, job.frames, dim, rms, job.info.floorDb) >= c.headMinSnrDb;
    }
    if (ctx.crowd && c.crowd !== 'off') {
      this.crowdMode = c.crowd;
      this.crowdThreshold = ctx.crowd.threshold;
      this.queue.crowd = (features, frames) => ctx.crowd!.score(features, frames);
      // suppress: the detector first, and the emotion model only for what it lets through (issue 32)
      if (c.crowd === 'suppress') this.queue.holdBack = (score) => score < this.crowdThreshold;
    }
    this.baseline =
      ctx.baseline !== undefined
        ? ctx.baseline
        : needsBaseline(meta)
          ? new SpeakerBaseline(this.frontend.dim, hopSec, JSON.stringify(fc), c.adaptation, meta.functionalHead ? FUNCTIONAL_NAMES.length : 0)
          : null;
    this.smoother = new EmotionSmoother(this.labels.length, c.smoothing);
    this.latency = new RollingPercentiles(c.latencyWindow);
    this.inferenceLatency = new RollingPercentiles(c.latencyWindow);
  }

  /**
   * Builds the resampler for a capture rate now rather than on the first chunk (its filter table
   * takes up to 40 ms); throws E_SAMPLE_RATE for a rate the resampler cannot convert, so a daemon
   * can refuse a source before it starts.
   */
  prepare(sampleRate: number): void {
    if (!this.resamplers.has(sampleRate)) this.resamplers.set(sampleRate, new Resampler(sampleRate, this.sampleRate));
  }

  /** Feeds one capture chunk (any size, any supported rate; the samples are not kept). Throws E_SAMPLE_RATE for an unsupported rate. */
  push(chunk: AudioChunk): void {
    const t0 = this.clock.now();
    if (!this.resampler || this.resampler.fromRate !== chunk.sampleRate) this.startStream(chunk);
    const rate = chunk.sampleRate;
    // a capture timestamp ahead of the samples received means audio was lost upstream
    if (chunk.time > this.expectedTime + 1 / rate) this.droppedFrames += Math.round(((chunk.time - this.expectedTime) * this.sampleRate) / this.hop);
    this.expectedTime = chunk.time + chunk.samples.length / rate;
    this.inputSamples += chunk.samples.length;
    this.audioSeconds += chunk.samples.length / rate;
    this.lastEndSec = this.origin + this.inputSamples / rate;
    this.lastEpoch = this.clock.epochMs();
    this.arrivalEnd[this.arrivalNext] = this.lastEndSec;
    this.arrivalMono[this.arrivalNext] = t0;
    this.arrivalNext = (this.arrivalNext + 1) % ARRIVALS;
    if (this.arrivalCount < ARRIVALS) this.arrivalCount++;
    try {
      this.feed(this.resampler!.process(chunk.samples));
    } catch (e) {
      this.fire('error', e as Error);
    }
    this.pushMs += this.clock.now() - t0;
  }

  /**
   * Ends the stream (end of file, capture stopped): flushes the resampler and the frontend, closes
   * open speech, and resolves when every segment has been classified. The next push() starts a new
   * stream (the smoother's state carries over; reset() clears it too).
   */
  async end(): Promise<void> {
    if (this.resampler) {
      const t0 = this.clock.now();
      try {
        this.feed(this.resampler.flush());
        this.vad.finish();
        const tail = this.frontend.flush();
        this.framesProcessed += tail.frames;
        this.segmenter.push(tail);
      } catch (e) {
        this.fire('error', e as Error);
      }
      this.pushMs += this.clock.now() - t0;
      this.resampler = null;
    }
    await this.queue.drain();
  }

  /** Resolves when no inference is running or queued (analyze and benchmarks await it to apply back-pressure). */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  /** Silero network calls so far (0 with vad.kind "energy"): what the VAD costs beyond the energy gate. */
  get vadNetworkCalls(): number {
    return this.vad.networkCalls;
  }

  /** True while an inference runs or waits. */
  get busy(): boolean {
    return this.queue.inFlight || this.queue.queued > 0;
  }

  /**
   * Abandons the current stream (queued segments are discarded; one already running still reports)
   * and the smoothed state. The speaker baseline is kept (it describes the voice and the room, not
   * the stream): resetBaseline() forgets it.
   */
  reset(): void {
    this.resampler = null;
    this.queue.clear();
    this.smoother.reset();
  }

  /** Forgets the speaker baseline (a new speaker or room); utterances are normalised on their own until it is warm again. */
  resetBaseline(): void {
    this.baseline?.reset();
  }

  /** Forgets the smoothed state only (after a long silence the next utterance decides afresh). */
  resetSmoothing(): void {
    this.smoother.reset();
  }

  /** The smoothed state now, stamped now (null before the first confident result): what a per-utterance state update publishes. */
  currentState(): PipelineState | null {
    const index = this.smoother.currentIndex;
    if (index < 0) return null;
    const smoothed = probabilityRecord(this.labels, this.smoother.probabilities);
    return { label: this.labels[index], confidence: smoothed[this.labels[index]], probabilities: smoothed, ...affectOf(smoothed), timestamp: new Date(this.clock.epochMs()).toISOString(), model: this.modelName };
  }

  /** Smoothed probabilities now, by label (all zero before the first result). */
  currentProbabilities(): Record<string, number> {
    return probabilityRecord(this.labels, this.smoother.probabilities);
  }

  stats(): PipelineStats {
    const [p50, p99] = this.latency.percentiles([50, 99]);
    const [i50, i99] = this.inferenceLatency.percentiles([50, 99]);
    const processingMs = this.pushMs + this.queue.busyMs;
    return {
      audioSeconds: this.audioSeconds,
      framesProcessed: this.framesProcessed,
      speechFrames: this.speechFrames + this.vad.activeFrameCount,
      processingMs,
      realTimeFactor: this.audioSeconds > 0 ? processingMs / 1000 / this.audioSeconds : 0,
      latencyMs: { p50, p99 },
      inferenceLatencyMs: { p50: i50, p99: i99 },
      droppedFrames: this.droppedFrames,
      droppedInferences: this.queue.droppedInferences,
      segmentsDropped: this.segmenter.droppedShort,
      crowdSuppressed: this.crowdSuppressed,
      crowdMarked: this.crowdMarked,
      classifications: this.queue.classifications,
      modelMs: { emotion: this.queue.classifyMs, crowd: this.queue.crowdMs },
      segments: this.segments,
      results: this.results,
      stateChanges: this.stateChanges,
      inferenceErrors: this.queue.inferenceErrors,
      listenerErrors: this.listenerErrors,
      inFlight: this.queue.inFlight,
      queued: this.queue.queued,
    };
  }

  private startStream(chunk: AudioChunk): void {
    this.prepare(chunk.sampleRate);
    const r = this.resamplers.get(chunk.sampleRate)!;
    r.reset();
    this.resampler = r;
    this.frontend.reset();
    this.speechFrames += this.vad.activeFrameCount;
    this.vad.reset();
    this.segmenter.reset();
    this.origin = chunk.time;
    this.inputSamples = 0;
    this.expectedTime = chunk.time;
    this.arrivalCount = 0;
  }

  private feed(y: Float32Array): void {
    for (let off = 0; off < y.length; off += this.subBlock) {
      const part = y.length <= this.subBlock ? y : y.subarray(off, off + this.subBlock);
      this.vad.push(part);
      const block = this.frontend.push(part);
      this.framesProcessed += block.frames;
      this.segmenter.push(block);
    }
  }

  /** Monotonic arrival time of the chunk holding stream time t (the oldest remembered if t is older). */
  private arrivalOf(t: number): number {
    let found = this.arrivalMono[(this.arrivalNext - 1 + ARRIVALS) % ARRIVALS];
    for (let i = 1; i <= this.arrivalCount; i++) {
      const k = (this.arrivalNext - i + ARRIVALS) % ARRIVALS;
      if (this.arrivalEnd[k] < t) break;
      found = this.arrivalMono[k];
    }
    return found;
  }

  private isoOf(t: number): string {
    return new Date(this.lastEpoch - (this.lastEndSec - t) * 1000).toISOString();
  }

  private onSegment(s: Segment): void {
    const startSec = this.origin + (s.startFrame * this.hop) / this.sampleRate;
    const endSec = this.origin + ((s.endFrame - 1) * this.hop + this.frameLength) / this.sampleRate;
    const info: SegmentInfo = { startSec, endSec, start: this.isoOf(startSec), end: this.isoOf(endSec), endArrival: this.arrivalOf(endSec), floorDb: this.vad.vad.noiseFloorDb };
    this.segments++;
    this.queue.submit(s, info, (dst) => this.segmenter.copyFrames(s.startFrame, s.endFrame, dst));
  }

  /** pipeline.crowd "suppress": the detector found no dominant talker, so the segment was not classified and nothing is published. */
  private onCrowdHeld(job: Job<SegmentInfo>): void {
    this.crowdSuppressed++;
    this.fire('crowd', { startSec: job.info.startSec, endSec: job.info.endSec, score: job.crowdScore! });
  }

  private onResult(job: Job<SegmentInfo>, c: Classification, doneAt: number): void {
    const i = job.info;
    // below the detector's threshold: no dominant talker; under "suppress" the queue held it back
    // (onCrowdHeld), so here it is "mark"
    const crowd = job.crowdScore !== null && job.crowdScore < this.crowdThreshold;
    if (crowd) this.crowdMarked++;
    const latencyMs = doneAt - i.endArrival;
    const inferenceLatencyMs = doneAt - job.queuedAt;
    this.latency.add(latencyMs);
    this.inferenceLatency.add(inferenceLatencyMs);
    const probabilities = probabilityRecord(this.labels, c.probabilities);
    const uncertain = c.confidence < this.config.uncertainBelow;
    const result: PipelineResult = {
      seq: ++this.seq,
      kind: job.segment.kind,
      startSec: i.startSec,
      endSec: i.endSec,
      start: i.start,
      end: i.end,
      durationMs: Math.round((i.endSec - i.startSec) * 1000),
      frames: job.frames,
      label: uncertain ? UNCERTAIN : c.label,
      confidence: c.confidence,
      probabilities,
      ...affectOf(probabilities),
      adapted: this.lastAdapted,
      ...(crowd ? { crowd: true } : {}),
      model: this.modelName,
      latencyMs,
      inferenceLatencyMs,
    };
    this.results++;
    // label-free: every one-talker utterance joins the speaker baseline, after it was classified
    // against it; babble (crowd) is other voices, and would pull the talker's baseline towards them
    if (!crowd) this.baseline?.add(job.features, job.frames, c.functionals);
    // the smoother runs on stream time, so its dwell and reset times mean the same for a file
    // analysed at 100x real time as for a live microphone; an uncertain result leaves it alone, and
    // so does a crowd one: the state is the talker's, and babble is not the talker
    const changed = uncertain || crowd ? null : this.smoother.update(c.probabilities, i.endSec * 1000);
    this.fire('result', result);
    if (changed) {
      this.stateChanges++;
      const smoothed = probabilityRecord(this.labels, changed.probabilities);
      const state: PipelineState = {
        label: this.labels[changed.index],
        confidence: changed.confidence,
        probabilities: smoothed,
        ...affectOf(smoothed),
        timestamp: new Date(this.clock.epochMs()).toISOString(),
        model: this.modelName,
      };
      this.fire('state', state);
    }
  }
}
