/**
 * The capture stage's settings: one zod schema for the type, the defaults and the validation.
 * The daemon's config schema nests it (as `capture`, with `source` beside it); every capture
 * source takes the parsed values (CaptureTiming in ./source.ts), so a default is written here once.
 */
import { z } from 'zod';
import { MODEL_SAMPLE_RATE } from '../../core/constants.ts';

export const captureConfigSchema = z.strictObject({
  /** Capture rate (Hz) for devices whose spec has no @RATE. Default 16000 (the models' rate: no resampling). */
  sampleRate: z.number().int().min(4000).max(384000).default(MODEL_SAMPLE_RATE),
  /** file: sources are paced at real time, like a microphone. Default true. */
  realtime: z.boolean().default(true),
  /** file: sources start over at the end instead of ending the daemon. Default false. */
  loop: z.boolean().default(false),
  /** Audio per chunk handed to the pipeline (ms). Default 100. */
  chunkMs: z.number().min(5).max(1000).default(100),
  /** ms to wait for the first audio before reporting `no-data` and retrying. Default 5000, at most 600000 (10 min). */
  firstChunkTimeoutMs: z.number().int().min(100).max(600_000).default(5000),
  /** ms without audio, once it flowed, before `no-data` (and /healthz turns 503). Default 2000, at most 600000 (10 min). */
  stallTimeoutMs: z.number().int().min(100).max(600_000).default(2000),
  /** Seconds of exactly constant samples before `flatline`; 0 disables. Default 5, at most 3600. */
  flatlineSec: z.number().min(0).max(3600).default(5),
  /** ms a device backend (arecord, the PortAudio worker) gets to release the device on stop before it is killed or abandoned. Default 2000, at most 60000. */
  stopGraceMs: z.number().int().min(50).max(60_000).default(2000),
  /** First delay before restarting a failed device (ms); doubles per failure. Default 500, at most 3600000 (1 h). */
  restartBackoffMs: z.number().int().min(10).max(3_600_000).default(500),
  /** Cap on that delay (ms). Default 30000, at most 3600000 (1 h). */
  restartBackoffMaxMs: z.number().int().min(10).max(3_600_000).default(30_000),
});
export type CaptureConfig = z.output<typeof captureConfigSchema>;
export type CaptureConfigInput = z.input<typeof captureConfigSchema>;

/** The defaults, parsed once: what a source built outside the daemon (analyze, tests) starts from. */
export const CAPTURE_DEFAULTS: Readonly<CaptureConfig> = Object.freeze(captureConfigSchema.parse({}));
