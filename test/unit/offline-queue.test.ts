import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, rmSync, readFileSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as nodeFs from 'node:fs';
import { OfflineQueue } from '../../src/runtime/publish/offline-queue.ts';
import { isEarshotError } from '../../src/core/errors.ts';

const dirs: string[] = [];
process.once('exit', () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const fresh = () => (dirs.push(mkdtempSync(join(tmpdir(), 'earshot-queue-'))), dirs.at(-1)!);
const clockAt = (t: number) => ({ now: () => t });
const segment = (dir: string) => join(dir, 'queue.jsonl');
const payloads = (q: OfflineQueue) => q.peek(1e9).map((e) => e.payload);

test('entries come back in order after reopening, with their enqueue time and increasing seqs', () => {
  const dir = fresh();
  const q = new OfflineQueue({ dir, clock: clockAt(1000) });
  const a = q.append('a');
  const b = q.append('b');
  q.append('c');
  assert.ok(b.seq > a.seq);
  q.close();
  const r = new OfflineQueue({ dir });
  assert.equal(payloads(r), ['a', 'b', 'c']);
  assert.equal(r.peek(1)[0].enqueuedAt, 1000);
  const d = r.append('d');
  assert.ok(d.seq > r.peek(3)[2].seq, 'seq continues after the persisted maximum, never reused');
  r.close();
});

test('acked entries (in any order) are gone after reopen; reopening an empty queue leaves an empty file', () => {
  const dir = fresh();
  const q = new OfflineQueue({ dir });
  const [a, b, c] = [q.append('a'), q.append('b'), q.append('c')];
  assert.ok(q.ack(b.seq));
  assert.not.ok(q.ack(b.seq), 'a second ack is ignored');
  q.close();
  const r = new OfflineQueue({ dir });
  assert.equal(payloads(r), ['a', 'c']);
  r.ack(c.seq);
  r.ack(a.seq);
  assert.is(r.depth, 0);
  r.close();
  assert.is(new OfflineQueue({ dir }).depth, 0);
  assert.is(statSync(segment(dir)).size, 0, 'the compaction at open');
});

test('while the broker keeps up, an ack is one appended line; the empty segment is truncated once past 64 KiB', () => {
  const dir = fresh();
  const calls: string[] = [];
  const q = new OfflineQueue({ dir, fsync: 'none', fs: { ...nodeFs, ftruncateSync: (fd: number, len?: number) => (calls.push('truncate'), nodeFs.ftruncateSync(fd, len)) } });
  const event = 'e'.repeat(900);
  let max = 0;
  for (let i = 0; i < 300; i++) {
    q.ack(q.append(event).seq);
    max = Math.max(max, statSync(segment(dir)).size);
  }
  assert.ok(calls.length >= 3 && calls.length <= 5, `${calls.length} truncates for 300 events (one per ~70)`);
  assert.ok(max < 64 * 1024 + 1024, `the segment grew to ${max} bytes`);
  q.close();
  assert.is(new OfflineQueue({ dir }).depth, 0, 'the acks replay: nothing is resent');
});

test('a torn last line from a crash is ignored, and appends after it stay readable', () => {
  const dir = fresh();
  const q = new OfflineQueue({ dir });
  q.append('{"id":"e1"}');
  q.append('{"id":"e2"}');
  q.close();
  appendFileSync(segment(dir), '{"s":3,"t":5,"p":"{\\"id\\":\\"e'); // process died mid-write
  const warnings: string[] = [];
  const r = new OfflineQueue({ dir, log: { info() {}, warn: (_o, m) => warnings.push(m ?? '') } });
  assert.equal(payloads(r), ['{"id":"e1"}', '{"id":"e2"}']);
  assert.ok(warnings.some((w) => w.includes('torn')), 'the torn line is reported');
  r.append('{"id":"e3"}');
  r.close();
  assert.equal(payloads(new OfflineQueue({ dir })), ['{"id":"e1"}', '{"id":"e2"}', '{"id":"e3"}']);
});

test('a corrupt line in the middle is skipped, the rest survives', () => {
  const dir = fresh();
  mkdirSync(dir, { recursive: true });
  writeFileSync(segment(dir), '{"s":1,"t":0,"p":"x"}\nGARBAGE\n{"s":2,"t":0,"p":"y"}\n{"a":1}\n');
  const q = new OfflineQueue({ dir });
  assert.equal(payloads(q), ['y']);
  assert.is(q.append('z').seq, 3);
});

test('full by entries: the oldest are dropped, counted and logged', () => {
  const dir = fresh();
  const warned: object[] = [];
  const q = new OfflineQueue({ dir, maxEntries: 5, log: { info() {}, warn: (o) => warned.push(o) } });
  for (let i = 1; i <= 8; i++) q.append(`e${i}`);
  assert.equal(payloads(q), ['e4', 'e5', 'e6', 'e7', 'e8']);
  assert.is(q.droppedCount, 3);
  assert.is(warned.length, 3);
  q.close();
  assert.equal(payloads(new OfflineQueue({ dir, maxEntries: 5 })), ['e4', 'e5', 'e6', 'e7', 'e8'], 'drops are persisted');
});

test('full by bytes: the oldest are dropped until the new entry fits', () => {
  const dir = fresh();
  const body = 'x'.repeat(100);
  const q = new OfflineQueue({ dir, maxBytes: 1024 });
  for (let i = 0; i < 20; i++) q.append(`${i}:${body}`);
  assert.ok(q.bytes <= 1024, `bytes ${q.bytes}`);
  const kept = payloads(q).map((p) => Number(p.split(':')[0]));
  assert.ok(kept.length >= 7 && kept.length < 20, `kept ${kept.length}`);
  assert.equal(kept, Array.from({ length: kept.length }, (_, i) => 20 - kept.length + i), 'the newest are kept, in order');
  assert.is(q.droppedCount, 20 - kept.length);
  assert.throws(() => q.append('y'.repeat(2000)), (e: unknown) => isEarshotError(e) && e.code === 'E_EVENT_TOO_LARGE');
});

test('reopening with smaller limits keeps the newest entries', () => {
  const dir = fresh();
  const q = new OfflineQueue({ dir });
  for (let i = 1; i <= 10; i++) q.append(`e${i}`);
  q.close();
  const r = new OfflineQueue({ dir, maxEntries: 4 });
  assert.equal(payloads(r), ['e7', 'e8', 'e9', 'e10']);
  assert.is(r.droppedCount, 6);
});

test('long runs with a backlog compact the segment instead of growing it', () => {
  const dir = fresh();
  const q = new OfflineQueue({ dir, fsync: 'none' });
  q.append('keep-me'); // one entry never acked, so the file is never simply truncated
  for (let i = 0; i < 5000; i++) q.ack(q.append(`event-${i}-${'p'.repeat(50)}`).seq);
  const size = statSync(segment(dir)).size;
  assert.ok(size < 64 * 1024, `segment is ${size} bytes; 5000 acked entries were not compacted`);
  q.close();
  assert.equal(payloads(new OfflineQueue({ dir })), ['keep-me']);
  assert.ok(readFileSync(segment(dir), 'utf8').endsWith('\n'));
});

test('peek skips what the caller marks (in-flight) and honours the limit', () => {
  const q = new OfflineQueue({ dir: fresh() });
  const seqs = ['a', 'b', 'c', 'd'].map((p) => q.append(p).seq);
  assert.equal(
    q.peek(2, (s) => s === seqs[0]).map((e) => e.payload),
    ['b', 'c'],
  );
});

test('an unusable directory is an E_CONFIG error naming it', () => {
  const parent = fresh();
  const file = join(parent, 'not-a-dir');
  writeFileSync(file, '');
  chmodSync(file, 0o400);
  try {
    new OfflineQueue({ dir: join(file, 'queue') });
    assert.unreachable('should throw');
  } catch (e) {
    assert.ok(isEarshotError(e) && e.code === 'E_CONFIG');
    assert.match((e as Error).message, file);
  }
});

test('fsync "append": the sync runs on a worker (group commit); append does not wait, whenDurable() does, close() syncs the rest', async () => {
  const dir = fresh();
  const calls: string[] = [];
  let pending: (() => void)[] = [];
  const fsx = {
    ...nodeFs,
    fdatasyncSync: (fd: number) => (calls.push('syncSync'), nodeFs.fdatasyncSync(fd)),
    // held until the test releases it, as a slow SD card would
    fdatasync: ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => (calls.push('sync'), void pending.push(() => nodeFs.fdatasync(fd, cb)))) as unknown as typeof nodeFs.fdatasync,
  };
  const q = new OfflineQueue({ dir, fs: fsx });
  const a = q.append('a');
  const b = q.append('b');
  const c = q.append('c');
  assert.equal(calls, ['sync'], 'one sync in flight; the later appends wait for the next one');
  assert.is(q.durableSeq, 0, 'append returned before the disk did');
  assert.is(readFileSync(segment(dir), 'utf8').split('\n').length, 4, 'all three written at once: a crash of the process loses nothing');
  let durable = false;
  const done = q.whenDurable().then(() => (durable = true));
  const release = () => { const p = pending; pending = []; p.forEach((f) => f()); };
  release();
  await new Promise((r) => setTimeout(r, 50));
  assert.is(q.durableSeq, a.seq, 'the first sync covered what was written before it started');
  assert.equal(calls, ['sync', 'sync'], 'one more sync for the appends made meanwhile (b and c together)');
  assert.not.ok(durable);
  release();
  await done;
  assert.is(q.durableSeq, c.seq);
  q.append('d');
  q.close();
  assert.equal(calls.slice(-2), ['sync', 'syncSync'], 'close() synced what the background sync had not');
  release();
  assert.equal(payloads(new OfflineQueue({ dir })), ['a', 'b', 'c', 'd']);
  assert.ok(b.seq < c.seq);
});

test('a background sync that fails (EIO) degrades the queue (entries held in memory until the disk takes them again)', async () => {
  const dir = fresh();
  const fsx = { ...nodeFs, fdatasync: ((_fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => setImmediate(() => cb(Object.assign(new Error("EIO: injected"), { code: "EIO" })))) as unknown as typeof nodeFs.fdatasync };
  const q = new OfflineQueue({ dir, fs: fsx });
  q.append('a');
  await q.whenDurable();
  assert.ok(q.degraded);
  assert.match(q.degradedReason!, /EIO on sync/);
  assert.equal(payloads(q), ['a'], 'kept in memory');
  q.close();
  assert.is(q.droppedCount, 0, 'close() retried the disk (an fsync\'ed rewrite), which took it');
  assert.equal(payloads(new OfflineQueue({ dir })), ['a']);
});

test.run();
