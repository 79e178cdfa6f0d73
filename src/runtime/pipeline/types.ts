/**
 * What flows out of the pipeline (typed event map) and the side effects it is given (clock, log).
 * The pipeline knows nothing of MQTT: src/runtime/publish/from-pipeline.ts maps these results
 * onto the payloads.
 */
import { EventEmitter } from 'node:events';
import type { SegmentKind } from './segmenter.ts';

/** A class name as the model's metadata spells it, e.g. `neutral`, `angry`; results below the confidence threshold are `uncertain`. */
export type ClassLabel = string;

/** The label of a result below `uncertainBelow`. */
export const UNCERTAIN = 'uncertain';

/** One classified utterance or window. */
export interface PipelineResult {
  /** Sequence number in this pipeline, from 1. */
  seq: number;
  kind: SegmentKind;
  /** Start and end of the classified audio, seconds of stream time (the capture's `time` axis). */
  startSec: number;
  endSec: number;
  /** The same instants on the wall clock, ISO 8601 UTC (mapped through the arrival time of the audio). */
  start: string;
  end: string;
  durationMs: number;
  frames: number;
  /** The most probable class, or `uncertain` when its confidence is below the pipeline's `uncertainBelow`. */
  label: ClassLabel;
  /** Probability of the most probable class (calibrated when the model is), 0..1. */
  confidence: number;
  /** Every class of the model, 0..1. */
  probabilities: Record<ClassLabel, number>;
  /** From the probabilities (src/core/affect.ts), -1..1. */
  arousal: number;
  valence: number;
  /** True when the utterance was normalised against a warm speaker baseline (models with normalisation "speaker" or "prosody"). */
  adapted: boolean;
  /** true: the crowd detector found no dominant talker (babble, a crowd) and pipeline.crowd is "mark"; absent otherwise. */
  crowd?: boolean;
  model: string;
  /** From the arrival of the segment's last audio to this result (ms); includes the VAD hang-over. */
  latencyMs: number;
  /** From handing the segment to inference to this result (ms), queueing included. */
  inferenceLatencyMs: number;
}

/** The smoothed emotion after a change (hysteresis and minimum dwell passed). */
export interface PipelineState {
  label: ClassLabel;
  /** Smoothed probability of `label`, 0..1. */
  confidence: number;
  /** Every class of the model, smoothed, 0..1. */
  probabilities: Record<ClassLabel, number>;
  /** From the smoothed probabilities (src/core/affect.ts), -1..1. */
  arousal: number;
  valence: number;
  /** When the change was decided, ISO 8601 UTC. */
  timestamp: string;
  model: string;
}

/** What the pipeline remembers about a segment between handing it over and its result. */
export interface SegmentInfo {
  startSec: number;
  endSec: number;
  start: string;
  end: string;
  /** monotonic ms when the segment's last audio arrived */
  endArrival: number;
  /** the energy VAD's noise floor (dB) when the segment ended (NaN before it has one) */
  floorDb: number;
}

export type PipelineEvents = {
  /** one per classified utterance/window */
  result: [PipelineResult];
  /** an utterance with no dominant talker, not published (pipeline.crowd "suppress"); `score` is the detector's */
  crowd: [{ startSec: number; endSec: number; score: number }];
  /** the smoothed emotion changed */
  state: [PipelineState];
  /** a stage failed on one segment or chunk; the pipeline goes on */
  error: [Error];
};

/** Monotonic ms for durations, epoch ms for timestamps. */
export interface PipelineClock {
  now(): number;
  epochMs(): number;
}

export const systemClock: PipelineClock = {
  now: () => performance.now(),
  epochMs: () => Date.now(),
};

/** pino's logger fits this. */
export interface PipelineLog {
  warn(msg: string): void;
}

export const stderrPipelineLog: PipelineLog = {
  warn: (msg) => process.stderr.write(`earshot pipeline: warning: ${msg}\n`),
};

/**
 * An EventEmitter whose fire() runs every listener inside try/catch: a throwing consumer (the
 * publisher, a test) is logged once and counted, and neither the other listeners nor the stage
 * that emitted are affected. An `error` with no listener is logged instead of thrown.
 */
export class GuardedEmitter<E extends Record<keyof E, unknown[]>> extends EventEmitter<E> {
  listenerErrors = 0;

  constructor(protected readonly log: PipelineLog, private readonly stageName: string) {
    super();
  }

  /** Emits `event` to every listener, each inside try/catch. Stages call this instead of emit(). */
  protected fire<K extends keyof E & string>(event: K, ...args: E[K]): void {
    const listeners = this.rawListeners(event as never) as unknown as ((...a: unknown[]) => void)[];
    if (listeners.length === 0) {
      if (event === 'error') this.log.warn(`${this.stageName}: ${(args[0] as Error)?.message ?? String(args[0])}`);
      return;
    }
    for (const fn of listeners) {
      try {
        fn.apply(this, args);
      } catch (e) {
        if (this.listenerErrors++ === 0) {
          this.log.warn(`a listener of ${this.stageName} '${event}' threw (${(e as Error).message}); it goes on, later throws are only counted`);
        }
      }
    }
  }
}

/** A label -> probability record in the model's label order. */
export function probabilityRecord(labels: readonly string[], p: ArrayLike<number>): Record<ClassLabel, number> {
  const out: Record<ClassLabel, number> = {};
  for (let k = 0; k < labels.length; k++) out[labels[k]] = p[k];
  return out;
}
