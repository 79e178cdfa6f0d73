/**
 * One ONNX Runtime session per model, created once and reused by `earshot eval`, `earshot
 * analyze` and the daemon. It owns the feature normalisation the model was trained with, so a
 * caller hands it raw frontend features and gets class probabilities back.
 *
 * Buffers: the normalised input and the probability vector are preallocated and grown only when
 * a longer input arrives; nothing is allocated per frame.
 */
import '../../core/ort-env.ts'; // first: ONNX Runtime's telemetry off before the library loads
import * as ort from 'onnxruntime-node';
import { EarshotError } from '../../core/errors.ts';
import { VARIANCE_FLOOR } from '../../core/constants.ts';
import type { Emotion } from '../../core/labels.ts';
import { featureCount } from '../frontend/config.ts';
import type { BaselineStats } from './baseline.ts';
import { FunctionalHead } from './functional-head.ts';
import { levelColumns, loadModel, MODELS_DIR, perUtterance, speakerColumns, usesBaseline, type LoadedModel, type ModelMetadata, type ServeOptions } from './metadata.ts';

export interface Classification {
  /** Softmax probabilities in `labels` order. The array is reused by the next call: copy to keep. */
  probabilities: Float32Array;
  label: Emotion;
  confidence: number;
  /** with a functional head: the utterance's raw functionals (reused by the next call; the speaker baseline takes them in) */
  functionals?: Float64Array;
  /** the functional head was fused into `probabilities` (a warm baseline, and `fuseHead`) */
  fused?: boolean;
}

/** Bound of a feature normalised against a speaker baseline; training/python/earshot_train/data.py SPEAKER_CLIP is the same (why: there). */
export const SPEAKER_CLIP = 6;
/** Smallest mean RMS normalisation "level" divides by; training/python/earshot_train/data.py uses the same value. */
export const LEVEL_RMS_FLOOR = 1e-8;

export class EmotionClassifier {
  readonly meta: ModelMetadata;
  readonly labels: readonly Emotion[];
  readonly dim: number;
  readonly model: LoadedModel;
  private readonly session: ort.InferenceSession;
  private input: Float32Array;
  private readonly probs: Float32Array;
  private readonly invStd: Float32Array;
  private readonly utterMean: Float32Array;
  private readonly utterInvStd: Float32Array;
  private readonly windowProbs: Float32Array;
  private readonly level: { log: number[]; ratio: number[] };
  /** per column: normalised against the speaker baseline when there is one (modes "speaker", "prosody") */
  private readonly fromBaseline: boolean[];
  /** Test-time augmentation as [tempo, shiftFrames] pairs; empty: the utterance once, as it is. */
  readonly tta: readonly (readonly [number, number])[];
  private stretched: Float32Array;
  /** 1 / the calibration temperature (1: uncalibrated) */
  private readonly invTemperature: number;
  /** 1 / the temperature of the fused probabilities (a functional head that spoke) */
  private readonly invFusedTemperature: number;
  /** the functional head fused with the network (metadata functionalHead), or null */
  readonly head: FunctionalHead | null;

  private constructor(model: LoadedModel, session: ort.InferenceSession, tta: boolean, calibrate: boolean) {
    this.model = model;
    this.meta = model.meta;
    this.labels = model.meta.labels;
    this.dim = featureCount(model.frontend);
    this.session = session;
    this.input = new Float32Array(this.dim * Math.max(model.meta.window.frames, 512));
    this.probs = new Float32Array(this.labels.length);
    this.windowProbs = new Float32Array(this.labels.length);
    this.invStd = Float32Array.from(model.meta.normalization.std, (s) => 1 / s);
    this.utterMean = new Float32Array(this.dim);
    this.utterInvStd = new Float32Array(this.dim);
    this.level = levelColumns(model.meta.featureNames);
    this.fromBaseline = speakerColumns(model.meta.normalization.mode, model.meta.featureNames);
    const t = tta ? model.meta.tta : undefined;
    this.tta = t ? t.tempo.flatMap((tempo) => t.shiftFrames.map((shift) => [tempo, shift] as const)) : [];
    this.stretched = new Float32Array(this.tta.length ? this.input.length : 0);
    const cal = calibrate ? model.meta.calibration : undefined;
    this.invTemperature = cal ? 1 / cal.temperature : 1;
    this.invFusedTemperature = cal ? 1 / (cal.fusedTemperature ?? cal.temperature) : 1;
    this.head = model.meta.functionalHead ? new FunctionalHead(model.meta.functionalHead, this.labels.length, model.meta.featureNames, model.frontend) : null;
  }

  /** The calibration temperature applied (1 when the model has none or it was switched off). */
  get temperature(): number {
    return 1 / this.invTemperature;
  }

  /** The temperature applied to fused probabilities (a functional head with a warm baseline). */
  get fusedTemperature(): number {
    return 1 / this.invFusedTemperature;
  }

  /**
   * Loads a model by name (models/NAME.json), path, or the default; checks it and opens a session.
   * `tta: false` ignores the model's test-time augmentation (one run per utterance);
   * `calibration: false` its temperature; `arithmetic` serves its frontend in f32 or Q15 (ServeOptions).
   */
  static async load(nameOrPath?: string, opts: { modelsDir?: string; threads?: number; tta?: boolean; calibration?: boolean } & ServeOptions = {}): Promise<EmotionClassifier> {
    const model = loadModel(nameOrPath, opts.modelsDir ?? MODELS_DIR, { arithmetic: opts.arithmetic });
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model.onnxBytes, {
        intraOpNumThreads: opts.threads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        // no CPU arena: the daemon runs one small graph per utterance, and an arena sized for the
        // largest utterance stays resident (measured: earshot bench --only pipeline, docs/benchmarks.md)
        enableCpuMemArena: false,
        // nor pre-planned activation buffers, nor threads beyond this one (issue 32: the daemon's
        // sessions run one small graph at a time)
        enableMemPattern: false,
        executionMode: 'sequential',
        // int8-stored weights (DequantizeLinear on constants): without this, onnxruntime keeps the
        // QDQ nodes for quantised kernels it has no use for here (float input) and dequantises every
        // weight on every run; with it, constant folding dequantises them once at load (measured:
        // the 5-member int8 graph 8.3 -> 4.1 ms per 1.5 s utterance, build/exp/mb2.ts)
        extra: { session: { disable_quant_qdq: '1' } },
      });
    } catch (e) {
      throw new EarshotError('E_MODEL', `onnxruntime cannot open ${model.onnxPath}: ${(e as Error).message}; re-export it with earshot_train (opset 17)`, { cause: e });
    }
    const { input, output } = model.meta;
    if (!session.inputNames.includes(input.name) || !session.outputNames.includes(output.name)) {
      throw new EarshotError(
        'E_MODEL',
        `${model.onnxPath} has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}] but its metadata names input "${input.name}" and output "${output.name}"; re-export the model`,
      );
    }
    return new EmotionClassifier(model, session, opts.tta ?? true, opts.calibration ?? true);
  }

  /**
   * Classifies one utterance or window: `features` is frames*dim row-major raw frontend output.
   * Fixed-length models (window.fixed) are run over windows of window.frames (the last one
   * zero-padded after normalisation) and their probabilities averaged. With test-time
   * augmentation (metadata `tta`), the probabilities are the mean over its variants. A model with
   * normalisation "speaker" or "prosody" is normalised against `baseline` (src/runtime/model/baseline.ts)
   * in those columns, or per utterance when it is null (warming up); other models ignore it. A model
   * with a functional head averages the network's probabilities with the head's, whose functionals
   * are normalised against the baseline's functional statistics (while the baseline is cold, the
   * network answers alone). A calibrated model's probabilities are then tempered (metadata
   * `calibration`: `fusedTemperature` for fused ones, `temperature` for the network alone).
   */
  // eslint-disable-next-line complexity -- the classification steps in order (normalisation mode, test-time augmentation, functional head, calibration), each optional
  async classify(features: Float32Array, frames: number, baseline: BaselineStats | null = null, fuseHead = true): Promise<Classification> {
    if (frames <= 0 || features.length < frames * this.dim) {
      throw new EarshotError('E_INTERNAL', `classify needs frames*${this.dim} features, got ${features.length} for ${frames} frames`);
    }
    const w = this.meta.window;
    if (!w.fixed && this.tta.length) {
      this.probs.fill(0);
      const d = this.dim;
      for (const [tempo, shift] of this.tta) {
        const k = Math.min(shift, frames - 1);
        const src = features.subarray(k * d, frames * d);
        let n = frames - k;
        if (tempo !== 1) {
          const need = stretchedLength(n, tempo) * d;
          if (this.stretched.length < need) this.stretched = new Float32Array(need * 2);
          n = stretchFrames(src, n, d, tempo, this.stretched);
        }
        await this.run(tempo === 1 ? src : this.stretched, 0, n, n, this.windowProbs, baseline);
        for (let c = 0; c < this.probs.length; c++) this.probs[c] += this.windowProbs[c];
      }
      for (let c = 0; c < this.probs.length; c++) this.probs[c] /= this.tta.length;
    } else if (!w.fixed) {
      await this.run(features, 0, frames, frames, this.probs, baseline);
    } else {
      this.probs.fill(0);
      let count = 0;
      for (let start = 0; count === 0 || start + w.frames <= frames; start += w.hopFrames) {
        await this.run(features, start, Math.min(w.frames, frames - start), w.frames, this.windowProbs, baseline);
        for (let k = 0; k < this.probs.length; k++) this.probs[k] += this.windowProbs[k];
        count++;
      }
      for (let k = 0; k < this.probs.length; k++) this.probs[k] /= count;
    }
    this.head?.observe(features, frames, this.dim);
    const fused = this.head !== null && !!baseline?.functionals && fuseHead;
    if (fused) {
      this.head!.fuse(this.probs, baseline!.functionals!);
      if (this.invFusedTemperature !== 1) temper(this.probs, this.invFusedTemperature);
    } else if (this.invTemperature !== 1) {
      temper(this.probs, this.invTemperature);
    }
    let best = 0;
    for (let k = 1; k < this.probs.length; k++) if (this.probs[k] > this.probs[best]) best = k;
    return { probabilities: this.probs, label: this.labels[best], confidence: this.probs[best], ...(this.head ? { functionals: this.head.raw, fused } : {}) };
  }

  /** Normalises frames [start, start+n) into the input buffer, pads to `length`, runs, softmaxes into `out`. */
  private async run(features: Float32Array, start: number, n: number, length: number, out: Float32Array, baseline: BaselineStats | null): Promise<void> {
    const d = this.dim;
    if (this.input.length < length * d) this.input = new Float32Array(length * d * 2);
    const x = this.input.subarray(0, length * d);
    const src = features.subarray(start * d, (start + n) * d);
    const mode = this.meta.normalization.mode;
    const against = usesBaseline(mode) ? baseline : null;
    if (mode === 'level') this.levelStats(src, n);
    else if (perUtterance(mode)) this.utteranceStats(src, n);
    const mean = mode === 'global' ? this.meta.normalization.mean : this.utterMean;
    const inv = mode === 'utterance' || mode === 'level' || usesBaseline(mode) ? this.utterInvStd : this.invStd;
    if (mode === 'none') x.set(src);
    else for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) x[t * d + j] = (src[t * d + j] - mean[j]) * inv[j];
    if (against) {
      // the baseline's columns, bounded as in training
      for (let j = 0; j < d; j++) {
        if (!this.fromBaseline[j]) continue;
        const m = against.mean[j];
        const s = against.invStd[j];
        for (let t = 0; t < n; t++) x[t * d + j] = Math.max(-SPEAKER_CLIP, Math.min(SPEAKER_CLIP, (src[t * d + j] - m) * s));
      }
    }
    x.fill(0, n * d); // padding sits at the normalised mean
    const tensor = new ort.Tensor('float32', x, [1, length, d]);
    const result = await this.session.run({ [this.meta.input.name]: tensor });
    const logits = result[this.meta.output.name].data as Float32Array;
    if (logits.length !== out.length) {
      throw new EarshotError('E_MODEL', `${this.model.onnxPath} returned ${logits.length} outputs but its metadata lists ${out.length} labels; re-export the model`);
    }
    if (this.meta.output.kind === 'probabilities') out.set(logits);
    else softmax(logits, out);
  }

  private utteranceStats(src: Float32Array, n: number): void {
    const d = this.dim;
    this.utterMean.fill(0);
    this.utterInvStd.fill(0);
    for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) this.utterMean[j] += src[t * d + j];
    for (let j = 0; j < d; j++) this.utterMean[j] /= n;
    for (let t = 0; t < n; t++) {
      for (let j = 0; j < d; j++) {
        const v = src[t * d + j] - this.utterMean[j];
        this.utterInvStd[j] += v * v;
      }
    }
    for (let j = 0; j < d; j++) this.utterInvStd[j] = 1 / Math.sqrt(this.utterInvStd[j] / n + VARIANCE_FLOOR);
  }

  /**
   * Normalisation "level" as one (mean, 1/std) pair per column: subtracting the utterance's mean
   * log-mel L from a log-mel column and then the training mean m is subtracting m + L; dividing
   * RMS by its mean R and then standardising is (x - m R) / (std R).
   */
  private levelStats(src: Float32Array, n: number): void {
    const d = this.dim;
    const { mean } = this.meta.normalization;
    for (let j = 0; j < d; j++) {
      this.utterMean[j] = mean[j];
      this.utterInvStd[j] = this.invStd[j];
    }
    const { log, ratio } = this.level;
    if (log.length) {
      let s = 0;
      for (let t = 0; t < n; t++) for (const j of log) s += src[t * d + j];
      const offset = s / (n * log.length);
      for (const j of log) this.utterMean[j] = mean[j] + offset;
    }
    for (const j of ratio) {
      let s = 0;
      for (let t = 0; t < n; t++) s += src[t * d + j];
      const r = Math.max(s / n, LEVEL_RMS_FLOOR);
      this.utterMean[j] = mean[j] * r;
      this.utterInvStd[j] = this.invStd[j] / r;
    }
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** Frames after resampling `frames` frames by `tempo` (earshot_train's tempo augmentation: at least 2). */
export function stretchedLength(frames: number, tempo: number): number {
  return Math.max(2, Math.round(frames / tempo));
}

/**
 * Resamples a frames*dim row-major sequence in time by `tempo` (1.1 = 10% faster, fewer frames)
 * into `out` with linear interpolation between neighbouring frames, as training/python/earshot_train/data.py's
 * Augment does (positions linspace(0, frames-1, n)). Returns the new frame count.
 */
export function stretchFrames(src: Float32Array, frames: number, dim: number, tempo: number, out: Float32Array): number {
  const n = stretchedLength(frames, tempo);
  for (let t = 0; t < n; t++) {
    const pos = (t * (frames - 1)) / (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, frames - 1);
    const w = pos - lo;
    for (let j = 0; j < dim; j++) out[t * dim + j] = src[lo * dim + j] * (1 - w) + src[hi * dim + j] * w;
  }
  return n;
}

/**
 * Temperature scaling of probabilities in place: p_k^(1/T) renormalised, which is softmax(log p / T)
 * (the same as dividing the logits by T for a single model, and defined for an averaged ensemble).
 */
export function temper(p: Float32Array, invTemperature: number): Float32Array {
  let max = -Infinity;
  for (let k = 0; k < p.length; k++) max = Math.max(max, Math.log(Math.max(p[k], 1e-30)));
  let sum = 0;
  for (let k = 0; k < p.length; k++) {
    p[k] = Math.exp((Math.log(Math.max(p[k], 1e-30)) - max) * invTemperature);
    sum += p[k];
  }
  for (let k = 0; k < p.length; k++) p[k] /= sum;
  return p;
}

/** Numerically stable softmax of `logits` into `out`. */
export function softmax(logits: ArrayLike<number>, out: Float32Array): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < logits.length; i++) out[i] /= sum;
  return out;
}
