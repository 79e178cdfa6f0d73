/**
 * Commands from MQTT (`baseline/reset`, `listening/set`) are open to every local client
 * (docs/mqtt-limits.md), so a flood of them must cost neither a reset and a disk write each nor
 * a log line each. A CommandGate acts on at most one command per `minIntervalMs`: the first at
 * once, and of those that arrive within the interval only the latest, when the interval ends
 * (so a quick OFF then ON still ends ON). The first folded command of a burst is reported once;
 * a burst ends after `quietMs` without commands.
 */
import type { Clock } from './offline-queue.ts';

/** setTimeout/clearTimeout, injectable for tests. */
export interface GateTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CommandGateOptions<T> {
  /** At most one command acted on per this interval, ms. */
  minIntervalMs: number;
  /** A burst ends after this long without commands, ms (then the next fold is reported again). */
  quietMs: number;
  act(command: T): void;
  /** Called once per burst, on its first folded command. */
  onBurst(): void;
  clock?: Clock;
  timers?: GateTimers;
}

export class CommandGate<T> {
  private lastActedAt = -Infinity;
  private lastSeenAt = -Infinity;
  private pending: { command: T } | undefined;
  private timer: unknown;
  private burstReported = false;
  /** Commands folded into a later one (or dropped at close) since the gate was made. */
  folded = 0;
  private readonly clock: Clock;
  private readonly timers: GateTimers;

  constructor(private readonly opts: CommandGateOptions<T>) {
    this.clock = opts.clock ?? Date;
    this.timers = opts.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };
  }

  offer(command: T): void {
    const now = this.clock.now();
    if (now - this.lastSeenAt >= this.opts.quietMs) this.burstReported = false;
    this.lastSeenAt = now;
    if (this.pending === undefined && now - this.lastActedAt >= this.opts.minIntervalMs) {
      this.lastActedAt = now;
      this.opts.act(command);
      return;
    }
    if (this.pending) this.folded++;
    this.pending = { command };
    if (!this.burstReported) {
      this.burstReported = true;
      this.opts.onBurst();
    }
    this.timer ??= this.timers.setTimeout(() => this.flush(), Math.max(this.lastActedAt + this.opts.minIntervalMs - now, 0));
  }

  /** Drops a pending command and its timer (the publisher stops). */
  close(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending) this.folded++;
    this.pending = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    this.lastActedAt = this.clock.now();
    this.opts.act(p.command);
  }
}
