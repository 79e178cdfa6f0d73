// mqtt.url is parsed once, strictly (src/runtime/publish/broker-url.ts): the schema refuses a bad
// one with exit 78 naming the field and never the password; the publisher connects with the
// parsed parts (no URL reaches Node's legacy url.parse, so no DEP0170 warning quoting it); a
// password on the command line is warned about and masked in `ps`. The CLI runs from dist/
// (`npm run build` first); the broker is the real embedded one, with credentials.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmbeddedBroker } from '../../src/daemon/broker/embedded-broker.ts';
import { parseBrokerUrl } from '../../src/runtime/publish/broker-url.ts';
import { parsePublisherConfig } from '../../src/runtime/publish/config.ts';
import { MqttPublisher } from '../../src/runtime/publish/publisher.ts';
import { deferAfterEach, waitUntil } from '../helpers/harness.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const defer = deferAfterEach(test);
const tmp = mkdtempSync(join(tmpdir(), 'earshot-broker-url-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');
const SECRET = 'Sec9xyzzy';

test('parseBrokerUrl: valid forms, with defaults and percent-decoded credentials', () => {
  const ok = (u: string) => {
    const r = parseBrokerUrl(u);
    if (!r.ok) throw new Error(`${u}: ${r.problem}`);
    return r.endpoint;
  };
  assert.equal(ok('mqtt://127.0.0.1:1883'), { protocol: 'mqtt', host: '127.0.0.1', port: 1883 });
  assert.equal(ok('mqtts://broker.local'), { protocol: 'mqtts', host: 'broker.local', port: 8883 });
  assert.equal(ok('MQTT://h/'), { protocol: 'mqtt', host: 'h', port: 1883 });
  assert.equal(ok('ws://h:9001'), { protocol: 'ws', host: 'h', port: 9001, path: '/mqtt' });
  assert.equal(ok('wss://h/ws?x=1'), { protocol: 'wss', host: 'h', port: 443, path: '/ws?x=1' });
  assert.equal(ok('mqtt://[::1]:1884'), { protocol: 'mqtt', host: '::1', port: 1884 });
  assert.equal(ok('mqtt://user:Pw%2FSec9%40%23@127.0.0.1:1'), { protocol: 'mqtt', host: '127.0.0.1', port: 1, username: 'user', password: 'Pw/Sec9@#' });
  assert.equal(ok('mqtt://u:p@ss@h:2'), { protocol: 'mqtt', host: 'h', port: 2, username: 'u', password: 'p@ss' });
});

const BAD: [string, RegExp][] = [
  [`mqtt://u:${SECRET}@127.0.0.1:99999`, /port 99999 is out of range/],
  ['mqtt://[::1', /no closing \]/],
  [`mqtt://u:${SECRET}@`, /has no host/],
  [`mqtt://u:${SECRET}@127.0.0.1:1883 trailing text`, /space or control character/],
  [`mqtt://127.0.0.1:1883/extra`, /no path/],
  [`mqtt://user:Pw/${SECRET}@127.0.0.1:1883`, /percent-encode/],
  [`mqtt://user:Pw?${SECRET}@127.0.0.1:1883`, /percent-encode/],
  [`mqtt://user:Pw#${SECRET}@127.0.0.1:1883`, /percent-encode/],
  ['http://127.0.0.1', /not one of mqtt, mqtts, ws, wss/],
  ['127.0.0.1:1883', /must look like/],
  ['mqtt://::1:1883', /in brackets/],
  ['mqtt://h:0', /out of range/],
  ['mqtt://h:', /must be a number/],
  ['mqtt://ho_st', /not a host name/],
  [`mqtt://u:${SECRET}%zz@h`, /not percent-encoding/],
];

test('parseBrokerUrl: each bad URL names its problem, never the password', () => {
  for (const [url, why] of BAD) {
    const r = parseBrokerUrl(url);
    assert.not.ok(r.ok, url);
    if (r.ok) continue;
    assert.match(r.problem, why, url);
    assert.not.match(r.problem, SECRET, url);
  }
});

test('the schema: a bad mqtt.url is E_CONFIG naming mqtt.url', () => {
  assert.throws(() => parsePublisherConfig({ url: 'mqtt://[::1', deviceId: 'x' }), /mqtt\.url: the IPv6 address has no closing \]/);
});

test('earshot run: every malformed broker URL exits 78 (before any connection attempt), names mqtt.url, no password, no DEP0170', () => {
  for (const [url] of BAD.slice(0, 8)) {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['bin/earshot.js', 'run', '--broker', url, '--model', MODEL, '--state-dir', join(tmp, 'bad'), '--source', 'file:/nonexistent.wav', '--http-port', '0'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    const ms = Date.now() - t0;
    assert.is(r.status, 78, `${url}: exit ${r.status}\n${r.stderr}`);
    // the time is reported, not asserted: a loaded machine may take longer (the target, 2 s, was met at 0.96-1.8 s)
    if (process.env.EARSHOT_TEST_TIMES) console.log(`${url}: exit 78 in ${ms} ms`);
    assert.match(r.stderr, /mqtt\.url: .*\(from --broker\)/, r.stderr);
    assert.not.match(r.stderr + r.stdout, SECRET, r.stderr);
    assert.not.match(r.stderr, /DEP0170|internal error/, r.stderr);
  }
});

test('the publisher connects with the parsed parts: a percent-encoded / in the password logs in (was: host "user", ENOTFOUND forever)', async () => {
  const credentials = { username: 'user', password: `Pw/${SECRET}` };
  const broker = defer(await startEmbeddedBroker({ port: 0, wsPort: 0, credentials }), (b) => b.close());
  for (const url of [`mqtt://user:Pw%2F${SECRET}@127.0.0.1:${broker.port}`, `ws://user:Pw%2F${SECRET}@127.0.0.1:${broker.wsPort}`]) {
    const config = parsePublisherConfig({ url, deviceId: 'urlok', stateDir: join(tmp, String(Math.random())), reconnectMinMs: 50, reconnectMaxMs: 100 });
    const pub = defer(new MqttPublisher({ config }), (p) => p.stop());
    await pub.start();
    assert.ok(pub.connected, url);
    await pub.stop();
  }
  // the user name in the URL, the password as its own setting (EARSHOT_MQTT_PASSWORD)
  const config = parsePublisherConfig({ url: `mqtt://user@127.0.0.1:${broker.port}`, password: `Pw/${SECRET}`, deviceId: 'urlok', stateDir: join(tmp, String(Math.random())) });
  const pub = defer(new MqttPublisher({ config }), (p) => p.stop());
  await pub.start();
  assert.ok(pub.connected, 'user from the URL, password from mqtt.password');
});

test('earshot run --broker with a password: warned once, and `ps` (/proc/PID/cmdline) shows it masked', async () => {
  const port = await freePort(); // nothing listens: the daemon keeps retrying, which is fine here
  const child = spawn(process.execPath, ['bin/earshot.js', 'run', '--broker', `mqtt://user:${SECRET}@127.0.0.1:${port}`, '--model', MODEL, '--device-id', 'psmask', '--state-dir', join(tmp, 'ps'),
    '--source', `file:${join(ROOT, 'assets/demo-angry.flac')}`, '--set', 'capture.loop=true', '--http-port', '0', '--log-format', 'json'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  defer(child, (c) => c.kill('SIGKILL'));
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await waitUntil('the start-up log', () => err.includes('starting'), 60_000, () => err);
  const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  assert.not.match(cmdline, SECRET);
  assert.match(cmdline, `mqtt://user:***@127.0.0.1:${port}`);
  assert.is(err.split('\n').filter((l) => l.includes('a secret was given on the command line')).length, 1);
  assert.not.match(err, SECRET);
});

test.run();
