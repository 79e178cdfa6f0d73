// The embedded broker's memory limits (src/daemon/broker/broker-limits.ts), against the real
// daemon (`earshot run` with its embedded broker) and real clients: a 200 MB publish, 300 retained
// 1 MB messages and a stream of retained 200 kB ones must leave it alive, under 250 MB peak RSS
// (VmHWM of its process: no memory cgroup is needed to measure it), with the retained store capped.
// The daemon runs from dist/ (`npm run build` first).
import { connect as tcpConnect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type MqttClient } from 'mqtt';
import { FrameMeter, RetainedLedger } from '../../src/daemon/broker/broker-limits.ts';
import { startEmbeddedBroker } from '../../src/daemon/broker/embedded-broker.ts';
import { killDaemon, spawnDaemon } from '../helpers/daemon.ts';
import { deferAfterEach, sleep, waitUntil } from '../helpers/harness.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const defer = deferAfterEach(test);
const tmp = mkdtempSync(join(tmpdir(), 'earshot-broker-limits-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Peak resident memory of a process, MB (Linux /proc). */
const peakRssMb = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** MQTT 3.1.1 remaining-length bytes (section 2.2.3). */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function client(url: string): Promise<MqttClient> {
  const c = defer(connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 }), (x) => x.endAsync(true));
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('error', reject);
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** Connects raw, sends CONNECT, then a PUBLISH header announcing `bytes` of payload and streams zeros until the broker hangs up. */
function hugePublish(port: number, bytes: number): Promise<{ sent: number }> {
  return new Promise((resolve) => {
    const s = tcpConnect({ port, host: '127.0.0.1' });
    let sent = 0;
    const zeros = Buffer.alloc(1 << 20);
    const done = () => resolve({ sent });
    s.on('error', done);
    s.on('close', done);
    s.on('connect', () => {
      const id = Buffer.from('huge');
      const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 30, 0, id.length]), id]);
      s.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
      const topic = Buffer.from('junk/big');
      const remaining = 2 + topic.length + bytes;
      s.write(Buffer.concat([Buffer.from([0x30, ...varint(remaining)]), Buffer.from([0, topic.length]), topic]));
      const pump = () => {
        while (sent < bytes && !s.destroyed) {
          sent += zeros.length;
          if (!s.write(zeros)) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
  });
}

test('FrameMeter follows packets split anywhere and flags an oversized one from its header', () => {
  const packets = [Buffer.from([0x30, 3, 0, 1, 0x61]), Buffer.from([0xc0, 0]), Buffer.from([0x30, ...varint(300), ...Buffer.alloc(300)])];
  const stream = Buffer.concat(packets);
  for (const step of [1, 2, 7, stream.length]) {
    const meter = new FrameMeter(400);
    for (let i = 0; i < stream.length; i += step) assert.is(meter.feed(stream.subarray(i, i + step)), undefined, `step ${step}`);
  }
  const meter = new FrameMeter(400);
  assert.is(meter.feed(Buffer.from([0x30, ...varint(200_000_000)]))?.limit, 'maxPacketBytes');
});

test('RetainedLedger: count and bytes capped, a replacement costs its difference, an empty payload clears, the daemon is exempt', () => {
  const l = new RetainedLedger({ maxRetainedMessages: 2, maxRetainedBytes: 2000 });
  assert.is(l.check({ topic: 'a', payload: Buffer.alloc(900), retain: true }, false), undefined);
  assert.is(l.check({ topic: 'a', payload: Buffer.alloc(950), retain: true }, false), undefined, 'replacing one is not adding one');
  assert.is(l.check({ topic: 'b', payload: Buffer.alloc(1100), retain: true }, false)?.limit, 'maxRetainedBytes');
  assert.is(l.check({ topic: 'b', payload: Buffer.alloc(900), retain: true }, false), undefined);
  assert.is(l.check({ topic: 'c', payload: 'x', retain: true }, false)?.limit, 'maxRetainedMessages');
  assert.is(l.check({ topic: 'c', payload: 'x', retain: false }, false), undefined, 'not retained: not counted');
  assert.is(l.check({ topic: 'd', payload: 'x', retain: true }, true), undefined, 'the daemon is never refused');
  assert.is(l.check({ topic: 'a', payload: Buffer.alloc(0), retain: true }, false), undefined);
  assert.equal([l.count, l.bytes], [2, 1 + 900 + 1 + 1]);
});

test('embedded broker: connections beyond maxConnections are closed; MQTT over WebSockets has the packet cap too', async () => {
  const broker = defer(await startEmbeddedBroker({ port: 0, wsPort: 0, limits: { maxConnections: 2, maxPacketBytes: 4096 } }), (b) => b.close());
  await client(broker.url);
  await client(broker.wsUrl!);
  const third = await client(broker.url).then(() => 'connected', (e: Error) => e.message);
  assert.is.not(third, 'connected', 'a third connection is refused');
});

test('embedded broker over WebSockets: a packet over the cap closes the connection', async () => {
  const broker = defer(await startEmbeddedBroker({ port: 0, wsPort: 0, limits: { maxPacketBytes: 4096 } }), (b) => b.close());
  const c = await client(broker.wsUrl!);
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.publish('junk/big', Buffer.alloc(10_000), { qos: 0 });
  await closed;
  const sub = await client(broker.url);
  const got: string[] = [];
  sub.on('message', (t) => got.push(t));
  await sub.subscribeAsync('junk/#');
  c.end(true);
  const small = await client(broker.wsUrl!);
  await small.publishAsync('junk/small', Buffer.alloc(1000), { qos: 1 });
  await waitUntil('the small one', () => got.includes('junk/small'), 3000);
});

test('earshot run: a 200 MB publish and 300 retained 1 MB messages leave the daemon alive under 250 MB; retained store capped', async () => {
  const port = await freePort();
  const d = spawnDaemon(['--model', join(ROOT, 'test/fixtures/models/tiny-lstm.json'), '--device-id', 'limits', '--state-dir', join(tmp, 'run'),
    '--source', `file:${join(ROOT, 'assets/demo-angry.flac')}`, '--set', 'capture.loop=true', '--set', `embeddedBroker.port=${port}`, '--set', 'embeddedBroker.wsPort=0', '--http-port', '0', '--log-format', 'json']);
  defer(d.child, killDaemon);
  await waitUntil('the broker', () => d.stderr().includes('embedded MQTT broker'), 30000, d.stderr);
  const url = `mqtt://127.0.0.1:${port}`;
  const before = peakRssMb(d.child.pid!);

  const t0 = Date.now();
  const huge = await hugePublish(port, 200_000_000);
  assert.ok(huge.sent < 50_000_000, `the broker hung up early (after ${huge.sent} bytes were written)`);
  assert.ok(Date.now() - t0 < 10_000);

  // 300 retained 1 MB messages: each one is over the packet cap, each connection closed
  const mb = Buffer.alloc(1 << 20, 0x61);
  for (let i = 0; i < 300; i++) {
    const c = connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 });
    await new Promise<void>((resolve) => {
      c.once('connect', () => c.publish(`junk/${i}`, mb, { qos: 0, retain: true }));
      c.once('close', () => resolve());
      c.once('error', () => resolve());
    });
    c.end(true);
  }
  // 200 kB retained messages (under the packet cap): the store stops at maxRetainedBytes (8 MiB)
  const fifth = Buffer.alloc(200 * 1024, 0x62);
  let refused = 0;
  for (let i = 0; i < 100; i++) {
    const c = connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 });
    await new Promise<void>((resolve) => {
      c.once('connect', () => c.publish(`junk/r${i}`, fifth, { qos: 1, retain: true }, (err) => (err ? (refused++, resolve()) : resolve())));
      c.once('close', () => (refused++, resolve()));
      c.once('error', () => resolve());
    });
    c.end(true);
  }
  assert.ok(refused > 50, `retained 200 kB messages beyond 8 MiB are refused (${refused} of 100)`);

  const sub = await client(url);
  const retained: string[] = [];
  sub.on('message', (t, _p, packet) => packet.retain && retained.push(t));
  await sub.subscribeAsync('junk/#', { qos: 0 });
  await sleep(1000);
  assert.ok(retained.length <= 41 && retained.length >= 30, `retained junk held: ${retained.length} (8 MiB / 200 kB = 40)`);
  assert.not.ok(retained.includes('junk/big') || retained.includes('junk/0'));

  // alive: the daemon still publishes and answers
  const status = await client(url);
  const seen: string[] = [];
  status.on('message', (_t, p) => seen.push(p.toString()));
  await status.subscribeAsync('earshot/limits/status', { qos: 1 });
  await waitUntil('online', () => seen.includes('online'), 5000);
  assert.is(d.child.exitCode, null, 'the daemon is running');
  const peak = peakRssMb(d.child.pid!);
  console.log(`    daemon peak RSS: ${before.toFixed(0)} MB before, ${peak.toFixed(0)} MB after the attacks`);
  assert.ok(peak < 250, `peak RSS ${peak.toFixed(0)} MB`);
  const warns = d.logs().filter((l) => String(l.msg).startsWith('embedded broker:'));
  assert.ok(warns.length >= 1 && warns.length <= 4, `refusals logged once per kind: ${warns.map((w) => w.msg).join(' | ')}`);
});

test.run();
