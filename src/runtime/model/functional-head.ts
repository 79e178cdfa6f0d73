/**
 * The functional head: a multinomial logistic regression on the utterance functionals
 * (functionals.ts), normalised against the speaker baseline's running functional statistics, whose
 * probabilities are averaged with the network's (late fusion: an arithmetic or a geometric mean). Trained by
 * `training/python/earshot_train/functionals.py --export-head`, stored in the model's metadata (`functionalHead`).
 * It only speaks once the baseline is warm: standardised by another corpus's statistics instead
 * of the speaker's, functionals mislead (measured: EmoDB warm-up clips 16.7% with the head against
 * the network's 44.6% overall; docs/experiments/2026-12-01-functional-head.md), so a cold baseline
 * leaves the network's answer alone.
 */
import { z } from 'zod';
import { EarshotError } from '../../core/errors.ts';
import type { FrontendConfig } from '../frontend/config.ts';
import { checkFunctionalFrontend, computeFunctionals, FUNCTIONAL_NAMES, functionalColumns, type FunctionalColumns } from './functionals.ts';

/** Bound of a normalised functional (outliers of a short utterance or a thin baseline). */
export const FUNCTIONAL_CLIP = 6;

export const functionalHeadSchema = z
  .object({
    kind: z.literal('logistic'),
    /** the functionals' names in input order (must equal the runtime's FUNCTIONAL_NAMES) */
    functionals: z.array(z.string()),
    /** [labels][functionals] weights and [labels] biases, in the model's label order */
    weights: z.array(z.array(z.number())),
    bias: z.array(z.number()),
    /** weight of the head's probabilities in the fused mean (the network has 1 - fusionWeight) */
    fusionWeight: z.number().min(0).max(1),
    /**
     * how the two are combined: `mean` (1 - w) network + w head; `geometric`, a weighted product of
     * the two (network^(1-w) head^w, renormalised: a class must please both)
     */
    fusion: z.enum(['mean', 'geometric']).default('mean'),
    /** what it was trained on, in words */
    trainedOn: z.string().default(''),
  })
  .strict();
export type FunctionalHeadSpec = z.output<typeof functionalHeadSchema>;

/** Running statistics of the functionals (the speaker baseline's), as mean and 1/std. */
export interface FunctionalStats {
  mean: Float64Array;
  invStd: Float64Array;
}

export class FunctionalHead {
  readonly size = FUNCTIONAL_NAMES.length;
  /** the last utterance's raw functionals (reused by the next call) */
  readonly raw = new Float64Array(FUNCTIONAL_NAMES.length);
  private readonly cols: FunctionalColumns;
  private readonly z = new Float64Array(FUNCTIONAL_NAMES.length);
  private readonly logits: Float64Array;

  constructor(
    readonly spec: FunctionalHeadSpec,
    labels: number,
    featureNames: readonly string[],
    /** the model's frontend: the functionals count mel bands and frames of it (checkFunctionalFrontend) */
    frontend: Pick<FrontendConfig, 'melBands' | 'hopLength' | 'sampleRate'>,
  ) {
    checkFunctionalFrontend(frontend);
    const n = FUNCTIONAL_NAMES.length;
    if (spec.functionals.length !== n || spec.functionals.some((f, i) => f !== FUNCTIONAL_NAMES[i])) {
      throw new EarshotError('E_MODEL', `the model's functional head was trained on other functionals (${spec.functionals.length}) than this runtime computes (${n}); re-export it with training/python/earshot_train/functionals.py --export-head`);
    }
    if (spec.weights.length !== labels || spec.bias.length !== labels || spec.weights.some((w) => w.length !== n)) {
      throw new EarshotError('E_MODEL', `the model's functional head has the wrong shape for ${labels} labels x ${n} functionals; re-export it`);
    }
    this.cols = functionalColumns(featureNames);
    this.logits = new Float64Array(labels);
  }

  /** Computes the utterance's functionals into `raw`. */
  observe(x: Float32Array, frames: number, dim: number): Float64Array {
    return computeFunctionals(x, frames, dim, this.cols, this.raw);
  }

  /**
   * Fuses the head's probabilities for the last observed utterance, its functionals normalised
   * against the speaker's `stats`, into `probs` (the network's, in place): (1 - w) network + w head,
   * or with `fusion: geometric` network^(1-w) head^w renormalised.
   */
  fuse(probs: Float32Array, stats: FunctionalStats): void {
    const { weights, bias, fusionWeight: w } = this.spec;
    for (let i = 0; i < this.size; i++) {
      this.z[i] = Math.max(-FUNCTIONAL_CLIP, Math.min(FUNCTIONAL_CLIP, (this.raw[i] - stats.mean[i]) * stats.invStd[i]));
    }
    let max = -Infinity;
    for (let c = 0; c < this.logits.length; c++) {
      let s = bias[c];
      const row = weights[c];
      for (let i = 0; i < this.size; i++) s += row[i] * this.z[i];
      this.logits[c] = s;
      max = Math.max(max, s);
    }
    if (this.spec.fusion === 'geometric') {
      // log p = (1 - w) log network + w (logit - logsumexp): the head's normaliser is the same for every class
      let top = -Infinity;
      for (let c = 0; c < probs.length; c++) top = Math.max(top, (this.logits[c] = (1 - w) * Math.log(Math.max(probs[c], 1e-30)) + w * (this.logits[c] - max)));
      let total = 0;
      for (let c = 0; c < probs.length; c++) total += (this.logits[c] = Math.exp(this.logits[c] - top));
      for (let c = 0; c < probs.length; c++) probs[c] = this.logits[c] / total;
      return;
    }
    let sum = 0;
    for (let c = 0; c < this.logits.length; c++) sum += (this.logits[c] = Math.exp(this.logits[c] - max));
    for (let c = 0; c < probs.length; c++) probs[c] = (1 - w) * probs[c] + (w * this.logits[c]) / sum;
  }
}
