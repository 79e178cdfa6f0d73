// The MQTT publisher against a real Mosquitto (test/helpers/mosquitto.ts) and the embedded aedes
// broker. Only the backoff test uses a fake client: it checks timing decisions, not the wire.
/* eslint-disable max-lines -- one suite against one real broker; to be split with publisher.ts */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { startMosquitto, freePort, makeTestCertificates, type TestCertificates } from '../helpers/mosquitto.ts';
import { affectOf } from '../../src/core/affect.ts';
import { isEarshotError } from '../../src/core/errors.ts';
import { MqttPublisher, type MqttClientLike, type PublisherLog } from '../../src/runtime/publish/publisher.ts';
import { parsePublisherConfig, type PublisherConfigInput } from '../../src/runtime/publish/config.ts';
import { startEmbeddedBroker } from '../../src/daemon/broker/embedded-broker.ts';
import { EventIdSource } from '../../src/runtime/publish/event-id.ts';
import { emotionEventSchema, emotionStateSchema, haDeviceDiscoveryConfigSchema, instanceInfoSchema, metricsSchema, round3, roundProbabilities, type EmotionEvent, type EmotionState } from '../../src/runtime/publish/payloads.ts';
import { MIGRATE_DISCOVERY } from '../../src/runtime/publish/discovery.ts';

// Everything a test starts is registered here and torn down after it, pass or fail, so a failed
// assertion cannot leave a broker or client keeping the process alive.
const cleanups: (() => unknown)[] = [];
const defer = <T>(thing: T, undo: (t: T) => unknown): T => (cleanups.push(() => undo(thing)), thing);
test.after.each(async () => {
  while (cleanups.length) await Promise.resolve().then(cleanups.pop()!).catch(() => {});
});
const mosquitto = async (opts?: { persistence?: boolean; tls?: TestCertificates }) => defer(await startMosquitto(opts), (b) => b.stop());
const newPublisher = (ctx: ConstructorParameters<typeof MqttPublisher>[0]) => defer(new MqttPublisher(ctx), (p) => p.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitUntil(what: string, done: () => boolean, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

interface Received { topic: string; payload: string; retain: boolean; qos: number }
interface Subscriber { client: MqttClient; messages: Received[]; on(topic: string): Received[]; end(): Promise<void> }
type ClientOpts = { clientId?: string; clean?: boolean; ca?: Buffer };
async function subscribe(url: string, topics: string[], opts: ClientOpts = {}): Promise<Subscriber> {
  const client = await connectClient(url, opts);
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }));
  await client.subscribeAsync(topics, { qos: 1 });
  return defer({ client, messages, on: (t) => messages.filter((m) => m.topic === t), end: () => client.endAsync(true) }, (x) => x.end());
}
function connectClient(url: string, opts: ClientOpts = {}): Promise<MqttClient> {
  const client = connect(url, { protocolVersion: 4, reconnectPeriod: 50, connectTimeout: 2000, ...opts });
  defer(client, (c) => c.endAsync(true));
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

function memoryLog(): PublisherLog & { lines: { level: string; obj: object; msg: string }[] } {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg: msg ?? '' });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const stateDirs: string[] = [];
process.once('exit', () => stateDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const stateDir = () => (stateDirs.push(mkdtempSync(join(tmpdir(), 'earshot-pub-'))), stateDirs.at(-1)!);
function config(url: string, extra: Partial<PublisherConfigInput> = {}) {
  return parsePublisherConfig({ url, deviceId: 'testdev', stateDir: stateDir(), reconnectMinMs: 50, reconnectMaxMs: 200, connectTimeoutMs: 1000, stopTimeoutMs: 2000, ...extra });
}

const labels = ['angry', 'happy', 'neutral', 'sad'];
function makeEvent(ids: EventIdSource, i: number): EmotionEvent {
  const start = new Date(Date.UTC(2025, 2, 1, 12, 0, 0) + i * 2000);
  const p = [0.1, 0.2, 0.3, 0.4].map((x, k) => ((x + i * 0.07 * (k + 1)) % 1) + 0.01);
  const sum = p.reduce((a, b) => a + b, 0);
  const probabilities = Object.fromEntries(labels.map((l, k) => [l, p[k] / sum]));
  const best = labels.reduce((a, b) => (probabilities[a] >= probabilities[b] ? a : b));
  const { arousal, valence } = affectOf(probabilities);
  // as toEmotionEvent makes them: 3 decimals, `kind` for windows only
  return {
    id: ids.next(), start: start.toISOString(), durationMs: 1500, label: best, confidence: round3(probabilities[best]), probabilities: roundProbabilities(probabilities),
    arousal: round3(arousal), valence: round3(valence), model: 'ser-test', ...(i % 2 ? { kind: 'window' as const } : {}),
  };
}
const emotion = (label: string, confidence: number): EmotionState => {
  const probabilities = { angry: 0.1, happy: confidence, neutral: 0.9 - confidence, sad: 0 };
  const { arousal, valence } = affectOf(probabilities);
  return { label, confidence: round3(confidence), probabilities: roundProbabilities(probabilities), arousal: round3(arousal), valence: round3(valence), timestamp: new Date().toISOString(), model: 'ser-test' };
};
/** Ids in first-arrival order, and how many arrived more than once. */
function firstArrivals(messages: Received[]): { ids: string[]; duplicates: number } {
  const seen = new Set<string>();
  let duplicates = 0;
  for (const m of messages) {
    const id = (JSON.parse(m.payload) as EmotionEvent).id;
    if (seen.has(id)) duplicates++;
    else seen.add(id);
  }
  return { ids: [...seen], duplicates };
}

test('the @example payloads documented in payloads.ts satisfy their schemas', () => {
  const text = readFileSync(new URL('../../src/runtime/publish/payloads.ts', import.meta.url), 'utf8');
  const examples = [...text.matchAll(/@example\n((?: \*  ?[^@\n/].*\n)+)/g)].map((m) => JSON.parse(m[1].replace(/^ \* ?/gm, '').replace(/\n/g, '')));
  const schemas = [emotionStateSchema, emotionEventSchema, metricsSchema, haDeviceDiscoveryConfigSchema, instanceInfoSchema];
  assert.is(examples.length, schemas.length);
  examples.forEach((e, i) => schemas[i].parse(e));
});

test('status is retained online; stop() leaves a retained offline', async () => {
  const broker = await mosquitto();
  const pub = newPublisher({ config: config(broker.url) });
  await pub.start();
  assert.ok(pub.connected);
  const late = await subscribe(broker.url, ['earshot/testdev/status']);
  await waitUntil('retained online', () => late.messages.length > 0);
  assert.equal(late.messages[0], { topic: 'earshot/testdev/status', payload: 'online', retain: true, qos: 1 });
  await pub.stop();
  await waitUntil('offline', () => late.messages.some((m) => m.payload === 'offline'));
  const after = await subscribe(broker.url, ['earshot/testdev/status']);
  await waitUntil('retained offline', () => after.messages.length > 0);
  assert.is(after.messages[0].payload, 'offline');
  assert.ok(after.messages[0].retain);
});

test('a publisher process killed with SIGKILL shows as offline through its last will', async () => {
  const broker = await mosquitto();
  const watcher = await subscribe(broker.url, ['earshot/testdev/status']);
  const cfg = JSON.stringify({ url: broker.url, deviceId: 'testdev', stateDir: stateDir(), keepaliveSec: 60 });
  const src = new URL('../../src/runtime/publish/', import.meta.url).href;
  const code = `
    import { MqttPublisher } from '${src}publisher.ts';
    import { parsePublisherConfig } from '${src}config.ts';
    const p = new MqttPublisher({ config: parsePublisherConfig(JSON.parse(process.env.CFG)) });
    await p.start();
    if (p.connected) console.log('ready');
    setInterval(() => {}, 1000);`;
  const child = defer(spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: { ...process.env, CFG: cfg }, stdio: ['ignore', 'pipe', 'inherit'] }), (c) => c.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await waitUntil('child publisher connected', () => out.includes('ready'), 10_000);
  await waitUntil('online', () => watcher.messages.some((m) => m.payload === 'online'));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  await waitUntil('last will offline', () => watcher.messages.at(-1)?.payload === 'offline', 3000);
  const late = await subscribe(broker.url, ['earshot/testdev/status']);
  await waitUntil('retained will', () => late.messages.length > 0);
  assert.equal(late.messages[0], { topic: 'earshot/testdev/status', payload: 'offline', retain: true, qos: 1 }, 'the will is retained');
});

test('emotion state is retained and matches the contract; metrics carry the queue numbers', async () => {
  const broker = await mosquitto();
  const pub = newPublisher({ config: config(broker.url, { baseTopic: 'lab/rig1' }), version: '9.9.9' });
  await pub.start();
  const live = await subscribe(broker.url, ['lab/rig1/metrics']);
  pub.publishEmotion(emotion('neutral', 0.5));
  pub.publishEmotion(emotion('happy', 0.7));
  pub.publishMetrics({ uptimeSec: 12, realTimeFactor: 0.04, latencyMs: { p50: 18, p99: 40 }, droppedFrames: 0, droppedInferences: 1, version: '9.9.9', timestamp: new Date().toISOString() });
  const late = await subscribe(broker.url, ['lab/rig1/emotion']);
  await waitUntil('retained emotion', () => late.messages.length > 0);
  assert.is(late.messages.length, 1, 'only the latest state is retained');
  const state = emotionStateSchema.parse(JSON.parse(late.messages[0].payload));
  assert.is(state.label, 'happy');
  assert.ok(late.messages[0].retain);
  await waitUntil('metrics', () => live.messages.length > 0);
  const m = metricsSchema.parse(JSON.parse(live.messages[0].payload));
  assert.is(m.queueDepth, 0);
  assert.is(m.droppedEvents, 0);
  assert.is(live.messages[0].retain, false);
  await pub.stop();
});

test('events arrive QoS 1, not retained, in order, matching the schema', async () => {
  const broker = await mosquitto();
  const sub = await subscribe(broker.url, ['earshot/testdev/events']);
  const pub = newPublisher({ config: config(broker.url) });
  await pub.start();
  const ids = new EventIdSource('testdev');
  const sent = Array.from({ length: 50 }, (_, i) => makeEvent(ids, i));
  for (const e of sent) pub.publishEvent(e);
  await waitUntil('50 events', () => sub.messages.length >= 50);
  for (const [i, m] of sub.messages.entries()) {
    assert.is(m.qos, 1);
    assert.is(m.retain, false);
    assert.equal(emotionEventSchema.parse(JSON.parse(m.payload)), sent[i]);
  }
  await waitUntil('queue drained', () => pub.queueDepth === 0);
  const retained = await subscribe(broker.url, ['earshot/testdev/events']);
  await sleep(200);
  assert.is(retained.messages.length, 0, 'events are not retained');
  await pub.stop();
});

test('Home Assistant discovery: one retained device config (dev, o, cmps), republished when HA announces online', async () => {
  const broker = await mosquitto();
  const pub = newPublisher({ config: config(broker.url, { deviceName: 'Kitchen' }), version: '1.2.3', deviceModel: 'ser-test', configurationUrl: 'http://192.0.2.7:8080/' });
  await pub.start();
  const ha = await subscribe(broker.url, ['homeassistant/#']);
  await waitUntil('the retained device config', () => ha.messages.length >= 1);
  await sleep(200);
  assert.equal(ha.messages.map((m) => [m.topic, m.retain]), [['homeassistant/device/earshot_testdev/config', true]], 'one message for the device, nothing per entity');
  const cfg = haDeviceDiscoveryConfigSchema.parse(JSON.parse(ha.messages[0].payload));
  assert.equal(cfg.dev, { identifiers: ['earshot_testdev'], name: 'Kitchen', model: 'ser-test', manufacturer: 'earshot', sw_version: '1.2.3', configuration_url: 'http://192.0.2.7:8080/' });
  assert.equal(cfg.o.sw_version, '1.2.3');
  assert.is(cfg.availability_topic, 'earshot/testdev/status');
  const emotion = cfg.cmps.emotion as Record<string, unknown>;
  assert.equal([emotion.p, emotion.state_topic, emotion.value_template, emotion.json_attributes_topic], ['sensor', 'earshot/testdev/emotion', '{{ value_json.label }}', 'earshot/testdev/emotion']);
  assert.is(emotion.json_attributes_template, '{{ {"model": value_json.model} | tojson }}', 'one stable attribute, not the probabilities of every utterance');
  const started = cfg.cmps.started as Record<string, unknown>;
  assert.equal([started.state_topic, started.value_template, started.device_class], ['earshot/testdev/instance', '{{ value_json.startedAt }}', 'timestamp']);
  assert.not.ok('uptime' in cfg.cmps, 'no duration ticking every minute');
  assert.ok(ha.messages[0].payload.length < 4000, `${ha.messages[0].payload.length} bytes`);

  const homeAssistant = await connectClient(broker.url);
  await homeAssistant.publishAsync('homeassistant/status', 'offline');
  await sleep(100);
  assert.equal(ha.messages.filter((m) => m.topic.endsWith('/config')).length, 1, 'offline from HA triggers nothing');
  await homeAssistant.publishAsync('homeassistant/status', 'online');
  await waitUntil('republished config', () => ha.messages.filter((m) => m.topic.endsWith('/config')).length >= 2);
  assert.equal(ha.messages.filter((m) => m.topic.endsWith('/config')).map((m) => m.topic), ['homeassistant/device/earshot_testdev/config', 'homeassistant/device/earshot_testdev/config']);
  await pub.stop();
});

test('upgrade from per-entity discovery: kept entities are migrated (migrate_discovery, device config, cleared), gone ones removed first; a label the next model lacks is removed once', async () => {
  const broker = await mosquitto();
  const old = await connectClient(broker.url);
  const node = (c: string, k: string) => `homeassistant/${c}/earshot_testdev/${k}/config`;
  const kept = [node('sensor', 'emotion'), node('sensor', 'confidence'), node('event', 'utterance'), node('switch', 'listening'), node('sensor', 'probability_sad')];
  const gone = [node('sensor', 'uptime'), node('sensor', 'probability_calm'), 'homeassistant/sensor/testdev_emotion/config'];
  const foreign = 'homeassistant/sensor/earshot_otherdev/emotion/config';
  for (const t of [...kept, ...gone, foreign]) await old.publishAsync(t, '{"name":"x"}', { qos: 1, retain: true });
  // a stale retained command waits on the broker: a (re)started daemon must not obey it
  await old.publishAsync('earshot/testdev/listening/set', 'ON', { qos: 1, retain: true });
  const commands: boolean[] = [];
  const log = memoryLog();
  const device = 'homeassistant/device/earshot_testdev/config';
  const watch = await subscribe(broker.url, ['homeassistant/#']);
  await sleep(200);
  const live = () => watch.messages.filter((m) => !m.retain);
  const pub = newPublisher({ config: config(broker.url), labels: ['happy', 'sad'], onListeningCommand: (on) => commands.push(on), log });
  await pub.start();
  await waitUntil('old configs cleared', () => live().filter((m) => m.payload === '').length >= kept.length + gone.length);
  await sleep(200);
  const order = live().map((m) => `${m.payload === '' ? 'clear' : m.payload === MIGRATE_DISCOVERY ? 'migrate' : 'config'} ${m.topic}`);
  const at = (what: string) => order.indexOf(what);
  assert.is(order.filter((o) => o.startsWith('config')).length, 1, order.join('\n'));
  for (const t of gone) assert.ok(at(`clear ${t}`) >= 0 && at(`clear ${t}`) < at(`config ${device}`), `${t} removed before the device config:\n${order.join('\n')}`);
  for (const t of gone) assert.is(at(`migrate ${t}`), -1, `${t} is not migrated (nothing takes it over)`);
  for (const t of kept) assert.ok(at(`migrate ${t}`) >= 0 && at(`migrate ${t}`) < at(`config ${device}`) && at(`clear ${t}`) > at(`config ${device}`), `${t}: migrate, device config, clear:\n${order.join('\n')}`);
  assert.not.ok(order.some((o) => o.endsWith(foreign)), 'another device\'s config is left alone');
  assert.ok(log.lines.some((l) => /removing 3 Home Assistant entities/.test(l.msg)), JSON.stringify(log.lines.map((l) => l.msg)));
  assert.ok(log.lines.some((l) => /moving 5 Home Assistant entities to one device discovery config/.test(l.msg)));
  const late = await subscribe(broker.url, ['homeassistant/#']);
  await sleep(300);
  assert.equal(late.messages.map((m) => m.topic).sort(), [device, foreign].sort(), 'retained afterwards: the device config (and the other device\'s)');

  pub.publishListening(false);
  assert.ok(log.lines.some((l) => /ignoring a retained listening command/.test(l.msg)));
  await old.publishAsync('earshot/testdev/listening/set', 'OFF', { qos: 1 });
  await old.publishAsync('earshot/testdev/listening/set', 'bogus', { qos: 1 });
  await old.publishAsync('earshot/testdev/listening/set', 'on', { qos: 1 });
  await waitUntil('two commands', () => commands.length >= 2);
  assert.equal(commands, [false, true], 'the live ones, in order; neither the stale retained one nor a bogus one');
  const state = await subscribe(broker.url, ['earshot/testdev/listening']);
  await waitUntil('retained listening state', () => state.messages.length > 0);
  assert.is(state.messages[0].payload, 'OFF');
  await pub.stop();

  // the next model has only `happy`: probability_sad is sent once with its platform alone (removed), then left out
  const cmpsOf = async () => {
    const s = await subscribe(broker.url, [device]);
    await waitUntil('retained device config', () => s.messages.length > 0);
    return haDeviceDiscoveryConfigSchema.parse(JSON.parse(s.messages[0].payload)).cmps;
  };
  const two = newPublisher({ config: config(broker.url), labels: ['happy'] });
  await two.start();
  await sleep(300);
  assert.equal((await cmpsOf()).probability_sad, { p: 'sensor' });
  assert.ok((await cmpsOf()).probability_happy);
  await two.stop();
  const three = newPublisher({ config: config(broker.url), labels: ['happy'] });
  await three.start();
  await sleep(300);
  assert.not.ok('probability_sad' in (await cmpsOf()), 'removed once, then left out');
  await three.stop();
});

test('broker restart mid-stream: every event arrives, in order (dedupe by id)', async () => {
  const broker = await mosquitto({ persistence: true });
  const sub = await subscribe(broker.url, ['earshot/testdev/events'], { clientId: 'restart-sub', clean: false });
  const log = memoryLog();
  const pub = newPublisher({ config: config(broker.url), log });
  await pub.start();
  const ids = new EventIdSource('testdev');
  const total = 200;
  const sent: string[] = [];
  let maxDepth = 0;
  const publishing = (async () => {
    for (let i = 0; i < total; i++) {
      const e = makeEvent(ids, i);
      sent.push(e.id);
      pub.publishEvent(e);
      maxDepth = Math.max(maxDepth, pub.queueDepth);
      await sleep(10);
    }
  })();
  const outage = (async () => {
    await waitUntil('some events before the outage', () => sent.length >= 40);
    await broker.stop();
    await waitUntil('events during the outage', () => sent.length >= 120);
    await broker.restart();
  })();
  await Promise.all([publishing, outage]);
  await waitUntil('all events at the subscriber', () => firstArrivals(sub.messages).ids.length >= total, 15_000);
  const { ids: got, duplicates } = firstArrivals(sub.messages);
  assert.equal(got, sent, 'first arrivals are exactly the sent ids, in order');
  assert.ok(maxDepth >= 40, `the queue held the outage backlog (max depth ${maxDepth})`);
  await waitUntil('queue drained', () => pub.queueDepth === 0);
  assert.ok(log.lines.some((l) => l.level === 'warn' && l.msg.includes('lost the MQTT connection')));
  assert.ok(log.lines.some((l) => l.level === 'info' && l.msg.includes('reachable again')));
  console.log(`  broker restart: ${total} events, max queue depth ${maxDepth}, ${duplicates} duplicates`);
  await pub.stop();
});

test('daemon restart: events queued while the broker is down are delivered by the next process, first and in order', async () => {
  const broker = await mosquitto({ persistence: true });
  const sub = await subscribe(broker.url, ['earshot/testdev/events'], { clientId: 'daemon-sub', clean: false });
  await broker.stop();
  const cfg = config(broker.url);
  const log = memoryLog();
  const first = newPublisher({ config: cfg, log });
  const t0 = Date.now();
  await first.start();
  assert.ok(Date.now() - t0 < 2000, 'start() does not wait for an unreachable broker');
  assert.not.ok(first.connected);
  const err = log.lines.find((l) => l.level === 'error');
  assert.ok(err, 'the failure is logged');
  assert.is((err!.obj as { code: string }).code, 'E_BROKER');
  assert.match(err!.msg, broker.url);
  assert.match(err!.msg, 'is the broker running');
  const ids = new EventIdSource('testdev');
  const sent = Array.from({ length: 30 }, (_, i) => makeEvent(ids, i));
  for (const e of sent) first.publishEvent(e);
  assert.is(first.queueDepth, 30);
  await sleep(300); // several failed retries
  assert.is(log.lines.filter((l) => l.level === 'error').length, 1, 'one error per outage, retries at debug');
  await first.stop();

  await broker.restart();
  await waitUntil('subscriber back', () => sub.client.connected);
  const second = newPublisher({ config: cfg });
  await second.start();
  const ids2 = new EventIdSource('testdev');
  const more = Array.from({ length: 5 }, (_, i) => makeEvent(ids2, i));
  for (const e of more) second.publishEvent(e);
  await waitUntil('35 events', () => firstArrivals(sub.messages).ids.length >= 35);
  assert.equal(firstArrivals(sub.messages).ids, [...sent, ...more].map((e) => e.id));
  await waitUntil('queue drained', () => second.queueDepth === 0);
  await second.stop();
});

/** A TCP relay to the broker that can silently swallow client bytes, like a half-open Wi-Fi link. */
async function blackholeRelay(brokerPort: number): Promise<{ url: string; swallow(on: boolean): void; close(): Promise<void> }> {
  let swallowing = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = netConnect(brokerPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => (client.destroy(), upstream.destroy()));
    }
    client.on('data', (d) => swallowing || upstream.write(d));
    upstream.on('data', (d) => client.write(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    swallow: (on) => (swallowing = on),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

test('events handed to the client but never acknowledged (half-open link) are delivered by the next process', async () => {
  const broker = await mosquitto();
  const relay = defer(await blackholeRelay(broker.port), (r) => r.close());
  const sub = await subscribe(broker.url, ['earshot/testdev/events']);
  const dir = stateDir();
  const first = newPublisher({ config: config(relay.url, { stateDir: dir, stopTimeoutMs: 300, keepaliveSec: 60 }) });
  await first.start();
  const ids = new EventIdSource('testdev');
  const sent = Array.from({ length: 20 }, (_, i) => makeEvent(ids, i));
  for (const e of sent.slice(0, 5)) first.publishEvent(e);
  await waitUntil('first 5 delivered', () => sub.messages.length >= 5);
  relay.swallow(true); // the connection looks alive, but nothing reaches the broker any more
  for (const e of sent.slice(5)) first.publishEvent(e);
  await sleep(200);
  assert.is(sub.messages.length, 5);
  assert.is(first.queueDepth, 15, 'unacknowledged events stay queued although they were published');
  await first.stop(); // gives up after stopTimeoutMs: the process goes down with 15 in flight
  await relay.close();
  const second = newPublisher({ config: config(broker.url, { stateDir: dir }) });
  await second.start();
  await waitUntil('all 20', () => firstArrivals(sub.messages).ids.length >= 20);
  assert.equal(firstArrivals(sub.messages).ids, sent.map((e) => e.id));
  await second.stop();
});

test('mqtts: connects with the configured CA, logs a TLS hint without it, refuses an unreadable CA file', async () => {
  const certs = makeTestCertificates();
  const broker = await mosquitto({ tls: certs });
  assert.match(broker.url, /^mqtts:/);
  const sub = await subscribe(broker.url, ['earshot/testdev/events'], { ca: readFileSync(certs.ca) });
  const pub = newPublisher({ config: config(broker.url, { tls: { ca: certs.ca } }) });
  await pub.start();
  assert.ok(pub.connected);
  const e = makeEvent(new EventIdSource('testdev'), 0);
  pub.publishEvent(e);
  await waitUntil('event over TLS', () => sub.messages.length > 0);
  assert.equal(JSON.parse(sub.messages[0].payload), e);

  const log = memoryLog();
  const untrusting = newPublisher({ config: config(broker.url), log });
  await untrusting.start();
  assert.not.ok(untrusting.connected);
  const err = log.lines.find((l) => l.level === 'error');
  assert.ok(err && (err.obj as { code: string }).code === 'E_BROKER');
  assert.match(err!.msg, 'mqtt.tls.ca');

  const missing = newPublisher({ config: config(broker.url, { tls: { ca: '/nonexistent/ca.pem' } }) });
  try {
    await missing.start();
    assert.unreachable('should throw');
  } catch (x) {
    assert.ok(isEarshotError(x) && x.code === 'E_CONFIG');
    assert.match((x as Error).message, 'mqtt.tls.ca: cannot read /nonexistent/ca.pem');
  }
});

test('the embedded aedes broker carries status, emotion and events', async () => {
  const broker = defer(await startEmbeddedBroker({ port: 0 }), (b) => b.close());
  assert.ok(broker.port > 0);
  assert.is(broker.url, `mqtt://127.0.0.1:${broker.port}`);
  const sub = await subscribe(broker.url, ['earshot/testdev/#']);
  const pub = newPublisher({ config: config(broker.url) });
  await pub.start();
  pub.publishEmotion(emotion('happy', 0.8));
  const ids = new EventIdSource('testdev');
  const sent = Array.from({ length: 10 }, (_, i) => makeEvent(ids, i));
  for (const e of sent) pub.publishEvent(e);
  await waitUntil('events', () => sub.on('earshot/testdev/events').length >= 10);
  assert.equal(sub.on('earshot/testdev/events').map((m) => JSON.parse(m.payload).id), sent.map((e) => e.id));
  assert.ok(sub.on('earshot/testdev/status').some((m) => m.payload === 'online'));
  const late = await subscribe(broker.url, ['earshot/testdev/emotion']);
  await waitUntil('retained emotion', () => late.messages.length > 0);
  assert.is(JSON.parse(late.messages[0].payload).label, 'happy');
  await pub.stop();
  const port = await freePort();
  await broker.close();
  const again = defer(await startEmbeddedBroker({ port }), (b) => b.close());
  assert.is(again.port, port);
});

test('reconnect delay doubles per failed attempt up to the cap and resets on connect (fake client)', async () => {
  // A fake is enough here: the publisher only reads and writes options.reconnectPeriod.
  class FakeClient extends EventEmitter { options = { reconnectPeriod: 0 }; publish() {} subscribe() {} end(_f: boolean, _o: object, cb: () => void) { cb(); } }
  const fake = new FakeClient();
  let seenOpts: { reconnectPeriod: number; protocolVersion: number; clean: boolean; will: { topic: string; retain: boolean } } | undefined;
  const pub = newPublisher({
    config: config('mqtt://broker.invalid:1883', { reconnectMinMs: 100, reconnectMaxMs: 1000 }),
    createClient: (_url, opts) => {
      seenOpts = opts;
      fake.options.reconnectPeriod = opts.reconnectPeriod;
      return fake as unknown as MqttClientLike;
    },
  });
  const started = pub.start();
  fake.emit('close');
  await started;
  assert.is(seenOpts!.protocolVersion, 4);
  assert.equal([seenOpts!.will.topic, seenOpts!.will.retain], ['earshot/testdev/status', true]);
  const periods: number[] = [];
  for (let i = 0; i < 6; i++) {
    fake.emit('reconnect');
    periods.push(fake.options.reconnectPeriod);
    fake.emit('close');
  }
  assert.equal(periods, [200, 400, 800, 1000, 1000, 1000]);
  fake.emit('connect');
  assert.is(fake.options.reconnectPeriod, 100);
  await pub.stop();
});

test.run();
