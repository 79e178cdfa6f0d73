/**
 * The capture contract every audio source implements (PortAudio, arecord, file replay, stdin),
 * and the narrow side-effect types they are given (clock and timers, a logger), so tests drive
 * them with real devices or with a manual clock instead of module mocks.
 */
import type { EventEmitter } from 'node:events';
import type { EarshotError } from '../../core/errors.ts';
import type { CaptureConfig } from './config.ts';

/** One block of captured audio. */
export interface AudioChunk {
  /** mono samples in [-1, 1] at `sampleRate`; may be a buffer the source reuses: copy it to keep it */
  samples: Float32Array;
  /** Hz */
  sampleRate: number;
  /** seconds of audio delivered since start() before this chunk's first sample */
  time: number;
}

/**
 * A health change the daemon reports (MQTT metrics) without stopping:
 * - `no-data`: nothing arrived within the timeout (before the first chunk, or a stall after it)
 * - `device-lost`: the device or the child process reading it went away
 * - `flatline`: N seconds of exactly constant samples (a dead or muted microphone; real silence is never exact)
 * - `recovered`: audio flows normally again after one of the above
 */
export type CaptureConditionKind = 'no-data' | 'device-lost' | 'flatline' | 'recovered';

export interface CaptureCondition {
  kind: CaptureConditionKind;
  /** the source's name, e.g. `arecord:hw:1,0` */
  source: string;
  /** one human sentence: what happened and, where it helps, what to check */
  detail: string;
  /** seconds of audio delivered when it happened */
  time: number;
}

export type CaptureEvents = {
  chunk: [AudioChunk];
  /** the source ran out of audio normally (end of file or of stdin); never emitted for a live device */
  end: [];
  /** a failure after start() resolved; the source has stopped itself */
  error: [EarshotError];
  condition: [CaptureCondition];
};

/**
 * Attach listeners before start(): chunks flow from the moment the first one resolves start().
 */
export interface CaptureSource extends EventEmitter<CaptureEvents> {
  /** `kind:device`, as written in --source */
  readonly name: string;
  /** Hz of the samples this source delivers */
  readonly sampleRate: number;
  /** Resolves when the first chunk has been emitted; rejects with E_CAPTURE if none comes within the first-chunk timeout. */
  start(): Promise<void>;
  /** Stops delivering and releases the device or child process; resolves when released. Safe to call twice. */
  stop(): Promise<void>;
}

/** Monotonic clock and one-shot timers (ms). Narrow so tests can pass a manual clock. */
export interface CaptureTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: CaptureTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Where sources say what they decided (a fallback, a restart). pino's logger fits this. */
export interface CaptureLog {
  info(msg: string): void;
  warn(msg: string): void;
  /** what a device backend prints on stderr (libasound's `ALSA lib ...` lines): seen at log level debug only */
  debug?(msg: string): void;
}

export const stderrLog: CaptureLog = {
  info: (msg) => process.stderr.write(`earshot capture: ${msg}\n`),
  warn: (msg) => process.stderr.write(`earshot capture: warning: ${msg}\n`),
};

/**
 * Tunables shared by every source: the parsed capture config's (./config.ts documents each and its
 * default; CAPTURE_DEFAULTS holds them for sources built outside the daemon). A stallTimeoutMs of 0
 * turns the stall watchdog off (tests; the schema itself asks for at least 100 ms).
 */
export type CaptureTiming = Pick<CaptureConfig, 'firstChunkTimeoutMs' | 'stallTimeoutMs' | 'flatlineSec' | 'chunkMs' | 'stopGraceMs'> & {
  /** samples per emitted chunk, when it must be exact (tests, analysis); default chunkMs of audio */
  chunkSamples?: number;
};
