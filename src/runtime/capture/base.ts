/**
 * What every capture source shares: the start() promise that resolves on the first chunk or
 * fails after a timeout, the stall watchdog, flat-line detection, the running audio clock, and
 * listeners wrapped so a throwing consumer is logged and counted instead of killing capture
 * (the behaviour of edge-impulse-linux-cli's recorder, with typed errors instead of strings).
 * A concrete source implements open() and close() and calls deliver()/finish()/fail().
 */
import { EventEmitter } from 'node:events';
import { EarshotError } from '../../core/errors.ts';
import {
  realTimers,
  stderrLog,
  type AudioChunk,
  type CaptureConditionKind,
  type CaptureEvents,
  type CaptureLog,
  type CaptureSource,
  type CaptureTimers,
  type CaptureTiming,
} from './source.ts';
import { ChunkAssembler } from './chunker.ts';

export interface SourceContext {
  timers?: CaptureTimers;
  log?: CaptureLog;
}

type State = 'idle' | 'starting' | 'running' | 'stopped';

export abstract class CaptureSourceBase extends EventEmitter<CaptureEvents> implements CaptureSource {
  /** chunk listeners that threw; each is logged once and capture continues */
  listenerErrors = 0;
  protected readonly timers: CaptureTimers;
  protected readonly log: CaptureLog;
  protected readonly assembler: ChunkAssembler;
  protected state: State = 'idle';
  private readonly firstChunkTimeoutMs: number;
  private readonly stallTimeoutMs: number;
  private readonly flatlineSamples: number;
  private samplesDelivered = 0;
  private lastChunkAt = 0;
  private startTimer: unknown = null;
  private stallTimer: unknown = null;
  private settleStart: ((err?: EarshotError) => void) | null = null;
  /** the value of the current run of identical samples, and its length */
  private flatValue = NaN;
  private flatRun = 0;
  private flatReported = false;
  private stallReported = false;

  constructor(
    readonly name: string,
    readonly sampleRate: number,
    timing: CaptureTiming,
    ctx: SourceContext,
  ) {
    super();
    this.timers = ctx.timers ?? realTimers;
    this.log = ctx.log ?? stderrLog;
    this.firstChunkTimeoutMs = timing.firstChunkTimeoutMs;
    this.stallTimeoutMs = timing.stallTimeoutMs;
    this.flatlineSamples = Math.round(timing.flatlineSec * sampleRate);
    this.assembler = new ChunkAssembler(timing.chunkSamples ?? Math.max(1, Math.round((timing.chunkMs / 1000) * sampleRate)), (s) => this.deliver(s));
  }

  /** Begin producing data; call deliver() (directly or through this.assembler) as it arrives. */
  protected abstract open(): Promise<void>;
  /** Release the device or child; must tolerate being called when open() failed halfway. */
  protected abstract close(): Promise<void>;

  async start(): Promise<void> {
    if (this.state !== 'idle') {
      throw new EarshotError('E_CAPTURE', `capture source ${this.name} was already started; create a new source to start again`);
    }
    this.state = 'starting';
    const started = new Promise<void>((resolve, reject) => {
      this.settleStart = (err) => {
        this.settleStart = null;
        this.timers.clearTimeout(this.startTimer);
        this.startTimer = null;
        if (err) reject(err);
        else resolve();
      };
    });
    this.startTimer = this.timers.setTimeout(() => {
      this.startTimer = null;
      const detail = `no audio from ${this.name} within ${this.firstChunkTimeoutMs} ms`;
      this.condition('no-data', detail);
      this.fail(new EarshotError('E_CAPTURE', `${detail}: ${this.noDataHint()}`));
    }, this.firstChunkTimeoutMs);
    try {
      await this.open();
    } catch (e) {
      this.fail(e instanceof EarshotError ? e : new EarshotError('E_CAPTURE', `could not open ${this.name}: ${(e as Error).message}`, { cause: e }));
    }
    return started;
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'idle') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    this.clearTimers();
    this.settleStart?.(new EarshotError('E_CAPTURE', `capture source ${this.name} was stopped before it delivered any audio`));
    this.assembler.reset();
    await this.close();
  }

  /** What to check when a source stays silent; sources override with device-specific advice. */
  protected noDataHint(): string {
    return 'check that the source is producing audio';
  }

  /** Hand over one block of mono samples (already chunked). Ignored once stopped. */
  protected deliver(samples: Float32Array): void {
    if (this.state !== 'starting' && this.state !== 'running') return;
    const chunk: AudioChunk = { samples, sampleRate: this.sampleRate, time: this.samplesDelivered / this.sampleRate };
    this.samplesDelivered += samples.length;
    this.lastChunkAt = this.timers.now();
    if (this.stallReported) {
      this.stallReported = false;
      this.condition('recovered', `audio from ${this.name} is flowing again`);
    }
    this.trackFlatline(samples);
    try {
      this.emit('chunk', chunk);
    } catch (e) {
      if (this.listenerErrors++ === 0) this.log.warn(`a consumer of ${this.name} threw on a chunk (${(e as Error).message}); capture continues, later throws are only counted`);
    }
    if (this.state === 'starting') {
      this.state = 'running';
      this.armStallWatchdog();
      this.settleStart?.();
    }
  }

  /** The audio ran out normally (file, stdin): flush the last partial chunk and emit 'end'. */
  protected finish(): void {
    if (this.state !== 'running' && this.state !== 'starting') return;
    this.assembler.flush();
    if (this.state === 'starting') {
      this.fail(new EarshotError('E_CAPTURE', `${this.name} ended before it delivered any audio: ${this.noDataHint()}`));
      return;
    }
    this.state = 'stopped';
    this.clearTimers();
    void this.close().catch(() => undefined);
    this.emit('end');
  }

  /** A failure: rejects start() if it is pending, else emits 'error'. The source stops itself. */
  protected fail(err: EarshotError): void {
    if (this.state === 'stopped' || this.state === 'idle') return;
    this.state = 'stopped';
    this.clearTimers();
    this.assembler.reset();
    void this.close().catch(() => undefined);
    if (this.settleStart) this.settleStart(err);
    else this.emit('error', err);
  }

  protected condition(kind: CaptureConditionKind, detail: string): void {
    try {
      this.emit('condition', { kind, source: this.name, detail, time: this.samplesDelivered / this.sampleRate });
    } catch (e) {
      this.log.warn(`a condition listener of ${this.name} threw: ${(e as Error).message}`);
    }
  }

  /** Runs of exactly equal samples: a live microphone always has some noise, a dead or muted one does not. */
  private trackFlatline(samples: Float32Array): void {
    if (this.flatlineSamples <= 0) return;
    let value = this.flatValue;
    let run = this.flatRun;
    for (let i = 0; i < samples.length; i++) {
      if (samples[i] === value) run++;
      else { value = samples[i]; run = 1; }
    }
    this.flatValue = value;
    this.flatRun = run;
    if (!this.flatReported && run >= this.flatlineSamples) {
      this.flatReported = true;
      this.condition('flatline', `${this.name} delivered ${(run / this.sampleRate).toFixed(1)} s of constant samples (${value}): the microphone looks dead, muted or unplugged`);
    } else if (this.flatReported && run < this.flatlineSamples) {
      this.flatReported = false;
      this.condition('recovered', `${this.name} delivers varying audio again`);
    }
  }

  /** A periodic check rather than a timer re-armed per chunk: one timer per stall period. */
  private armStallWatchdog(): void {
    if (this.stallTimeoutMs <= 0) return;
    this.stallTimer = this.timers.setTimeout(() => {
      this.stallTimer = null;
      if (this.state !== 'running') return;
      const quietMs = this.timers.now() - this.lastChunkAt;
      if (quietMs >= this.stallTimeoutMs && !this.stallReported) {
        this.stallReported = true;
        this.condition('no-data', `no audio from ${this.name} for ${Math.round(quietMs)} ms: ${this.noDataHint()}`);
      }
      this.armStallWatchdog();
    }, this.stallTimeoutMs);
  }

  private clearTimers(): void {
    this.timers.clearTimeout(this.startTimer);
    this.timers.clearTimeout(this.stallTimer);
    this.startTimer = null;
    this.stallTimer = null;
  }
}
