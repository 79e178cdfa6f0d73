/**
 * The model metadata contract: models/NAME.json beside models/NAME.onnx. Written by
 * earshot_train, read by `earshot eval`, `earshot analyze` and the daemon. It carries
 * everything the runtime needs to reproduce the training-time input exactly (frontend config,
 * feature normalisation, tensor names and layout, how to window a live stream) and everything a
 * reader needs to judge the model (corpora, protocol, measured metrics, licence).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { EarshotError } from '../../core/errors.ts';
import { EMOTIONS } from '../../core/labels.ts';
import { MODELS_DIR } from '../../core/paths.ts';
import { featureCount, frontendConfigSchema, parseFrontendConfig, type FrontendConfig } from '../frontend/config.ts';
import { formatIssues } from '../../core/schema.ts';
import { functionalHeadSchema } from './functional-head.ts';

/** The repository's models/ folder (shipped models). */
export { MODELS_DIR };
/** The model used when none is named. */
export const DEFAULT_MODEL = 'earshot-crnn';

/** Normalisation modes that need the whole window's own statistics (so no incremental form). */
export function perUtterance(mode: ModelMetadata['normalization']['mode']): boolean {
  return mode === 'utterance' || mode === 'cmn' || mode === 'level' || mode === 'speaker' || mode === 'prosody';
}

/** Normalisation modes that use the speaker and room baseline (src/runtime/model/baseline.ts). */
/** True when the runtime keeps a speaker baseline for the model: baseline-normalised features or a functional head. */
export function needsBaseline(meta: Pick<ModelMetadata, 'normalization' | 'functionalHead'>): boolean {
  return usesBaseline(meta.normalization.mode) || meta.functionalHead !== undefined;
}

export function usesBaseline(mode: ModelMetadata['normalization']['mode']): boolean {
  return mode === 'speaker' || mode === 'prosody';
}

/**
 * The feature columns normalised against the speaker baseline (training/python/earshot_train/data.py
 * speaker_columns): every column for "speaker", the non-spectral ones for "prosody", none otherwise.
 */
export function speakerColumns(mode: ModelMetadata['normalization']['mode'], featureNames: readonly string[]): boolean[] {
  if (mode === 'speaker') return featureNames.map(() => true);
  if (mode === 'prosody') return featureNames.map((n) => !/mel|mfcc/.test(n));
  return featureNames.map(() => false);
}

/**
 * Where the input level shows in a feature row (for normalisation "level"): the log-mel columns
 * ("melK") all move by one constant when the gain changes, the linear "rms" column scales with it.
 * training/python/earshot_train/data.py (LevelColumns) picks the same columns.
 */
export function levelColumns(featureNames: readonly string[]): { log: number[]; ratio: number[] } {
  const log: number[] = [];
  const ratio: number[] = [];
  featureNames.forEach((n, j) => {
    if (n.startsWith('mel')) log.push(j);
    else if (n === 'rms') ratio.push(j);
  });
  return { log, ratio };
}

const metricSchema = z.object({
  /** Accuracy in [0, 1]; for fold protocols the mean over folds. */
  accuracy: z.number().min(0).max(1),
  /** Unweighted average recall in [0, 1]. */
  uar: z.number().min(0).max(1),
  f1Macro: z.number().min(0).max(1).optional(),
  /** Standard deviations over folds, when the protocol has folds. */
  accuracySd: z.number().min(0).optional(),
  uarSd: z.number().min(0).optional(),
  /** Binary arousal UAR (high vs low, src/core/affect.ts) in [0, 1]. */
  arousalUar: z.number().min(0).max(1).optional(),
  /** Expected calibration error (15 bins) at the model's temperatures, in [0, 1]. */
  ece: z.number().min(0).max(1).optional(),
  /** Clips scored. */
  n: z.number().int().nonnegative().optional(),
  /** What was trained on and tested on, in words (e.g. "RAVDESS actors 01-16 -> 17-20"). */
  protocol: z.string(),
  /** Who measured: "earshot eval" (TypeScript, onnxruntime-node) or "train.py" (PyTorch). */
  measuredBy: z.enum(['earshot eval', 'train.py']),
  labels: z.array(z.string()).optional(),
});
export type ModelMetric = z.infer<typeof metricSchema>;

const tensorSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.union([z.number().int().positive(), z.string()])),
  /** Initial value of every element of a state input (e.g. 0 for LSTM state, -1e4 for a running max). */
  init: z.number().optional(),
});

export const ttaSchema = z.object({
  tempo: z.array(z.number().min(0.5).max(2)).min(1),
  shiftFrames: z.array(z.number().int().min(0).max(50)).min(1),
});
export type Tta = z.infer<typeof ttaSchema>;

/** What a model's name may be: letters, digits, dot, dash and underscore. */
export const MODEL_NAME = /^[A-Za-z0-9._-]+$/;

export const modelMetadataSchema = z
  .object({
    /** Schema version of this file. */
    schema: z.literal(1),
    /** Model name: the file stem in models/. */
    name: z.string().regex(MODEL_NAME, 'letters, digits, dot, dash and underscore only'),
    /** Architecture id as in training/python/earshot_train/models.py (e.g. "lstm-attn"). */
    architecture: z.string(),
    description: z.string().default(''),
    /** Output classes in logit order; each one of the canonical emotions. */
    labels: z.array(z.enum(EMOTIONS)).min(2),
    /** The exact frontend the features were computed with; the runtime rebuilds it. */
    frontend: frontendConfigSchema,
    /** Column names of the feature matrix, as `earshot features` wrote them. */
    featureNames: z.array(z.string()),
    /**
     * Normalisation applied by the runtime before the model: "global" subtracts mean and divides
     * by std (per feature, from the training set); "utterance" standardises each window/utterance
     * on its own statistics (CMVN); "cmn" subtracts each window/utterance's own mean and divides by
     * std (the training set's, after that subtraction); "level" removes only each
     * window/utterance's input level (its mean log-mel, over frames and bands, from every log-mel
     * column; RMS divided by its mean) and then applies mean and std (the training set's, after
     * that removal), keeping the spectral shape; "speaker" standardises against the speaker and
     * room baseline (src/runtime/model/baseline.ts: the running means and spreads of the speech
     * heard before), and per utterance while there is none yet; "prosody" does that only for the
     * features that are not log-mel or MFCC (RMS, ZCR, f0, voicing: level and pitch relative to the
     * speaker) and normalises the spectral columns per utterance; "none" feeds features as they are.
     */
    normalization: z.object({
      mode: z.enum(['global', 'utterance', 'cmn', 'level', 'speaker', 'prosody', 'none']),
      mean: z.array(z.number()),
      std: z.array(z.number().positive()),
    }),
    /** Input tensor: float32 [batch=1, time, features]; time is dynamic unless window.fixed. */
    input: z.object({ name: z.string().min(1), layout: z.literal('batch,time,features') }),
    /** Output tensor: logits [batch, classes] (softmax is applied by the runtime). */
    output: z.object({ name: z.string().min(1), kind: z.enum(['logits', 'probabilities']) }),
    /** How the runtime runs the model on a live stream, in frames of the frontend. */
    window: z.object({
      /** Frames per window (e.g. 300 = 3 s at a 10 ms hop). */
      frames: z.number().int().positive(),
      /** Frames between window starts. */
      hopFrames: z.number().int().positive(),
      /** Shortest input worth classifying (shorter segments are skipped). */
      minFrames: z.number().int().positive(),
      /** True when the model needs exactly `frames` frames (pad or crop); false: any length. */
      fixed: z.boolean(),
    }),
    /** The ONNX file (relative to this JSON) and its sha256, checked on load. */
    onnx: z.object({
      file: z.string(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      opset: z.number().int(),
      bytes: z.number().int().positive(),
      /** How the weights are stored on disk (the graph computes in float32 either way). */
      weights: z.enum(['fp32', 'fp16', 'int8']).default('fp32'),
    }),
    /**
     * Optional incremental form: the same weights with explicit state inputs/outputs, so the
     * daemon can advance a few frames at a time. Outputs are fed back as inputs, in order. The
     * input `features` takes a multiple of framesPerStep frames, normalised as `normalization`
     * says (only exported for "global" or "none": per-utterance CMVN cannot be computed ahead).
     * The logits after each chunk are those of the full model over everything fed since the
     * state was initialised.
     */
    streaming: z
      .object({
        file: z.string(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        framesPerStep: z.number().int().positive(),
        stateInputs: z.array(tensorSchema),
        stateOutputs: z.array(tensorSchema),
      })
      .optional(),
    /**
     * Optional test-time augmentation: the runtime classifies each utterance once per (tempo,
     * shift) pair and averages the probabilities. tempo resamples the frames (linear
     * interpolation, as earshot_train's tempo augmentation: 1.1 = 10% faster); shiftFrames drops that
     * many leading frames (another phase of the CNN's time pooling). Only for models that take any
     * length (window.fixed false).
     */
    tta: ttaSchema.optional(),
    /**
     * Optional confidence calibration (Guo et al. 2017, "On calibration of modern neural networks"):
     * the runtime divides the log-probabilities by `temperature` and renormalises (after the
     * test-time augmentation mean, and with a functional head after the fusion, by
     * `fusedTemperature`), so a confidence of 0.7 is right about 70% of the time on the
     * predictions it was fitted on. Written by `earshot calibrate`.
     */
    /**
     * Optional functional head (functional-head.ts): a logistic regression on speaker-normalised
     * utterance functionals whose probabilities are averaged with the network's. Written by
     * training/python/earshot_train/functionals.py --export-head. Its speaker statistics live in the speaker baseline.
     */
    functionalHead: functionalHeadSchema.optional(),
    calibration: z
      .object({
        temperature: z.number().min(0.05).max(20),
        /**
         * A model with a functional head: the temperature of the fused probabilities (the head has
         * spoken: a warm speaker baseline); `temperature` is then the network's alone (warming up).
         * Absent: `temperature` for both.
         */
        fusedTemperature: z.number().min(0.05).max(20).optional(),
        /** what it was fitted on, in words (e.g. the held-out predictions of 5 speaker-independent folds) */
        fittedOn: z.string().default(''),
      })
      .optional(),
    parameters: z.number().int().positive(),
    training: z.object({
      corpora: z.array(z.string()),
      /** Protocol in words: which speakers/clips trained, which were held out. */
      protocol: z.string(),
      heldOutSpeakers: z.array(z.string()).default([]),
      seed: z.number().int(),
      epochs: z.number().int().nonnegative(),
      options: z.record(z.string(), z.unknown()).default({}),
      seconds: z.number().nonnegative().optional(),
    }),
    /** Measured results, keyed by a short id (e.g. "ravdess-si-5fold", "emodb-cross"). */
    metrics: z.record(z.string(), metricSchema).default({}),
    /** Licence of the weights, inherited from the training data. */
    licence: z.string().min(1),
  })
  .strict()
  .superRefine((m, ctx) => {
    const dim = featureCount(m.frontend);
    if (m.featureNames.length !== dim) ctx.addIssue({ code: 'custom', path: ['featureNames'], message: `has ${m.featureNames.length} names but the frontend yields ${dim} features` });
    for (const k of ['mean', 'std'] as const) {
      if (m.normalization[k].length !== dim) ctx.addIssue({ code: 'custom', path: ['normalization', k], message: `has ${m.normalization[k].length} values but the frontend yields ${dim} features` });
    }
    if (m.normalization.mode === 'level' && (m.frontend.mfcc !== 0 || m.frontend.deltas !== 0)) {
      ctx.addIssue({ code: 'custom', path: ['normalization', 'mode'], message: 'is "level", which needs log-mel features (frontend mfcc 0, deltas 0)' });
    }
    if (new Set(m.labels).size !== m.labels.length) ctx.addIssue({ code: 'custom', path: ['labels'], message: 'must not repeat a label' });
    if (m.window.minFrames > m.window.frames) ctx.addIssue({ code: 'custom', path: ['window', 'minFrames'], message: `must be <= window.frames (${m.window.frames})` });
    if (m.tta && m.window.fixed) ctx.addIssue({ code: 'custom', path: ['tta'], message: 'needs a model that takes any length (window.fixed false)' });
  });

export type ModelMetadata = z.output<typeof modelMetadataSchema>;

export interface LoadedModel {
  meta: ModelMetadata;
  frontend: FrontendConfig;
  jsonPath: string;
  onnxPath: string;
  /** The ONNX file's bytes (already read for the checksum; handed to the session). */
  onnxBytes: Uint8Array;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Emotion model names available in a folder: stems with both .json and .onnx whose metadata has labels (the crowd detector has none). */
export function listModels(dir = MODELS_DIR): string[] {
  if (!existsSync(dir)) return [];
  const files = new Set(readdirSync(dir));
  return [...files]
    .filter((f) => f.endsWith('.json') && files.has(f.replace(/\.json$/, '.onnx')) && hasLabels(join(dir, f)))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
}

function hasLabels(json: string): boolean {
  try {
    return Array.isArray((JSON.parse(readFileSync(json, 'utf8')) as { labels?: unknown }).labels);
  } catch {
    return false; // unreadable or not JSON: not offered as a model (loading it by name says why)
  }
}

/**
 * Resolves a model by name (a stem in `dir`) or by path (to NAME.json or NAME.onnx); the default
 * model when none is given. Returns the metadata path.
 */
export function resolveModelPath(nameOrPath: string | undefined, dir = MODELS_DIR): string {
  const spec = nameOrPath ?? DEFAULT_MODEL;
  const looksLikePath = spec.includes('/') || spec.endsWith('.json') || spec.endsWith('.onnx') || isAbsolute(spec);
  const json = looksLikePath ? resolve(spec.replace(/\.onnx$/, '.json')) : join(dir, `${spec}.json`);
  if (existsSync(json)) return json;
  const have = listModels(looksLikePath ? dirname(json) : dir);
  throw new EarshotError(
    'E_MODEL',
    `model "${spec}" not found (looked for ${json}). ` +
      (have.length ? `Available in ${looksLikePath ? dirname(json) : dir}: ${have.join(', ')}. ` : `No models in ${dir}. `) +
      `Name one with --model NAME (a NAME.json + NAME.onnx pair in models/) or --model path/to/NAME.json; train one with \`earshot train\`.`,
  );
}

/** How a model is served, where it may differ from what it was trained with. */
export interface ServeOptions {
  /**
   * The frontend's arithmetic: "q15" serves a model trained on f32 features through the fixed-point
   * kernels (and "f32" the other way round). Default: the metadata's own `frontend.arithmetic`.
   */
  arithmetic?: 'f32' | 'q15';
}

/** Reads and validates metadata, checks the .onnx checksum and that the frontend is buildable. */
export function loadModel(nameOrPath?: string, dir = MODELS_DIR, serve: ServeOptions = {}): LoadedModel {
  const jsonPath = resolveModelPath(nameOrPath, dir);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw new EarshotError('E_MODEL', `cannot read model metadata ${jsonPath}: ${(e as Error).message}; re-export the model with earshot_train`, { cause: e });
  }
  const r = modelMetadataSchema.safeParse(raw);
  if (!r.success) {
    throw new EarshotError('E_MODEL', `invalid model metadata ${jsonPath}:\n  ${formatIssues(r.error.issues).join('\n  ')}\nre-export the model with earshot_train`);
  }
  const meta = r.data;
  // Parse again through the public entry point: a frontend the runtime cannot build is refused here.
  let frontend: FrontendConfig;
  try {
    const arithmetic = serve.arithmetic ?? meta.frontend.arithmetic;
    frontend = parseFrontendConfig({ ...meta.frontend, arithmetic }, `frontend of model ${basename(jsonPath)}${arithmetic !== meta.frontend.arithmetic ? ` served in ${arithmetic}` : ''}`);
  } catch (e) {
    throw new EarshotError('E_MODEL', `model ${jsonPath} needs a frontend this runtime cannot build: ${(e as Error).message}`, { cause: e });
  }
  const onnxPath = resolve(dirname(jsonPath), meta.onnx.file);
  if (!existsSync(onnxPath)) throw new EarshotError('E_MODEL', `model ${meta.name}: ${onnxPath} is missing (named by ${jsonPath}); copy it beside the metadata or re-export`);
  const onnxBytes = new Uint8Array(readFileSync(onnxPath));
  const sum = sha256(onnxBytes);
  if (sum !== meta.onnx.sha256) {
    throw new EarshotError('E_MODEL', `model ${meta.name}: ${onnxPath} has sha256 ${sum} but ${basename(jsonPath)} expects ${meta.onnx.sha256}; the file is corrupt or from another export — re-export or restore it`);
  }
  return { meta, frontend, jsonPath, onnxPath, onnxBytes };
}
