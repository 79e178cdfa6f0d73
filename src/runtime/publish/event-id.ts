/**
 * Event ids unique across restarts and devices without any stored counter:
 * `<deviceId>-<bootId>-<seq>`, where bootId is the start time in base 36 plus random bits (two
 * boots in the same millisecond still differ) and seq counts events since start. Ids of one run
 * sort in emission order, so a consumer can dedupe and order by them.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from './offline-queue.ts';

export class EventIdSource {
  readonly bootId: string;
  private seq = 0;

  constructor(
    private readonly deviceId: string,
    deps: { clock?: Clock; random?: (bytes: number) => Buffer } = {},
  ) {
    const now = (deps.clock ?? Date).now();
    const rand = (deps.random ?? randomBytes)(3).readUIntBE(0, 3);
    this.bootId = `${now.toString(36)}${rand.toString(36).padStart(5, '0')}`;
  }

  next(): string {
    this.seq++;
    return `${this.deviceId}-${this.bootId}-${String(this.seq).padStart(6, '0')}`;
  }
}
