/**
 * Keeps audio coming for a daemon that must never exit because a microphone hiccupped: it wraps
 * a source factory, and when the source times out, loses its device, flat-lines or fails, it
 * reports the condition and starts a fresh source after an exponential backoff (injected timers).
 * Chunks pass straight through, re-stamped on one continuous audio clock across restarts.
 */
import { EventEmitter } from 'node:events';
import { EarshotError } from '../../core/errors.ts';
import {
  realTimers,
  stderrLog,
  type CaptureConditionKind,
  type CaptureEvents,
  type CaptureLog,
  type CaptureSource,
  type CaptureTimers,
} from './source.ts';

/** Backoff multiplier per consecutive failure (an implementation constant, not a setting). */
const BACKOFF_FACTOR = 2;
/** Seconds of healthy audio after which the backoff starts again from its first delay. */
const HEALTHY_RESET_SEC = 30;

export interface SupervisorOptions {
  /** ms before the first restart: the config's capture.restartBackoffMs (its default lives there) */
  initialBackoffMs: number;
  /** ms cap on the backoff: capture.restartBackoffMaxMs */
  maxBackoffMs: number;
  /** backoff multiplier per consecutive failure; default BACKOFF_FACTOR (tests change it) */
  backoffFactor?: number;
  /** seconds of healthy audio after which the backoff starts again; default HEALTHY_RESET_SEC */
  healthyResetSec?: number;
  /** restart the source when it flat-lines (a muted mic may come back on reopen); default true */
  restartOnFlatline?: boolean;
}

export interface SupervisorContext {
  timers?: CaptureTimers;
  log?: CaptureLog;
}

export type SourceFactory = () => Promise<CaptureSource>;

export class SupervisedSource extends EventEmitter<CaptureEvents> implements CaptureSource {
  /** how many times a source was (re)started */
  attempts = 0;
  /** restarts after a failure or condition */
  restarts = 0;
  private readonly timers: CaptureTimers;
  private readonly log: CaptureLog;
  private current: CaptureSource | null = null;
  private stopped = false;
  private retryTimer: unknown = null;
  private backoffMs: number;
  private samplesOut = 0;
  private healthySamples = 0;
  private degraded = false;
  private rate = 0;
  private firstChunk: { resolve: () => void; reject: (e: EarshotError) => void } | null = null;

  constructor(
    readonly name: string,
    private readonly factory: SourceFactory,
    private readonly opts: SupervisorOptions,
    ctx: SupervisorContext = {},
  ) {
    super();
    this.timers = ctx.timers ?? realTimers;
    this.log = ctx.log ?? stderrLog;
    this.backoffMs = opts.initialBackoffMs;
  }

  /** Hz of the current source (0 until one has started). */
  get sampleRate(): number {
    return this.rate;
  }

  /**
   * Resolves on the first chunk from any attempt: a missing device at boot is retried, not fatal.
   * Rejects only if stop() comes first.
   */
  start(): Promise<void> {
    const first = new Promise<void>((resolve, reject) => (this.firstChunk = { resolve, reject }));
    void this.attempt();
    return first;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.firstChunk?.reject(new EarshotError('E_CAPTURE', `${this.name} was stopped before any audio arrived`));
    this.firstChunk = null;
    const s = this.current;
    this.current = null;
    if (s) {
      s.removeAllListeners();
      s.on('error', () => undefined);
      await s.stop();
    }
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    this.attempts++;
    let source: CaptureSource;
    try {
      source = await this.factory();
    } catch (e) {
      this.failed(e, 'device-lost');
      return;
    }
    if (this.stopped) return;
    this.current = source;
    this.rate = source.sampleRate;
    source.on('chunk', (c) => {
      if (this.current !== source) return;
      if (this.degraded) {
        this.degraded = false;
        this.report('recovered', `${source.name} delivers audio again after ${this.restarts} restart(s)`);
      }
      this.healthySamples += c.samples.length;
      if (this.healthySamples >= (this.opts.healthyResetSec ?? HEALTHY_RESET_SEC) * c.sampleRate) this.backoffMs = this.opts.initialBackoffMs;
      const time = this.samplesOut / c.sampleRate;
      this.samplesOut += c.samples.length;
      this.emit('chunk', { samples: c.samples, sampleRate: c.sampleRate, time });
      if (this.firstChunk) {
        this.firstChunk.resolve();
        this.firstChunk = null;
      }
    });
    source.on('condition', (c) => {
      if (this.current !== source) return;
      if (c.kind === 'recovered') {
        // the source healed itself (e.g. a stall ended): pass it on unless we already said so
        if (this.degraded) { this.degraded = false; this.emit('condition', c); }
        return;
      }
      this.degraded = true;
      this.healthySamples = 0;
      this.emit('condition', c);
      if (c.kind === 'flatline' && this.opts.restartOnFlatline === false) return;
      if (c.kind === 'flatline' || c.kind === 'no-data') this.restart(source, `${c.kind}: ${c.detail}`);
    });
    source.on('error', (e) => {
      if (this.current === source) this.failed(e, 'device-lost');
    });
    // Files and stdin end; a daemon then has nothing left to supervise.
    source.on('end', () => {
      if (this.current === source) this.emit('end');
    });
    try {
      await source.start();
    } catch (e) {
      // a timed-out start already raised no-data and was restarted (current moved on); this is an open failure
      if (this.current === source) this.failed(e, 'device-lost');
    }
  }

  private failed(e: unknown, kind: CaptureConditionKind | null): void {
    const msg = e instanceof Error ? e.message : String(e);
    if (kind && !this.degraded) this.report(kind, msg);
    this.degraded = true;
    this.healthySamples = 0;
    this.scheduleRetry(msg);
  }

  private restart(source: CaptureSource, why: string): void {
    this.current = null;
    source.removeAllListeners();
    source.on('error', () => undefined); // a late error from a source being dropped is not news
    void source.stop().catch(() => undefined);
    this.scheduleRetry(why);
  }

  private scheduleRetry(why: string): void {
    if (this.stopped) return;
    if (this.current) {
      const s = this.current;
      this.current = null;
      s.removeAllListeners();
      s.on('error', () => undefined);
      void s.stop().catch(() => undefined);
    }
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.opts.maxBackoffMs, delay * (this.opts.backoffFactor ?? BACKOFF_FACTOR));
    this.restarts++;
    this.log.warn(`${this.name}: ${why}; restarting capture in ${delay} ms (restart ${this.restarts})`);
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      void this.attempt();
    }, delay);
  }

  private report(kind: CaptureConditionKind, detail: string): void {
    this.emit('condition', { kind, source: this.name, detail, time: this.samplesOut / (this.rate || 1) });
  }
}
