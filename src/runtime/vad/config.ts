/**
 * The VAD's settings (`pipeline.vad` in the daemon's config): one zod schema for the type, the
 * defaults and the validation. The pipeline's schema nests it; the detectors (energy-vad.ts,
 * voice-detector.ts) take the parsed VadConfig, so it is parsed once, where the config is read.
 */
import { z } from 'zod';
import { EarshotError } from '../../core/errors.ts';
import { formatIssues } from '../../core/schema.ts';

/** energy: the adaptive energy gate alone; silero: the Silero network on every window; cascade: Silero only while the energy gate is open (./voice-detector.ts). */
export const VAD_KINDS = ['energy', 'silero', 'cascade'] as const;
export type VadKind = (typeof VAD_KINDS)[number];
/** The daemon's VAD when none is configured; eval, features and train default to it too. */
export const DEFAULT_VAD_KIND: VadKind = 'cascade';

export const vadConfigSchema = z
  .object({
    /**
     * Which detector decides speech: "energy", "silero" or "cascade" (Silero behind the energy gate; as
     * cheap as "energy" in a quiet room, docs/experiments/2026-12-01-vad-in-noise.md). Default "cascade".
     */
    kind: z.enum(VAD_KINDS).default(DEFAULT_VAD_KIND),
    /** dB a frame must be above the tracked noise floor to count as active. Default 9. */
    thresholdDb: z.number().min(0).max(60).default(9),
    /** Absolute gate: frames below this level (dBFS, mean square) are never active. Default -60. */
    minSpeechDb: z.number().max(0).default(-60),
    /** The noise floor never goes below this (dBFS); keeps digital silence from zeroing the threshold. Default -75. */
    minFloorDb: z.number().max(0).default(-75),
    /** Consecutive active audio needed to start speech (ms); shorter clicks are ignored. Default 50. */
    onsetMs: z.number().min(0).max(2000).default(50),
    /** Quiet audio after the last active frame before speech ends (ms); bridges pauses between words. Default 300. */
    hangoverMs: z.number().min(0).max(5000).default(300),
    /** Window of the minimum-statistics noise floor (ms): how long a louder noise takes to be learned. Default 2000. */
    floorWindowMs: z.number().min(100).max(60000).default(2000),
    /** Continuous speech after which its frames feed the noise floor again (ms); bounds how long a new steady noise passes for speech. Default 5000. */
    floorFreezeMs: z.number().min(0).max(600000).default(5000),
    /** silero/cascade: a frame starts to count as speech when Silero's probability reaches this. Default 0.5 (Silero's own). */
    sileroThreshold: z.number().min(0.01).max(0.99).default(0.5),
    /** silero/cascade: inside speech a frame stays speech down to this probability. Default 0.35 (Silero's threshold - 0.15). */
    sileroNegThreshold: z.number().min(0.01).max(0.99).default(0.35),
    /** cascade: Silero runs while a frame is this many dB above the noise floor (the gate: lower than thresholdDb, so quiet speech still opens it). Default 3. */
    gateDb: z.number().min(0).max(60).default(3),
    /** silero/cascade: outside speech a frame must also be this many dB above the noise floor to count (a talker near the microphone is louder than the room's babble); 0 = off. Default 0. */
    sileroOnsetDb: z.number().min(0).max(60).default(0),
    /** cascade: Silero keeps running this long after the gate closed (ms). Default 300. */
    gateHoldMs: z.number().min(0).max(5000).default(300),
    /** cascade: audio before the gate opened that Silero runs over first, to settle its state (ms, whole 32 ms windows). Default 192. */
    lookBackMs: z.number().min(0).max(1000).default(192),
    /** cascade: inside speech Silero has confirmed, a frame this many dB above the noise floor counts as speech without the network (it runs again, with its look-back, once the level falls); 0 = off. Default 0. */
    sileroTrustDb: z.number().min(0).max(60).default(0),
  })
  .refine((c) => c.sileroNegThreshold <= c.sileroThreshold, { message: 'must be <= sileroThreshold', path: ['sileroNegThreshold'] });
export type VadConfig = z.output<typeof vadConfigSchema>;
export type VadConfigInput = z.input<typeof vadConfigSchema>;

/** The defaults, parsed once (a detector built outside a pipeline: tools, tests). */
export const VAD_DEFAULTS: Readonly<VadConfig> = Object.freeze(vadConfigSchema.parse({}));

/** Validates VAD settings; every problem is listed with its path (e.g. `thresholdDb`). */
export function parseVadConfig(input: VadConfigInput = {}, where = 'VAD config'): VadConfig {
  const r = vadConfigSchema.safeParse(input);
  if (r.success) return r.data;
  throw new EarshotError('E_CONFIG', `invalid ${where}:\n  ${formatIssues(r.error.issues).join('\n  ')}`);
}
