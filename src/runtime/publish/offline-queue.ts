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
 * rewrite runs when dead lines outnumber live ones, and the file is truncated when the queue
 * empties (the common case while the broker is reachable) once it has grown past TRUNCATE_BYTES:
 * until then an acknowledgement is one appended line, not an ftruncate per event (issue 32: the
 * truncate was the largest cost of an event on the main thread after Silero, 1-2 ms on ext4).
 *
 * fsync policy: with `fsync: 'append'` (default) every entry is written at once (so it survives a
 * process crash as soon as `append` returns) and fdatasync'ed on a libuv worker thread right after
 * (group commit: one sync covers every entry written before it started; appends made during a sync
 * get one more), so the main thread, which also runs the audio, never waits for the disk. An
 * event survives power loss once its sync has completed, a few milliseconds after `append`
 * (`durableSeq`, `whenDurable()`); until 2026-12-07 `append` itself waited for it (issue 32: the
 * wait was 2-15 ms of the event's latency and of the main thread per event, more on a busy SD
 * card). What that changes: the event may be published while its sync runs; if power fails in
 * between, either the broker has it (delivered, as before) or it is lost as it was when power
 * failed during the old synchronous sync. A failed sync degrades the queue (below) and counts the
 * entries it covered as held in memory only. close() syncs what is still unsynced, synchronously.
 * Ack/drop lines are never synced: losing one on power loss only redelivers an already delivered
 * event, and consumers dedupe by id. `fsync: 'none'` leaves flushing to the kernel (less SD-card
 * wear, may lose the last seconds of events on power loss, never on a process crash).
 *
 * A crash can leave a torn last line; replay ignores (and counts, `skippedLines`) any line that
 * does not parse, and the compaction on open removes it before anything is appended after it.
 *
 * A full or failing disk (ENOSPC, EDQUOT, EIO, EFBIG) never throws out of this class. The first
 * failed or short write (bytes written are checked) switches the queue to *degraded*: the file is
 * closed where it stands (a torn tail is never appended to) and entries live in memory only,
 * bounded by the same maxEntries/maxBytes (the oldest dropped and counted beyond). Every append or
 * ack at least `recoverIntervalMs` after the last attempt retries the compaction (tmp + rename),
 * which puts every live entry back on disk and leaves degraded mode. Opening on a full disk starts
 * degraded instead of failing. What degraded mode costs: entries appended meanwhile die with the
 * process (close() counts and logs them as dropped); acks written nowhere only redeliver.
 *
 * All I/O is synchronous: appends happen once per utterance (a few per second at most), and
 * synchronous writes keep the file order equal to the call order without a write queue.
 */
/* eslint-disable max-lines -- the queue, its recovery and what survives which crash are read in one place (docs STYLE.md item 19) */
import * as nodeFs from 'node:fs';
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
  /** The file system calls used; tests inject one that fails like a full disk. Default node:fs. */
  fs?: QueueFs;
  /** While degraded, least ms between two attempts to write the queue back to disk. Default 5000. */
  recoverIntervalMs?: number;
}

/** The synchronous node:fs calls the queue makes. */
export type QueueFs = Pick<
  typeof nodeFs,
  'closeSync' | 'fdatasyncSync' | 'fsyncSync' | 'ftruncateSync' | 'mkdirSync' | 'openSync' | 'readFileSync' | 'renameSync' | 'writeSync' | 'unlinkSync'
> &
  /** the background sync (node:fs's); a QueueFs without it syncs synchronously in append, as before */
  Partial<Pick<typeof nodeFs, 'fdatasync'>>;

/** errno codes of a disk that refuses data (as opposed to a misconfigured directory). */
const DISK_FAULTS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EFBIG']);
export const isDiskFault = (err: unknown): boolean => DISK_FAULTS.has((err as NodeJS.ErrnoException)?.code ?? '');

const SEGMENT = 'queue.jsonl';
/** An empty queue's segment is truncated once it is this large (64 KiB: about 100 events and their acks; replayed at open in well under a millisecond). */
const TRUNCATE_BYTES = 64 * 1024;
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
  /** Bytes in the open segment (entries and markers), for TRUNCATE_BYTES. */
  private segmentBytes = 0;
  private dropped = 0;
  private skipped = 0;
  private readonly fs: QueueFs;
  private readonly recoverIntervalMs: number;
  /** Why the disk is not used now (null while it is). */
  private fault: string | null = null;
  private lastRecoverAt = 0;
  /** Seqs appended while degraded: in memory only. */
  private readonly unpersisted = new Set<number>();
  /** The segment could not be read at open; recovery moves it aside instead of overwriting it. */
  private unreadSegment = false;
  private closed = false;
  /** Highest seq on disk and synced (group commit, see the header); entries above it await a sync. */
  private durable = 0;
  /** Highest seq written to the segment. */
  private written = 0;
  /** A background sync is running on `syncFd`; `syncAgain`: entries were written after it started. */
  private syncing = false;
  private syncAgain = false;
  private syncWaiters: (() => void)[] = [];

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
    this.fs = opts.fs ?? nodeFs;
    this.recoverIntervalMs = opts.recoverIntervalMs ?? 5000;
    this.fd = -1;
    try {
      // events may say who was angry when: owner only, whatever the umask (systemd adds its own 0750)
      this.fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      try {
        this.replay();
      } catch (err) {
        if (!isDiskFault(err)) throw err;
        this.unreadSegment = true;
        this.degrade(err, 'read');
      }
      if (!this.fault) this.fd = this.rewrite();
    } catch (err) {
      if (!isDiskFault(err)) {
        throw new EarshotError(
          'E_CONFIG',
          `cannot use the event queue directory ${this.dir} (${(err as Error).message}); point the state directory at a writable folder (systemd: StateDirectory=earshot)`,
          { cause: err },
        );
      }
      if (!this.fault) this.degrade(err, 'open');
    }
    if (this.live.size > 0) this.log.info({ depth: this.live.size, dir: this.dir }, 'offline queue: undelivered events from a previous run will be sent first');
  }

  /** True while the disk refuses writes and entries are held in memory only. */
  get degraded(): boolean {
    return this.fault !== null;
  }

  /** Why the queue is degraded (errno and operation), or null. */
  get degradedReason(): string | null {
    return this.fault;
  }

  /** Unreadable (torn or corrupt) lines skipped when the segment was loaded. */
  get skippedLines(): number {
    return this.skipped;
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

  /**
   * Persist `payload` (fsync'ed per policy) and return its entry; drops the oldest if full. On a
   * disk fault the entry is kept in memory only (see the header); only an oversized event throws.
   */
  append(payload: string): QueueEntry {
    if (this.closed) throw new Error(`OfflineQueue ${this.dir} is closed`);
    if (this.fault) this.maybeRecover();
    const seq = this.nextSeq++;
    const enqueuedAt = this.clock.now();
    const line = `${JSON.stringify({ s: seq, t: enqueuedAt, p: payload })}\n`;
    const entry: QueueEntry = { seq, enqueuedAt, payload, bytes: Buffer.byteLength(line) };
    if (entry.bytes > this.maxBytes) {
      throw new EarshotError('E_EVENT_TOO_LARGE', `an event of ${entry.bytes} bytes is larger than the whole offline queue (mqtt.queue.maxBytes ${this.maxBytes}); raise maxBytes`);
    }
    this.makeRoomFor(entry.bytes);
    this.live.set(seq, entry);
    this.liveBytes += entry.bytes;
    if (this.fault) {
      this.unpersisted.add(seq);
      return entry;
    }
    try {
      this.writeAll(line);
      this.written = seq;
      if (!this.fsyncAppends) this.durable = seq;
      else if (this.fs.fdatasync) this.syncSoon();
      else {
        this.fs.fdatasyncSync(this.fd);
        this.durable = seq;
      }
    } catch (err) {
      this.unpersisted.add(seq);
      this.onWriteError(err, 'append');
    }
    return entry;
  }

  /** Highest seq known to be on disk and synced (every lower seq written to disk is too). */
  get durableSeq(): number {
    return this.durable;
  }

  /** Resolves when every entry appended so far has been synced (or given up on: degraded, closed). */
  whenDurable(): Promise<void> {
    if (!this.syncing || this.fd < 0) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Starts a background fdatasync covering everything written so far, or asks the running one for another. */
  private syncSoon(): void {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    this.syncAgain = false;
    const fd = this.fd;
    const upTo = this.written;
    this.fs.fdatasync!(fd, (err) => {
      this.syncing = false;
      if (fd !== this.fd) {
        // the segment was rewritten (fsync'ed) or closed meanwhile: nothing of this sync to record
        if (this.fd >= 0 && this.syncAgain) this.syncSoon();
        else this.wakeSyncWaiters();
        return;
      }
      if (err) {
        for (const e of this.live.values()) if (e.seq > this.durable && e.seq <= this.written) this.unpersisted.add(e.seq);
        try {
          this.onWriteError(err, 'sync');
        } catch (e) {
          this.log.warn({ err: (e as Error).message, dir: this.dir }, 'offline queue: the background sync failed');
        }
        this.wakeSyncWaiters();
        return;
      }
      this.durable = Math.max(this.durable, upTo);
      if (this.syncAgain) this.syncSoon();
      else this.wakeSyncWaiters();
    });
  }

  private wakeSyncWaiters(): void {
    const w = this.syncWaiters;
    this.syncWaiters = [];
    for (const f of w) f();
  }

  /** The broker has it: forget the entry. Unknown or already removed seqs are ignored. */
  ack(seq: number): boolean {
    const entry = this.live.get(seq);
    if (!entry) return false;
    this.remove(entry, 'a');
    if (this.fault && !this.closed) this.maybeRecover();
    return true;
  }

  /** Try now to leave degraded mode; true when the queue is on disk again. */
  recover(): boolean {
    if (!this.fault || this.closed) return !this.fault;
    this.lastRecoverAt = this.clock.now();
    try {
      if (this.unreadSegment) {
        const aside = `${this.path}.unreadable-${this.lastRecoverAt}`;
        this.fs.renameSync(this.path, aside);
        this.unreadSegment = false;
        this.log.warn({ path: aside }, 'offline queue: moved the segment that could not be read aside; events in it are not resent');
      }
      this.fd = this.rewrite();
    } catch (err) {
      this.fault = `${(err as NodeJS.ErrnoException).code ?? 'error'} on recover`;
      return false;
    }
    const persisted = this.unpersisted.size;
    this.unpersisted.clear();
    this.fault = null;
    this.log.info({ depth: this.live.size, persisted, dir: this.dir }, 'offline queue: the disk accepts writes again; every queued event is on disk');
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
    if (this.closed) return;
    if (this.fault) this.recover();
    this.closed = true;
    if (this.fd >= 0) {
      try {
        // what the background sync has not covered yet (close() is the last chance in this process)
        if (this.fsyncAppends && this.durable < this.written) {
          this.fs.fdatasyncSync(this.fd);
          this.durable = this.written;
        }
      } catch (err) {
        for (const e of this.live.values()) if (e.seq > this.durable) this.unpersisted.add(e.seq);
        this.fault ??= `${(err as NodeJS.ErrnoException).code ?? 'error'} on sync`;
      }
      try {
        this.fs.closeSync(this.fd);
      } catch {
        // EIO on close: the data was already written (or counted as in memory only)
      }
      this.fd = -1;
    }
    this.wakeSyncWaiters();
    let lost = 0;
    for (const seq of this.unpersisted) if (this.live.has(seq)) lost++;
    if (lost > 0) {
      this.dropped += lost;
      this.log.warn(
        { dropped: lost, droppedTotal: this.dropped, reason: this.fault, dir: this.dir },
        'offline queue: dropped events held only in memory (the disk refused them); free space in the state directory',
      );
    }
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
    this.unpersisted.delete(entry.seq);
    if (this.fd < 0) return; // degraded, or a late ack after close(): the next open replays it as live, a harmless redelivery
    try {
      if (this.live.size === 0 && this.segmentBytes >= TRUNCATE_BYTES) {
        // Nothing waits: an empty file is the cheapest compaction.
        this.fs.ftruncateSync(this.fd, 0);
        this.deadLines = 0;
        this.segmentBytes = 0;
        return;
      }
      this.writeAll(kind === 'a' ? `{"a":${entry.seq}}\n` : `{"d":${entry.seq}}\n`);
      this.deadLines += 2; // the entry's own line and this marker
      if (this.deadLines > 1024 && this.deadLines > 2 * this.live.size) {
        this.fs.closeSync(this.fd);
        this.fd = -1;
        this.fd = this.rewrite();
      }
    } catch (err) {
      this.onWriteError(err, kind === 'a' ? 'ack' : 'drop');
    }
  }

  /** Write all of `text` at the end of the segment; a short write that cannot finish throws ENOSPC. */
  private writeAll(text: string, fd = this.fd): void {
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.length) {
      const n = this.fs.writeSync(fd, buf, off, buf.length - off);
      if (n <= 0) throw Object.assign(new Error(`ENOSPC: short write (${off} of ${buf.length} bytes)`), { code: 'ENOSPC' });
      off += n;
      if (fd === this.fd) this.segmentBytes += n;
    }
  }

  private onWriteError(err: unknown, op: string): void {
    if (!isDiskFault(err)) throw err;
    if (this.fd >= 0) {
      try {
        this.fs.closeSync(this.fd);
      } catch {
        // the descriptor is gone either way
      }
      this.fd = -1;
    }
    this.degrade(err, op);
  }

  private degrade(err: unknown, op: string): void {
    this.fault = `${(err as NodeJS.ErrnoException).code ?? 'error'} on ${op}`;
    this.lastRecoverAt = this.clock.now();
    // Entries written before stay readable: a failed append leaves at most its own torn line (the
    // caller marks that entry unpersisted), and a failed compaction leaves the old segment whole.
    this.log.warn(
      { reason: this.fault, err: (err as Error).message, depth: this.live.size, maxEntries: this.maxEntries, maxBytes: this.maxBytes, dir: this.dir },
      'offline queue: the disk refuses writes; holding events in memory until it accepts them again (they are lost on a restart meanwhile; free space in the state directory)',
    );
  }

  private maybeRecover(): void {
    if (this.clock.now() - this.lastRecoverAt >= this.recoverIntervalMs) this.recover();
  }

  /** Rebuild the in-memory state from the segment, ignoring torn or corrupt lines. */
  private replay(): void {
    let text: string;
    try {
      text = this.fs.readFileSync(this.path, 'utf8') as string;
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
    this.skipped = corrupt;
    if (corrupt > 0) this.log.warn({ lines: corrupt, path: this.path }, 'offline queue: skipped unreadable lines (a write torn by a crash, power loss or a full disk)');
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
    const fs = this.fs;
    const tmp = `${this.path}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      try {
        let chunk = '';
        for (const e of this.live.values()) {
          chunk += `${JSON.stringify({ s: e.seq, t: e.enqueuedAt, p: e.payload })}\n`;
          if (chunk.length > 65536) {
            this.writeAll(chunk, fd);
            chunk = '';
          }
        }
        if (chunk) this.writeAll(chunk, fd);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.path);
    } catch (err) {
      try {
        fs.unlinkSync(tmp); // give the space of a half-written copy back
      } catch {
        // already gone
      }
      throw err;
    }
    const dirFd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(dirFd); // make the rename itself durable
    } finally {
      fs.closeSync(dirFd);
    }
    this.deadLines = 0;
    this.segmentBytes = this.liveBytes;
    // every live entry is in the fsync'ed copy
    this.written = this.durable = this.nextSeq - 1;
    return fs.openSync(this.path, 'a', 0o600);
  }
}
