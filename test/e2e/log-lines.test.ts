// Log lines that do not mislead or flood: the publisher's stop summary counts what is really on
// disk (the queue drops what it held in memory only when it closes, and says so), a failed baseline
// save is one short line (its stack at debug), and bytes quoted from a file (WAV/AIFF chunk ids)
// reach a one-line error with their control characters escaped.
// Real parts: the publisher's on-disk queue on a file system that refuses writes (injected
// QueueFs, as test/queue-disk-full does), and the daemon from dist/ (`npm run build` first).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { printable } from '../../src/core/printable.ts';
import { decodeAudioBuffer } from '../../src/runtime/audio/decode.ts';
import { parsePublisherConfig } from '../../src/runtime/publish/config.ts';
import type { QueueFs } from '../../src/runtime/publish/offline-queue.ts';
import { MqttPublisher, type PublisherLog } from '../../src/runtime/publish/publisher.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-log-lines-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('printable escapes C0, DEL and C1 controls, keeps the rest', () => {
  assert.is(printable('da\x1b[31mta\n'), 'da\\x1b[31mta\\n');
  assert.is(printable('a\tb\rc\x00\x7f\x9b'), 'a\\tb\\rc\\x00\\x7f\\x9b');
  assert.is(printable('fmt é ✓'), 'fmt é ✓');
});

test('a WAV chunk id with ESC and newline bytes: the error is one line without raw control characters', async () => {
  const wav = Buffer.alloc(64);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(56, 4);
  wav.write('WAVE', 8);
  Buffer.from([0x1b, 0x5b, 0x32, 0x0a]).copy(wav, 12); // ESC [ 2 \n
  wav.writeUInt32LE(1_000_000, 16);
  const path = join(tmp, 'esc.wav');
  writeFileSync(path, wav);
  const message = await decodeAudioBuffer(wav, 'esc.wav').then(() => '', (e: Error) => e.message);
  assert.match(message, "'\\x1b[2\\n' chunk declares 1000000 bytes");
  // eslint-disable-next-line no-control-regex -- the test looks for raw control characters
  assert.not.match(message, /[\x00-\x1f]/);
  const r = spawnSync(process.execPath, ['bin/earshot.js', 'analyze', '--model', join(ROOT, 'test/fixtures/models/tiny-lstm.json'), path], { cwd: ROOT, encoding: 'utf8' });
  // eslint-disable-next-line no-control-regex -- the test looks for a raw ESC
  assert.not.match(r.stderr, /\x1b/);
  assert.ok(r.stderr.split('\n').filter((l) => l.includes('chunk declares')).length === 1, r.stderr);
});

/** node:fs with writes refused once `budget` bytes were written (ENOSPC), as test/queue-disk-full's. */
function fullDisk(budget: number): QueueFs {
  let left = budget;
  return {
    ...fs,
    writeSync: ((fd: number, buf: Buffer | string, off?: number, len?: number) => {
      const b = typeof buf === 'string' ? Buffer.from(buf) : buf.subarray(off ?? 0, (off ?? 0) + (len ?? buf.length - (off ?? 0)));
      if (left <= 0) throw Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC' });
      const n = Math.min(b.length, left);
      left -= n;
      return fs.writeSync(fd, b, 0, n);
    }) as QueueFs['writeSync'],
  } as QueueFs;
}

async function stopSummary(budget: number) {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const log: PublisherLog = {
    debug() {},
    info: (obj, msg) => void lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg: msg ?? '' }),
    warn: (obj, msg) => void lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg: msg ?? '' }),
    error: (obj, msg) => void lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg: msg ?? '' }),
  };
  const config = parsePublisherConfig({ url: 'mqtt://127.0.0.1:1', deviceId: 'stops', stateDir: join(tmp, `s${budget}`), stopTimeoutMs: 0, queue: { fsync: 'none' } });
  const pub = new MqttPublisher({ config, log, queueFs: fullDisk(budget), installationId: 'x'.repeat(32) });
  await pub.start();
  const event = (i: number) => ({ id: `e${i}` }) as unknown as Parameters<MqttPublisher['publishEvent']>[0];
  for (let i = 0; i < 21; i++) pub.publishEvent(event(i));
  await pub.stop();
  return { lines, depth: pub.queueDepth, dropped: pub.droppedEvents };
}

test('stop summary: 21 events the disk refused are "dropped 21", never also "sent first on the next start"', async () => {
  const r = await stopSummary(0);
  const onDisk = r.lines.filter((l) => /sent first on the next start/.test(l.msg));
  const dropped = r.lines.filter((l) => /dropped events held only in memory/.test(l.msg));
  assert.equal(onDisk, [], onDisk.map((l) => l.msg).join('\n'));
  assert.is(dropped.length, 1);
  assert.is(dropped[0]!.obj.dropped, 21);
  assert.is(r.depth, 0, 'nothing is queued any more');
  assert.is(r.dropped, 21);
});

test('stop summary: some on disk, the rest dropped: each number once, and they add up', async () => {
  const r = await stopSummary(300); // room for a few entries, then the disk is full
  const onDisk = r.lines.find((l) => /sent first on the next start/.test(l.msg));
  const dropped = r.lines.find((l) => /dropped events held only in memory/.test(l.msg));
  assert.ok(onDisk && dropped, r.lines.map((l) => l.msg).join('\n'));
  assert.is((onDisk!.obj.queued as number) + (dropped!.obj.dropped as number), 21);
  assert.match(onDisk!.msg, `stopped with ${onDisk!.obj.queued} undelivered events on disk`);
  assert.is(r.depth, onDisk!.obj.queued);
});

test('a baseline save that keeps failing: one short line per failure, no stack', async () => {
  const meta = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/models/tiny-lstm.json'), 'utf8'));
  meta.name = 'tiny-speaker';
  meta.normalization.mode = 'speaker';
  copyFileSync(join(ROOT, 'test/fixtures/models/tiny-lstm.onnx'), join(tmp, meta.onnx.file));
  const model = join(tmp, 'tiny-speaker.json');
  writeFileSync(model, JSON.stringify(meta));
  const state = join(tmp, 'baseline-state');
  mkdirSync(join(state, 'baseline.json.tmp'), { recursive: true }); // saveBaseline's temporary file cannot be opened: EISDIR
  const child = spawn(process.execPath, ['bin/earshot.js', 'run', '--model', model, '--state-dir', state, '--device-id', 'bsave', '--broker', 'mqtt://127.0.0.1:1', '--http-port', '0', '--log-format', 'json',
    '--source', `file:${join(ROOT, 'assets/demo-angry.flac')}`, '--set', 'capture.loop=true', '--set', 'capture.realtime=false', '--set', 'pipeline.adaptation.warmupSeconds=1', '--set', 'pipeline.adaptation.saveEverySeconds=1'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000 && (err.match(/could not save the speaker baseline/g) ?? []).length < 2) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const failures = err.split('\n').filter((l) => l.includes('could not save the speaker baseline'));
  assert.ok(failures.length >= 2, err.slice(-2000));
  for (const line of failures) {
    assert.not.match(line, /"stack"|\\n {4}at /, line);
    assert.ok(line.length < 600, `${line.length} characters: ${line}`);
    assert.match(line, /"code":"EISDIR"/);
  }
});

test.run();
