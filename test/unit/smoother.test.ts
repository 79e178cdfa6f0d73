// The smoother is pure (time is an argument), so every rule is checked against hand-computed
// numbers: EMA and moving average, hysteresis margin, minimum dwell, minimum confidence, reset
// after a long gap, and that a state is reported only when the label changes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EmotionSmoother, smootherConfigSchema } from '../../src/runtime/pipeline/smoother.ts';

const close = (a: ArrayLike<number>, b: number[], tol = 1e-6) => {
  assert.is(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) < tol, `[${i}] ${a[i]} vs ${b[i]}`);
};
const loose = { margin: 0, minDwellMs: 0, minConfidence: 0 };

test('EMA: the first result seeds the average, then s = a*p + (1-a)*s', () => {
  const s = new EmotionSmoother(3, { ...loose, method: 'ema', alpha: 0.25 });
  s.update([0.2, 0.5, 0.3], 0);
  close(s.probabilities, [0.2, 0.5, 0.3]);
  s.update([1, 0, 0], 1000);
  close(s.probabilities, [0.25 + 0.75 * 0.2, 0.75 * 0.5, 0.75 * 0.3]);
  s.update([0, 0, 1], 2000);
  close(s.probabilities, [0.75 * 0.4, 0.75 * 0.375, 0.25 + 0.75 * 0.225]);
});

test('moving average: the mean of the last `window` results', () => {
  const s = new EmotionSmoother(2, { ...loose, method: 'mean', window: 3 });
  const seq = [[1, 0], [0, 1], [0.5, 0.5], [0.2, 0.8], [0.9, 0.1]];
  const want = [[1, 0], [0.5, 0.5], [0.5, 0.5], [0.7 / 3, 2.3 / 3], [1.6 / 3, 1.4 / 3]];
  seq.forEach((p, i) => {
    s.update(p, i * 1000);
    close(s.probabilities, want[i]);
  });
});

test('a state is reported only when the label changes', () => {
  const s = new EmotionSmoother(2, { ...loose, alpha: 1 });
  const first = s.update([0.7, 0.3], 0);
  assert.ok(first);
  assert.is(first!.index, 0);
  assert.ok(Math.abs(first!.confidence - 0.7) < 1e-6);
  assert.is(s.update([0.8, 0.2], 1000), null);
  assert.is(s.update([0.6, 0.4], 2000), null);
  const flip = s.update([0.1, 0.9], 3000);
  assert.is(flip?.index, 1);
  assert.is(s.currentIndex, 1);
});

test('hysteresis: a challenger must beat the current label by the margin', () => {
  const s = new EmotionSmoother(2, { ...loose, alpha: 1, margin: 0.2 });
  s.update([0.6, 0.4], 0);
  assert.is(s.update([0.45, 0.55], 1000), null, '0.55 is only 0.1 above 0.45');
  assert.is(s.update([0.41, 0.59], 2000), null, '0.18 < 0.2');
  assert.is(s.update([0.39, 0.61], 3000)?.index, 1, '0.22 >= 0.2');
});

test('minimum dwell: no change sooner than minDwellMs after the last one', () => {
  const s = new EmotionSmoother(2, { ...loose, alpha: 1, minDwellMs: 5000 });
  assert.is(s.update([0.9, 0.1], 10_000)?.index, 0);
  assert.is(s.update([0.1, 0.9], 12_000), null);
  assert.is(s.update([0.1, 0.9], 14_999), null);
  assert.is(s.update([0.1, 0.9], 15_000)?.index, 1);
  assert.is(s.update([0.9, 0.1], 16_000), null);
});

test('minimum confidence: an unsure winner neither starts nor changes the state', () => {
  const s = new EmotionSmoother(3, { ...loose, alpha: 1, minConfidence: 0.5 });
  assert.is(s.update([0.4, 0.35, 0.25], 0), null);
  assert.is(s.currentIndex, -1, 'no state before a confident result');
  assert.is(s.update([0.6, 0.3, 0.1], 1000)?.index, 0);
  assert.is(s.update([0.3, 0.25, 0.45], 2000), null, 'label 2 wins but below 0.5: state stays 0');
  assert.is(s.currentIndex, 0);
  assert.is(s.update([0.1, 0.1, 0.8], 3000)?.index, 2);
});

test('EMA smooths away a single odd window', () => {
  const s = new EmotionSmoother(2, { alpha: 0.4, margin: 0.1, minDwellMs: 0, minConfidence: 0.3 });
  assert.is(s.update([0.8, 0.2], 0)?.index, 0);
  // one window says label 1 strongly: 0.4*0.9 + 0.6*0.2 = 0.48 vs 0.52, not enough
  assert.is(s.update([0.1, 0.9], 1000), null);
  // a second one in a row is: 0.4*0.9 + 0.6*0.48 = 0.648 vs 0.352
  assert.is(s.update([0.1, 0.9], 2000)?.index, 1);
});

test('a gap longer than resetAfterMs restarts the average (not the state)', () => {
  const s = new EmotionSmoother(2, { ...loose, alpha: 0.1, resetAfterMs: 30_000 });
  s.update([1, 0], 0);
  s.update([1, 0], 1000);
  s.update([0, 1], 40_000);
  close(s.probabilities, [0, 1], 1e-6);
  const t = new EmotionSmoother(2, { ...loose, alpha: 0.1, resetAfterMs: 0 });
  t.update([1, 0], 0);
  t.update([0, 1], 40_000);
  close(t.probabilities, [0.9, 0.1]);
});

test('config: defaults and every error with its path', () => {
  assert.equal(smootherConfigSchema.parse({}), { method: 'ema', alpha: 0.5, window: 3, margin: 0.1, minDwellMs: 2000, minConfidence: 0.3, resetAfterMs: 30000 });
  const r = smootherConfigSchema.safeParse({ alpha: 0, window: 0, method: 'median' });
  assert.not.ok(r.success);
  assert.equal(r.error!.issues.map((i) => i.path.join('.')).sort(), ['alpha', 'method', 'window']);
  assert.throws(() => new EmotionSmoother(3).update([0.5, 0.5], 0), /2 probabilities for 3 classes/);
});

test.run();
