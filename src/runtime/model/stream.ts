/**
 * Incremental inference with a model's streaming form (metadata `streaming`): the LSTM state and
 * the running attention sums live in ONNX state tensors that are fed back after every step, so
 * the daemon can advance a few frames at a time instead of re-running a whole window. After any
 * push, the probabilities equal the full model's over every frame pushed since reset().
 */
import '../../core/ort-env.ts'; // first: ONNX Runtime's telemetry off before the library loads
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EarshotError } from '../../core/errors.ts';
import type { Emotion } from '../../core/labels.ts';
import { featureCount } from '../frontend/config.ts';
import { loadModel, MODELS_DIR, perUtterance, sha256, type LoadedModel } from './metadata.ts';
import { softmax, type Classification } from './session.ts';

type StreamingSpec = NonNullable<LoadedModel['meta']['streaming']>;

export class EmotionStream {
  readonly labels: readonly Emotion[];
  readonly dim: number;
  readonly framesPerStep: number;
  private readonly spec: StreamingSpec;
  private readonly session: ort.InferenceSession;
  private readonly model: LoadedModel;
  private state: Record<string, ort.Tensor> = {};
  /** Frames waiting for a full step (fewer than framesPerStep), raw. */
  private readonly pending: Float32Array;
  private pendingFrames = 0;
  private input: Float32Array;
  private readonly invStd: Float32Array;
  private readonly probs: Float32Array;
  private seen = false;

  private constructor(model: LoadedModel, spec: StreamingSpec, session: ort.InferenceSession) {
    this.model = model;
    this.spec = spec;
    this.session = session;
    this.labels = model.meta.labels;
    this.dim = featureCount(model.frontend);
    this.framesPerStep = spec.framesPerStep;
    this.pending = new Float32Array(this.framesPerStep * this.dim);
    this.input = new Float32Array(this.framesPerStep * this.dim * 64);
    this.invStd = Float32Array.from(model.meta.normalization.std, (s) => 1 / s);
    this.probs = new Float32Array(this.labels.length);
    this.reset();
  }

  static async load(nameOrPath?: string, opts: { modelsDir?: string; threads?: number } = {}): Promise<EmotionStream> {
    const model = loadModel(nameOrPath, opts.modelsDir ?? MODELS_DIR);
    const spec = model.meta.streaming;
    if (!spec) throw new EarshotError('E_MODEL', `model ${model.meta.name} has no streaming form; run it on windows (EmotionClassifier) or pick a model whose metadata has "streaming"`);
    if (perUtterance(model.meta.normalization.mode)) throw new EarshotError('E_MODEL', `model ${model.meta.name}: a streaming form cannot use per-utterance normalisation (${model.meta.normalization.mode}); re-export it`);
    const path = resolve(dirname(model.jsonPath), spec.file);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch (e) {
      throw new EarshotError('E_MODEL', `model ${model.meta.name}: streaming form ${path} is missing (${(e as Error).message}); copy it beside ${model.jsonPath} or re-export`, { cause: e });
    }
    if (sha256(bytes) !== spec.sha256) throw new EarshotError('E_MODEL', `model ${model.meta.name}: ${path} does not match the sha256 in its metadata; re-export or restore it`);
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: opts.threads ?? 1, interOpNumThreads: 1 });
    return new EmotionStream(model, spec, session);
  }

  /** Back to the initial state: the next push starts a new utterance. */
  reset(): void {
    for (const t of this.spec.stateInputs) {
      const shape = t.shape.map(Number);
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(t.init ?? 0);
      this.state[t.name] = new ort.Tensor('float32', data, shape);
    }
    this.pendingFrames = 0;
    this.seen = false;
  }

  /**
   * Feeds frames*dim raw features. Returns the current classification, or null while fewer than
   * framesPerStep frames have been seen since reset(). The probabilities array is reused.
   */
  async push(features: Float32Array, frames: number): Promise<Classification | null> {
    const d = this.dim;
    const k = this.framesPerStep;
    const total = this.pendingFrames + frames;
    const steps = Math.floor(total / k);
    if (steps > 0) {
      const n = steps * k;
      if (this.input.length < n * d) this.input = new Float32Array(n * d * 2);
      const x = this.input.subarray(0, n * d);
      x.set(this.pending.subarray(0, this.pendingFrames * d));
      x.set(features.subarray(0, (n - this.pendingFrames) * d), this.pendingFrames * d);
      const mean = this.model.meta.normalization.mean;
      if (this.model.meta.normalization.mode === 'global') for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean[i % d]) * this.invStd[i % d];
      const feeds: Record<string, ort.Tensor> = { [this.model.meta.input.name]: new ort.Tensor('float32', x, [1, n, d]), ...this.state };
      const out = await this.session.run(feeds);
      this.spec.stateInputs.forEach((t, i) => (this.state[t.name] = out[this.spec.stateOutputs[i].name]));
      softmax(out[this.model.meta.output.name].data as Float32Array, this.probs);
      this.seen = true;
      const used = n - this.pendingFrames;
      this.pendingFrames = frames - used;
      this.pending.set(features.subarray(used * d, frames * d));
    } else {
      this.pending.set(features.subarray(0, frames * d), this.pendingFrames * d);
      this.pendingFrames = total;
    }
    if (!this.seen) return null;
    let best = 0;
    for (let i = 1; i < this.probs.length; i++) if (this.probs[i] > this.probs[best]) best = i;
    return { probabilities: this.probs, label: this.labels[best], confidence: this.probs[best] };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
