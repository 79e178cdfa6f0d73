/**
 * A bounded, on-disk FIFO of outgoing messages that survives a broker outage and a daemon
 * restart. Every event is appended here before the first publish attempt and removed only when
 * the broker acknowledges it (PUBACK), so nothing is lost between the two.
 *
 * On disk: one append-only segment `queue.jsonl` of JSON lines in `dir`:
 *   {"s":12,"t":1740830400000,"p":"<payload>"}   an entry: sequence number, enqueue time (ms), payload
 *   {"a":12}                                     entry 12 was acknowledged
 *   {"d":12}                                     entry 12 was dropped because the queue was full
 * Opening replays the segment, then rewrites it with only the live entries (compaction); the same
 * rewrite runs when dead lines outnumber live ones, and the file is truncated whenever the
 * queue empties, which is the common case while the broker is reachable.
 *
 * fsync policy: with `fsync: 'append'` (default) every entry is fdatasync'ed before `append`
 * returns, so an event survives power loss once it is queued. Ack/drop lines are never synced:
 * losing one on power loss only redelivers an already delivered event, and consumers dedupe by
 * id. `fsync: 'none'` leaves flushing to the kernel (less SD-card wear, may lose the last
 * seconds of events on power loss, never on a process crash).
 *
 * A crash can leave a torn last line; replay ignores any line that does not parse, and the
 * compaction on open removes it before anything is appended after it.
 *
 * All I/O is synchronous: appends happen once per utterance (a few per second at most), and
 * synchronous writes keep the file order equal to the call order without a write queue.
 */
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { EarshotError } from '../../core/errors.ts';
import { formatIssues } from '../../core/schema.ts';
import { queueConfigSchema } from './config.ts';

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export interface QueueLog {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export interface QueueEntry {
  /** Monotonic sequence number, never reused in the same directory. */
  readonly seq: number;
  /** When it was appended, ms since epoch (from the injected clock). */
  readonly enqueuedAt: number;
  /** The message exactly as it will be published. */
  readonly payload: string;
  /** Size of its line on disk, counted against `maxBytes`. */
  readonly bytes: number;
}

export interface OfflineQueueOptions {
  /** Directory that holds the segment (the service's state directory); created if missing. */
  dir: string;
  /** Most entries kept; when full the oldest is dropped (default: queueConfigSchema's). */
  maxEntries?: number;
  /** Most bytes of live entries kept; when full the oldest are dropped (default: queueConfigSchema's). */
  maxBytes?: number;
  /** `append`: fdatasync every entry; `none`: let the kernel flush (default: queueConfigSchema's). */
  fsync?: 'append' | 'none';
  clock?: Clock;
  log?: QueueLog;
}

const SEGMENT = 'queue.jsonl';
const silent: QueueLog = { warn() {}, info() {} };

export class OfflineQueue {
  readonly dir: string;
  readonly maxEntries: number;
  readonly maxBytes: number;
  private readonly fsyncAppends: boolean;
  private readonly clock: Clock;
  private readonly log: QueueLog;
  private readonly path: string;
  /** Live entries by seq; Map iteration order is insertion order, which is seq order. */
  private readonly live = new Map<number, QueueEntry>();
  private fd: number;
  private nextSeq = 1;
  private liveBytes = 0;
  private deadLines = 0;
  private dropped = 0;

  constructor(opts: OfflineQueueOptions) {
    this.dir = opts.dir;
    // the limits' defaults and bounds live once, in the config schema
    const limits = queueConfigSchema.safeParse({ maxEntries: opts.maxEntries, maxBytes: opts.maxBytes, fsync: opts.fsync });
    if (!limits.success) {
      throw new EarshotError('E_CONFIG', `invalid offline queue limits:\n  ${formatIssues(limits.error.issues, 'mqtt.queue').join('\n  ')}\nfix mqtt.queue in the config`);
    }
    this.maxEntries = limits.data.maxEntries;
    this.maxBytes = limits.data.maxBytes;
    this.fsyncAppends = limits.data.fsync === 'append';
    this.clock = opts.clock ?? Date;
    this.log = opts.log ?? silent;
    this.path = join(this.dir, SEGMENT);
    try {
      mkdirSync(this.dir, { recursive: true });
      this.replay();
      this.fd = this.rewrite();
    } catch (err) {
      throw new EarshotError(
        'E_CONFIG',
        `cannot use the event queue directory ${this.dir} (${(err as Error).message}); point the state directory at a writable folder (systemd: StateDirectory=earshot)`,
        { cause: err },
      );
    }
    if (this.live.size > 0) this.log.info({ depth: this.live.size, dir: this.dir }, 'offline queue: undelivered events from a previous run will be sent first');
  }

  /** Entries waiting for an acknowledgement. */
  get depth(): number {
    return this.live.size;
  }

  /** Bytes of the waiting entries' lines. */
  get bytes(): number {
    return this.liveBytes;
  }

  /** Entries discarded because the queue was full, since this object was created. */
  get droppedCount(): number {
    return this.dropped;
  }

  /** Persist `payload` (fsync'ed per policy) and return its entry; drops the oldest if full. */
  append(payload: string): QueueEntry {
    if (this.fd < 0) throw new Error(`OfflineQueue ${this.dir} is closed`);
    const seq = this.nextSeq++;
    const enqueuedAt = this.clock.now();
    const line = `${JSON.stringify({ s: seq, t: enqueuedAt, p: payload })}\n`;
    const entry: QueueEntry = { seq, enqueuedAt, payload, bytes: Buffer.byteLength(line) };
    if (entry.bytes > this.maxBytes) {
      throw new EarshotError('E_EVENT_TOO_LARGE', `an event of ${entry.bytes} bytes is larger than the whole offline queue (mqtt.queue.maxBytes ${this.maxBytes}); raise maxBytes`);
    }
    this.makeRoomFor(entry.bytes);
    writeSync(this.fd, line);
    if (this.fsyncAppends) fdatasyncSync(this.fd);
    this.live.set(seq, entry);
    this.liveBytes += entry.bytes;
    return entry;
  }

  /** The broker has it: forget the entry. Unknown or already removed seqs are ignored. */
  ack(seq: number): boolean {
    const entry = this.live.get(seq);
    if (!entry) return false;
    this.remove(entry, 'a');
    return true;
  }

  /** Up to `limit` live entries in order, skipping those for which `skip(seq)` is true. */
  peek(limit: number, skip: (seq: number) => boolean = () => false): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (const entry of this.live.values()) {
      if (out.length >= limit) break;
      if (!skip(entry.seq)) out.push(entry);
    }
    return out;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  private makeRoomFor(bytes: number): void {
    let droppedNow = 0;
    let oldestSeq = 0;
    while (this.live.size >= this.maxEntries || this.liveBytes + bytes > this.maxBytes) {
      const oldest = this.live.values().next().value as QueueEntry;
      if (droppedNow === 0) oldestSeq = oldest.seq;
      this.remove(oldest, 'd');
      droppedNow++;
    }
    if (droppedNow > 0) {
      this.dropped += droppedNow;
      this.log.warn(
        { dropped: droppedNow, droppedTotal: this.dropped, oldestSeq, maxEntries: this.maxEntries, maxBytes: this.maxBytes, dir: this.dir },
        'offline queue full: dropped the oldest undelivered events (the broker has been unreachable for long; raise mqtt.queue.maxEntries/maxBytes to keep more)',
      );
    }
  }

  private remove(entry: QueueEntry, kind: 'a' | 'd'): void {
    this.live.delete(entry.seq);
    this.liveBytes -= entry.bytes;
    if (this.fd < 0) return; // a late ack after close(): the next open replays it as live, a harmless redelivery
    if (this.live.size === 0) {
      // Nothing waits: an empty file is the cheapest compaction.
      ftruncateSync(this.fd, 0);
      this.deadLines = 0;
      return;
    }
    writeSync(this.fd, kind === 'a' ? `{"a":${entry.seq}}\n` : `{"d":${entry.seq}}\n`);
    this.deadLines += 2; // the entry's own line and this marker
    if (this.deadLines > 1024 && this.deadLines > 2 * this.live.size) {
      closeSync(this.fd);
      this.fd = this.rewrite();
    }
  }

  /** Rebuild the in-memory state from the segment, ignoring torn or corrupt lines. */
  private replay(): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const lines = text.split('\n');
    const torn = lines.pop(); // '' when the file ends with a newline; otherwise a partial write
    let corrupt = torn ? 1 : 0;
    let maxSeq = 0;
    for (const line of lines) {
      if (line === '') continue;
      let rec: { s?: unknown; t?: unknown; p?: unknown; a?: unknown; d?: unknown };
      try {
        rec = JSON.parse(line);
      } catch {
        corrupt++;
        continue;
      }
      if (typeof rec.s === 'number' && typeof rec.p === 'string') {
        const entry: QueueEntry = { seq: rec.s, enqueuedAt: typeof rec.t === 'number' ? rec.t : 0, payload: rec.p, bytes: Buffer.byteLength(line) + 1 };
        this.live.set(entry.seq, entry);
        this.liveBytes += entry.bytes;
        if (entry.seq > maxSeq) maxSeq = entry.seq;
      } else if (typeof rec.a === 'number' || typeof rec.d === 'number') {
        const entry = this.live.get((rec.a ?? rec.d) as number);
        if (entry) {
          this.live.delete(entry.seq);
          this.liveBytes -= entry.bytes;
        }
      } else {
        corrupt++;
      }
    }
    this.nextSeq = maxSeq + 1;
    if (corrupt > 0) this.log.warn({ lines: corrupt, path: this.path }, 'offline queue: ignored unreadable lines (a write torn by a crash or power loss)');
    // A queue written with larger limits is trimmed to the current ones.
    if (this.live.size > this.maxEntries || this.liveBytes > this.maxBytes) {
      const before = this.live.size;
      for (const entry of this.live.values()) {
        if (this.live.size <= this.maxEntries && this.liveBytes <= this.maxBytes) break;
        this.live.delete(entry.seq);
        this.liveBytes -= entry.bytes;
      }
      this.dropped += before - this.live.size;
      this.log.warn({ dropped: before - this.live.size, dir: this.dir }, 'offline queue: dropped the oldest events to fit the configured limits');
    }
  }

  /** Write the live entries to a fresh segment atomically (tmp + fsync + rename) and open it for appends. */
  private rewrite(): number {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      let chunk = '';
      for (const e of this.live.values()) {
        chunk += `${JSON.stringify({ s: e.seq, t: e.enqueuedAt, p: e.payload })}\n`;
        if (chunk.length > 65536) {
          writeSync(fd, chunk);
          chunk = '';
        }
      }
      if (chunk) writeSync(fd, chunk);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd); // make the rename itself durable
    } finally {
      closeSync(dirFd);
    }
    this.deadLines = 0;
    return openSync(this.path, 'a');
  }
}
