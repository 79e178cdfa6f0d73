/**
 * Smooths per-utterance/window probabilities into the "current emotion" a dashboard shows, so one
 * odd window does not flip it: an average over recent results (EMA or moving average), then
 * hysteresis (a challenger must beat the current label by `margin`), a minimum dwell time between
 * changes, and a minimum confidence (a smoothed winner below it does not change the state; before
 * the first confident result there is no state). After `resetAfterMs` without results (a long
 * silence) the average restarts, so a new conversation is not judged by the last one.
 *
 * Pure: time comes in as an argument (ms, any monotonic origin); no timers, no I/O.
 */
import { z } from 'zod';

export const smootherConfigSchema = z.object({
  /** "ema": exponential moving average; "mean": plain mean of the last `window` results. Default "ema". */
  method: z.enum(['ema', 'mean']).default('ema'),
  /** EMA weight of the newest result, 0 < alpha <= 1 (1 = no smoothing). Default 0.5. */
  alpha: z.number().gt(0).max(1).default(0.5),
  /** Moving average length in results (method "mean"). Default 3. */
  window: z.number().int().min(1).max(100).default(3),
  /** Hysteresis: a new label needs a smoothed probability this much above the current label's. Default 0.1. */
  margin: z.number().min(0).max(1).default(0.1),
  /** Minimum time between two state changes (ms). Default 2000, at most 3600000 (1 h). */
  minDwellMs: z.number().min(0).max(3_600_000).default(2000),
  /** A smoothed winner below this probability leaves the state unchanged. Default 0.3. */
  minConfidence: z.number().min(0).max(1).default(0.3),
  /** A gap between results longer than this restarts the average (ms); 0 = never. Default 30000, at most 86400000 (1 day). */
  resetAfterMs: z.number().min(0).max(86_400_000).default(30000),
});
export type SmootherConfig = z.output<typeof smootherConfigSchema>;
export type SmootherConfigInput = z.input<typeof smootherConfigSchema>;

/** The smoothed state after a change; `probabilities` is reused by the next update: copy to keep. */
export interface SmoothedState {
  /** index into the labels */
  index: number;
  confidence: number;
  probabilities: Float32Array;
}

export class EmotionSmoother {
  readonly config: SmootherConfig;
  readonly classes: number;
  private readonly smoothed: Float32Array;
  private readonly history: Float32Array; // method "mean": last `window` results, a ring of rows
  private historyLen = 0;
  private historyNext = 0;
  private count = 0;
  private lastUpdateMs = -Infinity;
  private current = -1;
  private changedAtMs = -Infinity;
  private readonly state: SmoothedState;

  constructor(classes: number, config: SmootherConfigInput | SmootherConfig = {}) {
    this.config = smootherConfigSchema.parse(config);
    this.classes = classes;
    this.smoothed = new Float32Array(classes);
    this.history = new Float32Array(classes * this.config.window);
    this.state = { index: -1, confidence: 0, probabilities: this.smoothed };
  }

  /** Adds one result's probabilities at time `nowMs`; returns the new state when the label changed, else null. */
  update(probabilities: ArrayLike<number>, nowMs: number): SmoothedState | null {
    const c = this.config;
    if (probabilities.length !== this.classes) throw new Error(`smoother: ${probabilities.length} probabilities for ${this.classes} classes`);
    if (c.resetAfterMs > 0 && nowMs - this.lastUpdateMs > c.resetAfterMs) {
      this.count = 0;
      this.historyLen = 0;
    }
    this.lastUpdateMs = nowMs;
    this.accumulate(probabilities);
    const s = this.smoothed;
    let best = 0;
    for (let k = 1; k < this.classes; k++) if (s[k] > s[best]) best = k;
    if (best === this.current || s[best] < c.minConfidence) return null;
    if (this.current >= 0) {
      if (s[best] < s[this.current] + c.margin) return null;
      if (nowMs - this.changedAtMs < c.minDwellMs) return null;
    }
    this.current = best;
    this.changedAtMs = nowMs;
    this.state.index = best;
    this.state.confidence = s[best];
    return this.state;
  }

  /** The smoothed probabilities now (reused array), and the current label index (-1: none yet). */
  get probabilities(): Float32Array {
    return this.smoothed;
  }

  get currentIndex(): number {
    return this.current;
  }

  /** Forgets everything, including the current state. */
  reset(): void {
    this.smoothed.fill(0);
    this.count = 0;
    this.historyLen = 0;
    this.historyNext = 0;
    this.lastUpdateMs = -Infinity;
    this.current = -1;
    this.changedAtMs = -Infinity;
  }

  private accumulate(p: ArrayLike<number>): void {
    const s = this.smoothed;
    const n = this.classes;
    if (this.config.method === 'ema') {
      // the first result after a (re)start seeds the average instead of being blended with zeros
      const a = this.count === 0 ? 1 : this.config.alpha;
      for (let k = 0; k < n; k++) s[k] = a * p[k] + (1 - a) * s[k];
    } else {
      const w = this.config.window;
      for (let k = 0; k < n; k++) this.history[this.historyNext * n + k] = p[k];
      this.historyNext = (this.historyNext + 1) % w;
      if (this.historyLen < w) this.historyLen++;
      s.fill(0);
      // the ring's filled rows are the last historyLen written, wherever they sit
      for (let r = 0; r < w; r++) {
        const age = (this.historyNext - 1 - r + w) % w;
        if (r >= this.historyLen) break;
        for (let k = 0; k < n; k++) s[k] += this.history[age * n + k];
      }
      for (let k = 0; k < n; k++) s[k] /= this.historyLen;
    }
    this.count++;
  }
}
