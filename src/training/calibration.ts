/**
 * How far a model's confidence can be trusted, and the temperature that mends it:
 *  - expected calibration error (ECE; Naeini et al. 2015, as Guo et al. 2017 report it): the
 *    predictions binned by confidence into 15 equal-width bins, the frequency-weighted mean of
 *    |accuracy - mean confidence| per bin;
 *  - accuracy at coverage: the most confident X% of the predictions and their accuracy (selective
 *    classification: what "not sure" below a threshold buys);
 *  - temperature scaling (Guo et al. 2017): one T > 0 with p_k ∝ p_k^(1/T), fitted by minimising the
 *    negative log-likelihood of the true classes (golden-section search over log T); it changes
 *    confidences, never the argmax.
 */
export const ECE_BINS = 15;

/** ECE of `confidence` (probability of the predicted class) against `correct`. */
export function expectedCalibrationError(confidence: readonly number[], correct: readonly boolean[], bins = ECE_BINS): number {
  const n = confidence.length;
  if (n === 0) return 0;
  const count = new Float64Array(bins);
  const conf = new Float64Array(bins);
  const acc = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    // bin b holds (b/bins, (b+1)/bins]; a confidence of 0 goes to the first
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(confidence[i] * bins) - 1));
    count[b]++;
    conf[b] += confidence[i];
    acc[b] += correct[i] ? 1 : 0;
  }
  let e = 0;
  for (let b = 0; b < bins; b++) if (count[b] > 0) e += Math.abs(acc[b] - conf[b]) / n;
  return e;
}

/** Accuracy of the most confident `fraction` of the predictions (ties broken by order), for each fraction. */
export function accuracyAtCoverage(confidence: readonly number[], correct: readonly boolean[], fractions: readonly number[] = [1, 0.8, 0.5]): Record<string, number> {
  const order = confidence.map((c, i) => [c, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const out: Record<string, number> = {};
  for (const f of fractions) {
    const k = Math.max(1, Math.round(f * order.length));
    let right = 0;
    for (let j = 0; j < k && j < order.length; j++) if (correct[order[j][1]]) right++;
    out[String(Math.round(f * 100))] = order.length ? right / Math.min(k, order.length) : 0;
  }
  return out;
}

/** p^(1/T) renormalised (a copy). */
export function tempered(p: readonly number[], temperature: number): number[] {
  const logs = p.map((v) => Math.log(Math.max(v, 1e-30)) / temperature);
  const max = Math.max(...logs);
  const e = logs.map((v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Mean negative log-likelihood of the true classes after tempering. */
export function nll(probabilities: readonly (readonly number[])[], truth: readonly number[], temperature: number): number {
  let s = 0;
  for (let i = 0; i < probabilities.length; i++) s -= Math.log(Math.max(tempered(probabilities[i], temperature)[truth[i]], 1e-30));
  return s / Math.max(1, probabilities.length);
}

/** The temperature in [0.05, 20] with the least NLL (golden-section search over log T; NLL is unimodal in it). */
export function fitTemperature(probabilities: readonly (readonly number[])[], truth: readonly number[]): number {
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  const g = (Math.sqrt(5) - 1) / 2;
  let a = hi - g * (hi - lo);
  let b = lo + g * (hi - lo);
  let fa = nll(probabilities, truth, Math.exp(a));
  let fb = nll(probabilities, truth, Math.exp(b));
  for (let it = 0; it < 60 && hi - lo > 1e-5; it++) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - g * (hi - lo);
      fa = nll(probabilities, truth, Math.exp(a));
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + g * (hi - lo);
      fb = nll(probabilities, truth, Math.exp(b));
    }
  }
  return Math.exp((lo + hi) / 2);
}

/** UAR of a binary decision (mean of the two recalls; 0 for a class without examples is left out). */
export function binaryUar(truth: readonly boolean[], predicted: readonly boolean[]): number {
  const tp = [0, 0];
  const n = [0, 0];
  for (let i = 0; i < truth.length; i++) {
    const c = truth[i] ? 1 : 0;
    n[c]++;
    if (predicted[i] === truth[i]) tp[c]++;
  }
  const recalls = [0, 1].filter((c) => n[c] > 0).map((c) => tp[c] / n[c]);
  return recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : 0;
}
