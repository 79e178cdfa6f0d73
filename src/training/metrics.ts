/**
 * Classification metrics for emotion recognition: accuracy, unweighted average recall (UAR, the
 * mean of per-class recalls, the field's headline metric for imbalanced corpora), macro F1, and
 * per-class precision/recall/F1/support from one confusion matrix (rows = true, cols = predicted).
 */
export interface ClassScore {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface EvalMetrics {
  accuracy: number;
  uar: number;
  f1Macro: number;
  perClass: Record<string, ClassScore>;
  confusion: { labels: string[]; matrix: number[][] };
  n: number;
}

export function confusionMatrix(labels: readonly string[], truth: readonly string[], predicted: readonly string[]): number[][] {
  const index = new Map(labels.map((l, i) => [l, i]));
  const m = labels.map(() => labels.map(() => 0));
  for (let i = 0; i < truth.length; i++) {
    const t = index.get(truth[i]);
    const p = index.get(predicted[i]);
    if (t === undefined || p === undefined) throw new Error(`label outside the scored set: ${truth[i]} -> ${predicted[i]}`);
    m[t][p]++;
  }
  return m;
}

/**
 * Metrics from a confusion matrix. Classes with no true examples are left out of UAR and macro F1
 * (their recall is undefined), but still listed in perClass with support 0.
 */
export function scoreConfusion(labels: readonly string[], matrix: number[][]): EvalMetrics {
  const k = labels.length;
  let n = 0;
  let correct = 0;
  const perClass: Record<string, ClassScore> = {};
  let recallSum = 0;
  let f1Sum = 0;
  let present = 0;
  for (let i = 0; i < k; i++) {
    const support = matrix[i].reduce((a, b) => a + b, 0);
    const predictedAs = matrix.reduce((a, row) => a + row[i], 0);
    const tp = matrix[i][i];
    n += support;
    correct += tp;
    const precision = predictedAs > 0 ? tp / predictedAs : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[labels[i]] = { precision, recall, f1, support };
    if (support > 0) {
      present++;
      recallSum += recall;
      f1Sum += f1;
    }
  }
  return {
    accuracy: n > 0 ? correct / n : 0,
    uar: present > 0 ? recallSum / present : 0,
    f1Macro: present > 0 ? f1Sum / present : 0,
    perClass,
    confusion: { labels: [...labels], matrix },
    n,
  };
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n - 1), 0 for a single value. */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;

/** The per-class table and the confusion matrix as fixed-width text. */
export function formatReport(m: EvalMetrics): string {
  const labels = m.confusion.labels;
  const w = Math.max(9, ...labels.map((l) => l.length + 1));
  const lines = [`${'class'.padEnd(w)} precision  recall     f1  support`];
  for (const l of labels) {
    const c = m.perClass[l];
    lines.push(`${l.padEnd(w)} ${pct(c.precision).padStart(9)} ${pct(c.recall).padStart(7)} ${pct(c.f1).padStart(6)} ${String(c.support).padStart(8)}`);
  }
  lines.push('', `confusion (rows = true, columns = predicted)`);
  const cw = Math.max(5, ...labels.map((l) => Math.min(l.length, 5) + 1));
  lines.push(`${''.padEnd(w)}${labels.map((l) => l.slice(0, 5).padStart(cw)).join('')}`);
  labels.forEach((l, i) => lines.push(`${l.padEnd(w)}${m.confusion.matrix[i].map((v) => String(v).padStart(cw)).join('')}`));
  lines.push('', `accuracy ${pct(m.accuracy)}%  UAR ${pct(m.uar)}%  macro F1 ${pct(m.f1Macro)}%  n=${m.n}`);
  return lines.join('\n');
}
