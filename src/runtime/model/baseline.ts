/**
 * The speaker and room baseline: unsupervised adaptation for models trained with normalisation
 * "prosody" or "speaker" (earshot_train --norm prosody|speaker). It keeps the means and spreads of the raw frontend
 * features over the speech it has heard, decaying over minutes of speech, and an utterance is
 * normalised against it instead of against its own statistics: a raised voice stays raised
 * relative to how this person in this room usually sounds, where per-utterance CMVN removes it.
 *
 * Estimator (the one earshot_train's SpeakerBaselines uses, plus decay): exponentially weighted moments
 * over speech frames, W = sum w, S1 = sum w x, S2 = sum w x^2 per feature; each new utterance of n
 * frames first decays the old weight by 2^(-n hop / halfLifeSeconds), then adds its frames with
 * weight 1. mean = S1 / W, std = sqrt(S2 / W - mean^2 + floor). An utterance is classified against
 * the baseline before it is added, so it never normalises itself. Robustness to a stretch of one
 * emotion comes from the slow decay (default: half-life 10 minutes of speech, so a minute of anger
 * moves the baseline by about a tenth of the way) and from training on emotion-skewed baselines.
 * Until `warmupSeconds` of speech (decayed weight) are in, `stats()` is null and the model falls
 * back to per-utterance normalisation, which it also saw in training.
 *
 * Durability (saveBaseline / loadBaseline): the state is one small JSON file (about 2 kB for 44
 * features) in the daemon's state directory, written to a temporary file, fsynced and renamed over
 * the old one, so a crash or power cut leaves either the previous or the new state, never a torn
 * file. The daemon saves it every `saveEverySeconds` of new speech and on stop, so a crash loses at
 * most that much speech's contribution (the baseline is then slightly older, not wrong). A file
 * for another frontend (a different model's features) or one that does not parse is ignored with a
 * warning and the baseline starts cold; reset() and `earshot baseline --reset` (or the MQTT reset
 * command) forget it.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { EarshotError } from '../../core/errors.ts';
import { VARIANCE_FLOOR } from '../../core/constants.ts';
import type { FunctionalStats } from './functional-head.ts';

/** Decayed utterance weight before the functionals have a spread (2.5: three recent utterances, which decay a little). */
const MIN_FUNCTIONAL_UTTERANCES = 2.5;

export const baselineConfigSchema = z.object({
  /** Half-life of the baseline's memory, in seconds of speech (not wall time). Default 600. */
  halfLifeSeconds: z.number().min(10).max(86400).default(600),
  /** Speech (seconds, decayed) needed before utterances are normalised against the baseline. Default 15. */
  warmupSeconds: z.number().min(0).max(3600).default(15),
  /** The daemon saves the baseline to its state directory after this much new speech (seconds), and on stop. Default 30. */
  saveEverySeconds: z.number().min(1).max(86400).default(30),
});
export type BaselineConfig = z.output<typeof baselineConfigSchema>;
export type BaselineConfigInput = z.input<typeof baselineConfigSchema>;

/** Normalisation statistics handed to the classifier: per-feature mean and 1/std. */
export interface BaselineStats {
  mean: Float32Array;
  invStd: Float32Array;
  /** the utterance functionals' statistics (models with a functional head, which also need 3 utterances to be warm) */
  functionals?: FunctionalStats | null;
}

const snapshotSchema = z.object({
  version: z.literal(1),
  /** identifies the features (the model frontend's config, serialised); a mismatch starts cold */
  features: z.string(),
  /** frames of speech (decayed) and seconds per frame */
  weight: z.number().nonnegative(),
  hopSeconds: z.number().positive(),
  s1: z.array(z.number()),
  s2: z.array(z.number()),
  utterances: z.number().int().nonnegative(),
  updated: z.string(),
  /** moments of the utterance functionals (models with a functional head): decayed utterance count and sums */
  functionals: z.object({ weight: z.number().nonnegative(), s1: z.array(z.number()), s2: z.array(z.number()) }).optional(),
});
export type BaselineSnapshot = z.output<typeof snapshotSchema>;

export class SpeakerBaseline {
  readonly config: BaselineConfig;
  private weight = 0;
  private readonly s1: Float64Array;
  private readonly s2: Float64Array;
  private readonly out: BaselineStats;
  private fresh = false;
  // the utterance functionals' moments (empty unless functionals > 0)
  private fWeight = 0;
  private readonly f1: Float64Array;
  private readonly f2: Float64Array;
  private readonly fOut: FunctionalStats;
  /** utterances added since start or reset */
  utterances = 0;

  /**
   * @param dim features per frame
   * @param hopSeconds seconds per frame (the frontend's hop)
   * @param features a key of the feature layout (e.g. the frontend config as JSON), stored with the state
   * @param functionals utterance functionals per utterance to keep statistics of (a model's functional head), or 0
   */
  constructor(
    readonly dim: number,
    readonly hopSeconds: number,
    readonly features: string,
    config: BaselineConfigInput | BaselineConfig = {},
    readonly functionals = 0,
  ) {
    this.config = baselineConfigSchema.parse(config);
    this.s1 = new Float64Array(dim);
    this.s2 = new Float64Array(dim);
    this.f1 = new Float64Array(functionals);
    this.f2 = new Float64Array(functionals);
    this.fOut = { mean: new Float64Array(functionals), invStd: new Float64Array(functionals) };
    this.out = { mean: new Float32Array(dim), invStd: new Float32Array(dim), functionals: null };
  }

  /** Seconds of speech in the baseline (decayed). */
  get speechSeconds(): number {
    return this.weight * this.hopSeconds;
  }

  get warm(): boolean {
    // with a functional head, also enough utterances for a spread of the functionals
    return this.weight > 0 && this.speechSeconds >= this.config.warmupSeconds && (!this.functionals || this.fWeight >= MIN_FUNCTIONAL_UTTERANCES);
  }

  /**
   * Adds an utterance's frames (frames*dim row-major raw features) and, for a functional head, its
   * functionals (one utterance, weight 1, decayed as the frames are).
   */
  add(x: Float32Array, frames: number, functionals?: Float64Array): void {
    const d = this.dim;
    if (frames <= 0) return;
    if (x.length < frames * d) throw new EarshotError('E_CONFIG', `baseline: ${x.length} values for ${frames} frames of ${d}`);
    const decay = 2 ** (-(frames * this.hopSeconds) / this.config.halfLifeSeconds);
    for (let j = 0; j < d; j++) {
      this.s1[j] *= decay;
      this.s2[j] *= decay;
    }
    this.weight = this.weight * decay + frames;
    if (functionals && this.functionals) {
      if (functionals.length !== this.functionals) throw new EarshotError('E_INTERNAL', `baseline: ${functionals.length} functionals, expected ${this.functionals}`);
      this.fWeight = this.fWeight * decay + 1;
      for (let i = 0; i < this.functionals; i++) {
        this.f1[i] = this.f1[i] * decay + functionals[i];
        this.f2[i] = this.f2[i] * decay + functionals[i] * functionals[i];
      }
    }
    for (let t = 0; t < frames; t++) {
      for (let j = 0; j < d; j++) {
        const v = x[t * d + j];
        this.s1[j] += v;
        this.s2[j] += v * v;
      }
    }
    this.utterances++;
    this.fresh = false;
  }

  /** The statistics to normalise with (a reused object), or null while warming up. */
  stats(): BaselineStats | null {
    if (!this.warm) return null;
    if (!this.fresh) {
      for (let j = 0; j < this.dim; j++) {
        const m = this.s1[j] / this.weight;
        const v = Math.max(this.s2[j] / this.weight - m * m, 0);
        this.out.mean[j] = m;
        this.out.invStd[j] = 1 / Math.sqrt(v + VARIANCE_FLOOR);
      }
      this.out.functionals = this.functionals ? this.functionalStats() : null;
      this.fresh = true;
    }
    return this.out;
  }

  private functionalStats(): FunctionalStats {
    for (let i = 0; i < this.functionals; i++) {
      const m = this.f1[i] / this.fWeight;
      this.fOut.mean[i] = m;
      this.fOut.invStd[i] = 1 / Math.sqrt(Math.max(this.f2[i] / this.fWeight - m * m, 0) + VARIANCE_FLOOR);
    }
    return this.fOut;
  }

  reset(): void {
    this.fWeight = 0;
    this.f1.fill(0);
    this.f2.fill(0);
    this.weight = 0;
    this.s1.fill(0);
    this.s2.fill(0);
    this.utterances = 0;
    this.fresh = false;
  }

  snapshot(now = new Date()): BaselineSnapshot {
    return {
      version: 1, features: this.features, weight: this.weight, hopSeconds: this.hopSeconds, s1: [...this.s1], s2: [...this.s2], utterances: this.utterances, updated: now.toISOString(),
      ...(this.functionals ? { functionals: { weight: this.fWeight, s1: [...this.f1], s2: [...this.f2] } } : {}),
    };
  }

  /** Takes over a snapshot; returns why not (and leaves the baseline as it was) when it does not fit. */
  restore(raw: unknown): string | null {
    const r = snapshotSchema.safeParse(raw);
    if (!r.success) return `not a baseline snapshot (${r.error.issues[0]?.message})`;
    const s = r.data;
    if (s.features !== this.features || s.hopSeconds !== this.hopSeconds || s.s1.length !== this.dim || s.s2.length !== this.dim) return 'it was taken with other features (another model or frontend)';
    const f = s.functionals;
    if (this.functionals && f && (f.s1.length !== this.functionals || f.s2.length !== this.functionals)) return 'its functional statistics are for another functional head';
    this.weight = s.weight;
    this.s1.set(s.s1);
    this.fWeight = this.functionals && f ? f.weight : 0;
    if (this.functionals) {
      this.f1.set(f ? f.s1 : new Float64Array(this.functionals));
      this.f2.set(f ? f.s2 : new Float64Array(this.functionals));
    }
    this.s2.set(s.s2);
    this.utterances = s.utterances;
    this.fresh = false;
    return null;
  }
}

/** Writes the baseline atomically (temporary file, fsync, rename). */
export function saveBaseline(path: string, b: SpeakerBaseline, now = new Date()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(b.snapshot(now))}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Restores the baseline from `path`; returns a warning when a file exists but cannot be used (the baseline stays cold), null otherwise. */
export function loadBaseline(path: string, b: SpeakerBaseline): string | null {
  if (!existsSync(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return `baseline ${path} ignored: ${(e as Error).message}; starting cold`;
  }
  const why = b.restore(raw);
  return why ? `baseline ${path} ignored: ${why}; starting cold` : null;
}

/** What a saved baseline holds, for `earshot baseline` (null: no file). Throws E_CONFIG for an unreadable one. */
export function describeBaseline(path: string): { speechSeconds: number; utterances: number; updated: string } | null {
  if (!existsSync(path)) return null;
  try {
    const s = snapshotSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
    return { speechSeconds: s.weight * s.hopSeconds, utterances: s.utterances, updated: s.updated };
  } catch (e) {
    throw new EarshotError('E_CONFIG', `${path} is not a readable baseline (${(e as Error).message}); remove it with \`earshot baseline --reset\``, { cause: e });
  }
}

/** Forgets the saved baseline (the file and a leftover temporary file). */
export function removeBaseline(path: string): void {
  rmSync(path, { force: true });
  rmSync(`${path}.tmp`, { force: true });
}
