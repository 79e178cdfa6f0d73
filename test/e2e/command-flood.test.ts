// Commands over MQTT (`baseline/reset`, `listening/set`): a flood is acted on at most once per
// second with one log line per flood (src/runtime/publish/command-gate.ts), and a retained command
// is never acted on: refused on the wire by the embedded broker (src/daemon/broker/broker-guard.ts)
// and recognised by its retain flag with MQTT 5 on Mosquitto (retain as published).
// Real brokers (the embedded one and Mosquitto) and real clients; the gate alone on a fake clock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type MqttClient } from 'mqtt';
import { guardForPublisher } from '../../src/daemon/broker/broker-guard.ts';
import { startEmbeddedBroker } from '../../src/daemon/broker/embedded-broker.ts';
import { CommandGate, type GateTimers } from '../../src/runtime/publish/command-gate.ts';
import { parsePublisherConfig } from '../../src/runtime/publish/config.ts';
import { MqttPublisher, type PublisherLog } from '../../src/runtime/publish/publisher.ts';
import { deferAfterEach, sleep, waitUntil } from '../helpers/harness.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';

const defer = deferAfterEach(test);
const tmp = mkdtempSync(join(tmpdir(), 'earshot-commands-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

function fakeTime() {
  let now = 0;
  const due: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  const timers: GateTimers = {
    setTimeout: (fn, ms) => (due.push({ at: now + ms, fn, id: ++ids }), ids),
    clearTimeout: (id) => due.splice(due.findIndex((d) => d.id === id) >>> 0, due.some((d) => d.id === id) ? 1 : 0),
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      due.sort((a, b) => a.at - b.at);
      if (!due.length || due[0].at > end) break;
      const d = due.shift()!;
      now = d.at;
      d.fn();
    }
    now = end;
  };
  return { clock: { now: () => now }, timers, advance };
}

test('CommandGate: 5,000 commands in 0.8 s -> one at once, the latest after 1 s, one report; a later flood is reported again', () => {
  const t = fakeTime();
  const acted: { at: number; v: number }[] = [];
  let reports = 0;
  const gate = new CommandGate<number>({ minIntervalMs: 1000, quietMs: 10_000, act: (v) => acted.push({ at: t.clock.now(), v }), onBurst: () => reports++, clock: t.clock, timers: t.timers });
  for (let i = 0; i < 5000; i++) {
    gate.offer(i);
    t.advance(0.16);
  }
  t.advance(5000);
  assert.equal(acted, [{ at: 0, v: 0 }, { at: 1000, v: 4999 }]);
  assert.is(reports, 1);
  assert.is(gate.folded, 4998);
  t.advance(20_000);
  gate.offer(1);
  gate.offer(2);
  t.advance(2000);
  assert.is(reports, 2, 'a flood after a quiet spell is reported again');
  assert.equal(acted.slice(-2).map((a) => a.v), [1, 2]);
  gate.offer(3);
  gate.offer(4);
  gate.close();
  t.advance(5000);
  assert.is(acted.at(-1)!.v, 3, 'a pending command is dropped at close');
});

test('CommandGate: OFF then ON within a second ends ON', () => {
  const t = fakeTime();
  const acted: boolean[] = [];
  const gate = new CommandGate<boolean>({ minIntervalMs: 1000, quietMs: 10_000, act: (v) => acted.push(v), onBurst: () => undefined, clock: t.clock, timers: t.timers });
  gate.offer(false);
  t.advance(100);
  gate.offer(true);
  t.advance(2000);
  assert.equal(acted, [false, true]);
});

function client(url: string, opts: { protocolVersion?: 4 | 5 } = {}): Promise<MqttClient> {
  const c = defer(connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000, ...opts }), (x) => x.endAsync(true));
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** A publisher on `url` whose command callbacks and log lines are recorded. */
async function publisher(url: string, extra: { username?: string; password?: string; protocolVersion?: 4 | 5 } = {}) {
  const config = parsePublisherConfig({ url, deviceId: 'cmd', clientId: 'earshot-cmd', stateDir: join(tmp, String(Math.random())), reconnectMinMs: 50, reconnectMaxMs: 100, protocolVersion: extra.protocolVersion ?? 4 });
  const resets: number[] = [];
  const listening: boolean[] = [];
  const lines: string[] = [];
  const log: PublisherLog = { debug() {}, info: (_o, m) => void lines.push(`info ${m}`), warn: (_o, m) => void lines.push(`warn ${m}`), error: (_o, m) => void lines.push(`error ${m}`) };
  const pub = defer(
    new MqttPublisher({
      config: { ...config, ...(extra.username ? { username: extra.username, password: extra.password } : {}) },
      log,
      // what the daemon logs per reset (daemon.ts resetBaseline): one line
      onResetBaseline: () => (resets.push(Date.now()), lines.push('info speaker baseline reset')),
      onListeningCommand: (on) => listening.push(on),
    }),
    (p) => p.stop(),
  );
  await pub.start();
  assert.ok(pub.connected);
  lines.length = 0;
  return { pub, resets, listening, lines, config };
}

test('embedded broker: 5,000 baseline/reset messages -> at most one reset per second and at most 5 log lines', async () => {
  const config = parsePublisherConfig({ url: 'mqtt://127.0.0.1:1', deviceId: 'cmd', stateDir: tmp });
  const guard = guardForPublisher(config);
  const broker = defer(await startEmbeddedBroker({ port: 0, guard }), (b) => b.close());
  const d = await publisher(broker.url, guard.daemon);
  const evil = await client(broker.url);
  const t0 = Date.now();
  for (let i = 0; i < 5000; i++) evil.publish('earshot/cmd/baseline/reset', 'x', { qos: 0 });
  await evil.publishAsync('earshot/cmd/baseline/reset', 'x', { qos: 1 });
  const sentMs = Date.now() - t0;
  await sleep(2500);
  console.log(`    5,000 resets sent in ${sentMs} ms: ${d.resets.length} acted on, ${d.lines.length} log lines`);
  assert.ok(d.resets.length >= 1 && d.resets.length <= Math.ceil((Date.now() - t0) / 1000), `resets: ${d.resets.length}`);
  for (let i = 1; i < d.resets.length; i++) assert.ok(d.resets[i] - d.resets[i - 1] >= 990, 'at most one per second');
  assert.ok(d.lines.length <= 5, d.lines.join('\n'));
  assert.is(d.lines.filter((l) => l.startsWith('warn more than one baseline/reset')).length, 1);
});

test('embedded broker: a retained command is refused on the wire and never acted on, now or at the next connect', async () => {
  const config = parsePublisherConfig({ url: 'mqtt://127.0.0.1:1', deviceId: 'cmd', stateDir: tmp });
  const guard = guardForPublisher(config);
  const broker = defer(await startEmbeddedBroker({ port: 0, guard }), (b) => b.close());
  const d = await publisher(broker.url, guard.daemon);
  const evil = await client(broker.url);
  const closed = new Promise<void>((r) => evil.once('close', () => r()));
  evil.publish('earshot/cmd/listening/set', 'OFF', { qos: 0, retain: true });
  await closed;
  const reset = await client(broker.url);
  reset.publish('earshot/cmd/baseline/reset', 'x', { qos: 0, retain: true });
  await sleep(500);
  assert.equal(d.listening, [], 'the retained OFF was not acted on');
  assert.equal(d.resets, []);
  await d.pub.stop();
  const later = await publisher(broker.url, guard.daemon);
  await sleep(300);
  assert.equal(later.listening, []);
  assert.equal(later.resets, []);
  // an ordinary command still works, and an empty retained message (a clear) is allowed
  const ok = await client(broker.url);
  await ok.publishAsync('earshot/cmd/listening/set', '', { qos: 1, retain: true });
  await ok.publishAsync('earshot/cmd/listening/set', 'OFF', { qos: 1 });
  await waitUntil('OFF', () => later.listening.includes(false), 3000);
});

test('Mosquitto with MQTT 5: a retained command published while the daemon is subscribed is ignored (retain as published)', async () => {
  const m = await startMosquitto();
  defer(m, (x) => x.stop());
  const url = `mqtt://127.0.0.1:${m.port}`;
  const d = await publisher(url, { protocolVersion: 5 });
  const evil = await client(url);
  await evil.publishAsync('earshot/cmd/listening/set', 'OFF', { qos: 1, retain: true });
  await evil.publishAsync('earshot/cmd/baseline/reset', 'x', { qos: 1, retain: true });
  await sleep(500);
  assert.equal(d.listening, []);
  assert.equal(d.resets, []);
  assert.ok(d.lines.some((l) => l.includes('ignoring a retained listening command')), d.lines.join('\n'));
  await evil.publishAsync('earshot/cmd/listening/set', 'OFF', { qos: 1 });
  await waitUntil('a live OFF', () => d.listening.includes(false), 3000);
});

test.run();
