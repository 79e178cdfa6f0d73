/**
 * The pipeline's settings: one zod schema for the type, the defaults and the validation. The
 * daemon's config schema nests it (as `pipeline`); `earshot analyze` fills it from its flags.
 */
import { z } from 'zod';
import { EarshotError } from '../../core/errors.ts';
import { vadConfigSchema } from '../vad/config.ts';
import { baselineConfigSchema } from '../model/baseline.ts';
import { smootherConfigSchema } from './smoother.ts';
import { formatIssues } from '../../core/schema.ts';

export const SEGMENT_MODES = ['utterance', 'window'] as const;
/** What the crowd detector (models/earshot-crowd) does with an utterance in which it finds no dominant talker. */
export const CROWD_MODES = ['suppress', 'mark', 'off'] as const;
export type CrowdMode = (typeof CROWD_MODES)[number];

/**
 * A command's `--crowd MODE`, checked against the modes that command takes (`earshot analyze`: all
 * three; `earshot eval`: suppress or mark, since leaving the flag out is off there).
 */
export function parseCrowdFlag<M extends CrowdMode>(value: string, allowed: readonly M[], note = ''): M {
  const mode = allowed.find((m) => m === value);
  if (mode === undefined) throw new EarshotError('E_USAGE', `--crowd ${value}: use one of ${allowed.join(', ')}${note}`);
  return mode;
}

export const pipelineConfigSchema = z.object({
  /** "utterance": one result per VAD segment; "window": sliding windows of the model's meta.window over speech. Default "utterance". */
  mode: z.enum(SEGMENT_MODES).default('utterance'),
  /** Utterance mode: longer speech is cut into pieces of at most this many seconds. Default 6. */
  maxUtteranceSeconds: z.number().min(0.5).max(60).default(6),
  /** Segments that may wait while one inference runs; when full, the oldest waiting one is dropped. Default 1. */
  queueDepth: z.number().int().min(1).max(64).default(1),
  /** Results whose latency percentiles stats() reports. Default 256. */
  latencyWindow: z.number().int().min(8).max(100000).default(256),
  /**
   * "Not sure": a result whose (calibrated) confidence is below this is reported with label
   * "uncertain" (its probabilities kept) and does not move the smoothed state; 0 = never. Default 0.
   */
  uncertainBelow: z.number().min(0).max(1).default(0),
  /**
   * A model's functional head (prosody: pitch, jitter, shimmer, HNR) is fused only with utterances
   * at least this many dB above the room's noise floor (the energy VAD's): below it, babble or noise
   * ruins those measurements and the network answers alone. 0 = always fused. Default 15
   * (docs/experiments/2026-12-07-crowds-and-cost.md, "The babble gap").
   */
  headMinSnrDb: z.number().min(0).max(60).default(15),
  /**
   * Utterances with no dominant talker (babble, a crowd; models/earshot-crowd): "suppress" publishes
   * nothing for them (counted), "mark" publishes them with `crowd: true` (they leave the emotion
   * state and the speaker baseline alone), "off" does not run the detector. Default "mark"
   * (docs/experiments/2026-12-07-crowds-and-cost.md).
   */
  crowd: z.enum(CROWD_MODES).default('mark'),
  vad: vadConfigSchema.prefault({}),
  /** The speaker and room baseline of models trained with normalisation "speaker" or "prosody" (unused by others). */
  adaptation: baselineConfigSchema.prefault({}),
  smoothing: smootherConfigSchema.prefault({}),
});
export type PipelineConfig = z.output<typeof pipelineConfigSchema>;
export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;

/** The defaults, parsed once (a pipeline built without settings). */
export const PIPELINE_DEFAULTS: Readonly<PipelineConfig> = Object.freeze(pipelineConfigSchema.parse({}));

/** Validates a pipeline config; every problem is listed with its path (e.g. `vad.thresholdDb`). */
export function parsePipelineConfig(input: unknown, where = 'pipeline config'): PipelineConfig {
  const r = pipelineConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  throw new EarshotError('E_CONFIG', `invalid ${where}:\n  ${formatIssues(r.error.issues).join('\n  ')}`);
}
