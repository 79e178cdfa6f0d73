// A full or failing state disk: the offline queue never throws, holds events in memory (bounded),
// counts every event it finally drops, skips torn lines on load with a count, opens degraded on a
// full disk and recovers when space returns. First through an injected file system (exact byte
// budgets, EIO), then on a real 64 KiB tmpfs with a real Mosquitto when running as root (CI).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'mqtt';
import { OfflineQueue, type QueueFs } from '../../src/runtime/publish/offline-queue.ts';
import { MqttPublisher } from '../../src/runtime/publish/publisher.ts';
import { parsePublisherConfig } from '../../src/runtime/publish/config.ts';
import { healthOf } from '../../src/daemon/metrics.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';

const dirs: string[] = [];
const mounts: string[] = [];
process.once('exit', () => {
  mounts.forEach((m) => spawnSync('umount', ['-l', m]));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
const fresh = () => (dirs.push(mkdtempSync(join(tmpdir(), 'earshot-dfull-'))), dirs.at(-1)!);
const payloads = (q: OfflineQueue) => q.peek(1e9).map((e) => e.payload);

/** node:fs with a byte budget for writes: the write that crosses it is short, the next ones fail (as on Linux). */
function limitedFs(budget: number, code = 'ENOSPC') {
  const state = { left: budget, code };
  const fail = () => Object.assign(new Error(`${state.code}: injected`), { code: state.code });
  const f: QueueFs & { state: typeof state } = {
    ...fs,
    state,
    writeSync: ((fd: number, buf: Buffer | string, off?: number, len?: number) => {
      const b = typeof buf === 'string' ? Buffer.from(buf) : buf.subarray(off ?? 0, (off ?? 0) + (len ?? buf.length - (off ?? 0)));
      if (state.left <= 0) throw fail();
      const n = Math.min(b.length, state.left);
      state.left -= n;
      return fs.writeSync(fd, b, 0, n);
    }) as QueueFs['writeSync'],
    fdatasyncSync: (fd: number) => (state.left <= 0 && state.code === 'EIO' ? (() => { throw fail(); })() : fs.fdatasyncSync(fd)),
  };
  return f;
}
const logSink = () => {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  return { lines, info: (obj: object, msg?: string) => void lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg: msg ?? '' }), warn: (obj: object, msg?: string) => void lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg: msg ?? '' }) };
};

test('a disk that fills mid-append: no throw, no torn line appended to, events kept in memory, back on disk when space returns', () => {
  const dir = fresh();
  let now = 0;
  const fsx = limitedFs(300);
  const log = logSink();
  const q = new OfflineQueue({ dir, fs: fsx, clock: { now: () => now }, log, recoverIntervalMs: 1000 });
  for (let i = 1; i <= 20; i++) q.append(`{"id":"e${i}"}`); // ~40 bytes a line: the disk fills at the 8th
  assert.ok(q.degraded, 'degraded once the disk refused a write');
  assert.match(q.degradedReason!, /ENOSPC/);
  assert.equal(payloads(q), Array.from({ length: 20 }, (_, i) => `{"id":"e${i + 1}"}`), 'nothing lost in memory');
  assert.ok(log.lines.some((l) => l.level === 'warn' && /refuses writes/.test(l.msg)));
  // acks while the disk is full do not throw either (the crash of the issue)
  q.ack(q.peek(1)[0].seq);
  // what is on disk now is a clean prefix plus at most one torn line; a reopen skips and counts it
  const reopened = new OfflineQueue({ dir, fs: limitedFs(0) });
  assert.ok(reopened.skippedLines <= 1);
  assert.ok(payloads(reopened).every((p, i) => p === `{"id":"e${i + 1}"}`), 'the prefix on disk is intact');
  reopened.close();
  // space returns: the next append after the interval writes everything back
  fsx.state.left = 1e9;
  now = 500;
  q.append('{"id":"e21"}');
  assert.ok(q.degraded, 'no retry before recoverIntervalMs');
  now = 1500;
  q.append('{"id":"e22"}');
  assert.not.ok(q.degraded, 'recovered');
  q.close();
  assert.is(q.droppedCount, 0);
  const after = new OfflineQueue({ dir });
  assert.equal(payloads(after), Array.from({ length: 21 }, (_, i) => `{"id":"e${i + 2}"}`));
  assert.is(after.skippedLines, 0, 'the recovery rewrite removed the torn line');
});

test('bytes written are checked: a short write is a full disk, not a silent torn entry', () => {
  const dir = fresh();
  const fsx: QueueFs = { ...fs, writeSync: ((fd: number, buf: Buffer, off: number, len: number) => fs.writeSync(fd, buf, off, Math.min(len, 5))) as unknown as QueueFs['writeSync'] };
  const q = new OfflineQueue({ dir, fs: fsx });
  q.append('{"id":"a"}'); // written 5 bytes at a time: complete
  q.close();
  assert.equal(payloads(new OfflineQueue({ dir })), ['{"id":"a"}']);
  // a writeSync that reports 0 bytes (no room) must not count as written
  const zero: QueueFs = { ...fs, writeSync: (() => 0) as unknown as QueueFs['writeSync'] };
  const z = new OfflineQueue({ dir: fresh(), fs: zero });
  z.append('x');
  assert.ok(z.degraded);
});

test('EIO on fdatasync and on ack: degraded, never thrown; close() counts and logs events that only lived in memory', () => {
  const dir = fresh();
  const fsx = limitedFs(1e9, 'EIO');
  const log = logSink();
  const q = new OfflineQueue({ dir, fs: fsx, log });
  const a = q.append('a');
  fsx.state.left = 0;
  q.append('b');
  q.append('c');
  assert.ok(q.degraded);
  assert.match(q.degradedReason!, /EIO/);
  q.ack(a.seq);
  q.close();
  assert.is(q.droppedCount, 2, 'b and c never reached the disk');
  const dropped = log.lines.find((l) => /dropped events held only in memory/.test(l.msg));
  assert.ok(dropped, 'logged as dropped');
  assert.is(dropped!.obj.dropped, 2);
});

test('the in-memory fallback is bounded by maxEntries; overflow is counted as dropped', () => {
  const q = new OfflineQueue({ dir: fresh(), fs: limitedFs(0), maxEntries: 50 });
  for (let i = 0; i < 200; i++) q.append(`e${i}`);
  assert.is(q.depth, 50);
  assert.is(q.droppedCount, 150);
  assert.is(payloads(q)[0], 'e150');
});

test('opening on a full disk starts degraded (no E_CONFIG), keeps the queued events and counts the torn line', () => {
  const dir = fresh();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'queue.jsonl'), '{"s":1,"t":0,"p":"x"}\n{"s":2,"t":0,"p":"y"}\n{"s":3,"t":0,"p":"tor');
  const q = new OfflineQueue({ dir, fs: limitedFs(0) });
  assert.ok(q.degraded);
  assert.equal(payloads(q), ['x', 'y']);
  assert.is(q.skippedLines, 1);
  assert.is(q.append('z').seq, 3, 'the torn entry was never stored, its seq is free');
  const verdict = healthOf(snapshotWith(q.degradedReason));
  assert.ok(verdict.healthy, 'a full disk is not a reason to restart');
  assert.is(verdict.body.status, 'degraded');
  assert.match(String((verdict.body.warnings as string[])[0]), /ENOSPC/);
});

function snapshotWith(queueDegraded: string | null): Parameters<typeof healthOf>[0] {
  const p = { audioSeconds: 0, framesProcessed: 0, speechFrames: 0, processingMs: 0, realTimeFactor: 0, latencyMs: { p50: 0, p99: 0 }, inferenceLatencyMs: { p50: 0, p99: 0 }, droppedFrames: 0, droppedInferences: 0, segmentsDropped: 0, segments: 0, results: 0, stateChanges: 0, inferenceErrors: 0, listenerErrors: 0, inFlight: false, queued: 0 };
  return {
    version: 'x', model: 'm', source: 's', deviceId: 'd', uptimeSec: 1, stopping: false,
    pipeline: { ...p, alive: true, latencySumMs: 0, inferenceLatencySumMs: 0 },
    capture: { delivering: true, lastChunkAgoMs: 1, chunks: 1, condition: null, conditionDetail: null, conditions: { 'no-data': 0, 'device-lost': 0, flatline: 0 }, restarts: 0 },
    mqtt: { connected: true, url: 'mqtt://x', embedded: false, queueDepth: 0, droppedEvents: 0, queueDegraded, events: 0 },
    process: { rssBytes: 0, heapUsedBytes: 0, cpuUserSec: 0, cpuSystemSec: 0 },
  };
}

test('state files are private: folders 0700, queue.jsonl 0600, even with a permissive umask', () => {
  const parent = fresh();
  const dir = join(parent, 'state', 'mqtt-queue');
  const old = process.umask(0o022);
  try {
    const q = new OfflineQueue({ dir });
    q.append('x');
    q.close();
  } finally {
    process.umask(old);
  }
  assert.is(fs.statSync(join(parent, 'state')).mode & 0o777, 0o700);
  assert.is(fs.statSync(dir).mode & 0o777, 0o700);
  assert.is(fs.statSync(join(dir, 'queue.jsonl')).mode & 0o777, 0o600);
});

const isRoot = process.getuid?.() === 0;
test('real 64 KiB tmpfs (root only): full from the start, broker outage, broker back: every event delivered or counted, no crash', async () => {
  if (!isRoot) {
    console.log('  (skipped: needs root to mount a tmpfs)');
    return;
  }
  const mnt = fresh();
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
  assert.is(m.status, 0, `mount failed: ${m.stderr}`);
  mounts.push(mnt);
  // a previous run left 3 undelivered events; then the disk fills completely
  const prev = new OfflineQueue({ dir: join(mnt, 'mqtt-queue') });
  for (let i = 0; i < 3; i++) prev.append(JSON.stringify(eventNo(1000 + i)));
  prev.close();
  try {
    writeFileSync(join(mnt, 'filler'), Buffer.alloc(1024 * 1024));
  } catch {
    // ENOSPC is the point
  }
  const broker = await startMosquitto();
  try {
    await broker.stop();
    const lines: { level: string; msg: string; obj: object }[] = [];
    const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg: msg ?? '' });
    const pub = new MqttPublisher({
      config: parsePublisherConfig({ url: broker.url, deviceId: 'tmpfs', stateDir: mnt, reconnectMinMs: 50, reconnectMaxMs: 100, connectTimeoutMs: 500, discovery: false }),
      log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    });
    await pub.start(); // used to throw E_CONFIG (exit 78 / restart loop)
    assert.match(pub.queueDegraded ?? '', /ENOSPC/);
    for (let i = 0; i < 13; i++) pub.publishEvent(eventNo(i));
    assert.is(pub.queueDepth, 16);
    await broker.restart();
    const got: string[] = [];
    const sub = connect(broker.url, { protocolVersion: 4 });
    await new Promise<void>((r) => sub.once('connect', () => r()));
    sub.on('message', (_t, p) => got.push(JSON.parse(p.toString()).id));
    await sub.subscribeAsync('earshot/tmpfs/events', { qos: 1 });
    const t0 = Date.now();
    while (new Set(got).size < 16 && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 20));
    assert.is(new Set(got).size, 16, `delivered ${new Set(got).size} of 16 (3 from the previous run)`);
    // space returns: the queue goes back to disk
    rmSync(join(mnt, 'filler'), { force: true });
    pub.publishEvent(eventNo(13)); // the first write attempt after space returns recovers
    const t1 = Date.now();
    while (pub.queueDegraded && Date.now() - t1 < 20000) {
      pub.publishEvent(eventNo(100 + Math.floor((Date.now() - t1) / 100)));
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.is(pub.queueDegraded, null, 'recovered once space returned');
    await pub.stop();
    assert.is(pub.droppedEvents, 0);
    await sub.endAsync(true);
    assert.not.ok(lines.some((l) => /without the queue/.test(l.msg)));
  } finally {
    await broker.stop();
  }
});

test('real 64 KiB tmpfs (root only): filling up during an outage, then a stop: undelivered memory events are counted as dropped', async () => {
  if (!isRoot) return;
  const mnt = fresh();
  assert.is(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]).status, 0);
  mounts.push(mnt);
  const q = new OfflineQueue({ dir: mnt, maxBytes: 8 * 1024 * 1024 });
  const big = 'p'.repeat(900);
  let n = 0;
  while (!q.degraded && n < 1000) q.append(`${n++}:${big}`);
  assert.ok(q.degraded, `64 KiB never filled after ${n} events`);
  for (let i = 0; i < 10; i++) q.append(`${n++}:${big}`);
  const depth = q.depth;
  q.close();
  const r = new OfflineQueue({ dir: mnt });
  assert.is(r.depth + q.droppedCount, depth, `on disk ${r.depth} + dropped ${q.droppedCount} = queued ${depth}`);
  assert.ok(r.skippedLines <= 1);
  assert.ok(readFileSync(join(mnt, 'queue.jsonl')).length > 0);
  r.close();
});

function eventNo(i: number) {
  const probabilities = { angry: 0.1, happy: 0.6, neutral: 0.2, sad: 0.1 };
  return { id: `ev-${i}`, deviceId: 'tmpfs', start: new Date(i * 1000).toISOString(), end: new Date(i * 1000 + 500).toISOString(), durationMs: 500, label: 'happy', confidence: 0.6, probabilities, valence: 0.5, arousal: 0.5, model: 'm', kind: 'utterance' as const };
}

test.run();
