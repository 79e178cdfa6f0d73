// The embedded broker with its guard (src/daemon/broker/broker-guard.ts), a real publisher and
// real MQTT clients: other local clients may subscribe but not publish under the daemon's topics
// or its Home Assistant discovery, cannot take its client id, and a non-loopback bind needs
// credentials. (Through the daemon: the last test runs `earshot run` with the embedded broker.)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type MqttClient } from 'mqtt';
import { isEarshotError } from '../../src/core/errors.ts';
import { guardForPublisher } from '../../src/daemon/broker/broker-guard.ts';
import { parsePublisherConfig } from '../../src/runtime/publish/config.ts';
import { startEmbeddedBroker } from '../../src/daemon/broker/embedded-broker.ts';
import { MqttPublisher } from '../../src/runtime/publish/publisher.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const cleanups: (() => unknown)[] = [];
const defer = <T>(thing: T, undo: (t: T) => unknown): T => (cleanups.push(() => undo(thing)), thing);
test.after.each(async () => {
  while (cleanups.length) await Promise.resolve().then(cleanups.pop()!).catch(() => {});
});
const tmp = mkdtempSync(join(tmpdir(), 'earshot-guard-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitUntil(what: string, done: () => boolean, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
function client(url: string, opts: { clientId?: string; username?: string; password?: string } = {}): Promise<MqttClient> {
  const c = defer(connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 2000, ...opts }), (x) => x.endAsync(true));
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

async function setup(extra: { host?: string; credentials?: { username: string; password: string }; onListeningCommand?: (on: boolean) => void } = {}) {
  const config = parsePublisherConfig({ url: 'mqtt://127.0.0.1:1', deviceId: 'guarded', clientId: 'earshot-guarded', stateDir: join(tmp, String(Math.random())), reconnectMinMs: 50, reconnectMaxMs: 100 });
  const guard = guardForPublisher(config, extra.credentials);
  const broker = defer(await startEmbeddedBroker({ port: 0, host: extra.host, guard, credentials: extra.credentials }), (b) => b.close());
  const url = `mqtt://127.0.0.1:${broker.port}`;
  let disconnects = 0;
  const pub = defer(new MqttPublisher({ config: { ...config, url, ...guard.daemon }, ...(extra.onListeningCommand ? { onListeningCommand: extra.onListeningCommand } : {}), log: { debug() {}, info() {}, error() {}, warn: (_o, m) => void (m?.startsWith('lost the MQTT connection') && disconnects++) } }), (p) => p.stop());
  await pub.start();
  assert.ok(pub.connected, 'the daemon logs in with its per-run secret');
  return { url, pub, guard, disconnects: () => disconnects };
}

test('other local clients can subscribe, but fake events, emotion, status and discovery never reach anyone', async () => {
  const { url, pub } = await setup();
  const seen: { topic: string; payload: string }[] = [];
  const sub = await client(url);
  sub.on('message', (topic, p) => seen.push({ topic, payload: p.toString() }));
  await sub.subscribeAsync(['earshot/guarded/#', 'homeassistant/#'], { qos: 1 });
  const evil = await client(url, { clientId: 'evil' });
  const fakes = ['earshot/guarded/events', 'earshot/guarded/emotion', 'earshot/guarded/status', 'homeassistant/sensor/guarded_emotion/config', 'homeassistant/sensor/other/config'];
  for (const topic of fakes) evil.publish(topic, 'FAKE', { qos: 0, retain: true });
  await sleep(300);
  pub.publishEmotion({ label: 'happy', confidence: 0.9, probabilities: { happy: 0.9, sad: 0.1 }, arousal: 0.5, valence: 0.5, timestamp: new Date().toISOString(), model: 'm' });
  await waitUntil('the real emotion', () => seen.some((m) => m.topic === 'earshot/guarded/emotion' && m.payload.includes('happy')));
  assert.equal(seen.filter((m) => m.payload === 'FAKE'), [], 'no fake message was delivered');
  const late = await client(url);
  const retained: string[] = [];
  late.on('message', (_t, p) => retained.push(p.toString()));
  await late.subscribeAsync(['earshot/guarded/#', 'homeassistant/#'], { qos: 1 });
  await sleep(200);
  assert.not.ok(retained.includes('FAKE'), 'no fake retained message either');
  assert.ok(retained.some((p) => p === 'online'), 'the real retained status is there');
});

test('Home Assistant may announce itself (homeassistant/status) and anyone may publish elsewhere', async () => {
  const { url } = await setup();
  const sub = await client(url);
  const seen: string[] = [];
  sub.on('message', (topic) => seen.push(topic));
  await sub.subscribeAsync(['homeassistant/#', 'elsewhere/#'], { qos: 1 });
  const ha = await client(url, { clientId: 'home-assistant' });
  const before = seen.filter((t) => t.endsWith('/config')).length;
  await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
  await ha.publishAsync('elsewhere/x', 'hi', { qos: 1 });
  await waitUntil('discovery republished', () => seen.filter((t) => t.endsWith('/config')).length > before);
  assert.ok(seen.includes('elsewhere/x'));
});

test("Home Assistant's listening switch (another client) reaches the daemon through <base>/listening/set", async () => {
  const commands: boolean[] = [];
  const { url } = await setup({ onListeningCommand: (on) => void commands.push(on) });
  const ha = await client(url, { clientId: 'home-assistant' });
  await ha.publishAsync('earshot/guarded/listening/set', 'OFF', { qos: 1 });
  await waitUntil('the command', () => commands.length === 1);
  assert.equal(commands, [false]);
});

test("a client id clash cannot knock the daemon off; a wrong daemon password is refused", async () => {
  const { url, pub, disconnects } = await setup();
  for (let i = 0; i < 3; i++) {
    await client(url, { clientId: 'earshot-guarded' }).then(
      () => assert.unreachable('the daemon client id was accepted'),
      (e: Error & { code?: number }) => assert.is(e.code, 2, String(e)),
    );
  }
  await client(url, { username: 'earshot-daemon', password: 'guess' }).then(
    () => assert.unreachable('a guessed daemon password was accepted'),
    (e: Error & { code?: number }) => assert.is(e.code, 4, String(e)),
  );
  await sleep(300);
  assert.ok(pub.connected);
  assert.is(disconnects(), 0, 'the daemon was disconnected');
});

test('binding beyond loopback requires credentials; with them, anonymous clients are refused', async () => {
  try {
    await startEmbeddedBroker({ port: 0, host: '0.0.0.0' });
    assert.unreachable('0.0.0.0 without credentials');
  } catch (e) {
    assert.ok(isEarshotError(e) && e.code === 'E_CONFIG', String(e));
    assert.match((e as Error).message, 'embeddedBroker.username');
  }
  const credentials = { username: 'kiosk', password: 'long-enough-secret' };
  const { url } = await setup({ host: '0.0.0.0', credentials });
  await client(url).then(() => assert.unreachable('anonymous accepted'), (e: Error & { code?: number }) => assert.is(e.code, 4));
  await client(url, credentials);
});

test('earshot run with the embedded broker: the daemon publishes, a local client cannot', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/earshot.js', 'run', '--model', join(ROOT, 'test/fixtures/models/tiny-lstm.json'), '--device-id', 'guardrun', '--state-dir', join(tmp, 'run'),
    '--source', `file:${join(ROOT, 'assets/demo-angry.flac')}`, '--set', 'capture.loop=true', '--set', `embeddedBroker.port=${port}`, '--http-port', '0'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  defer(child, (c) => c.kill('SIGKILL'));
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  await waitUntil('the broker', () => log.includes('embedded MQTT broker'), 30000);
  const url = `mqtt://127.0.0.1:${port}`;
  const sub = await client(url);
  const seen: string[] = [];
  sub.on('message', (t, p) => seen.push(`${t} ${p}`));
  await sub.subscribeAsync('earshot/guardrun/status', { qos: 1 });
  await waitUntil('online', () => seen.includes('earshot/guardrun/status online'), 30000);
  const evil = await client(url);
  await evil.publishAsync('earshot/guardrun/status', 'offline', { qos: 0, retain: true });
  await sleep(300);
  assert.not.ok(seen.includes('earshot/guardrun/status offline'), 'a local client overwrote the status');
});

test.run();
