// Identity claims proven live (issue 29 item 5, src/runtime/publish/fleet-identity.ts): a retained
// `instance` + `status online` that nobody stands behind (the mosquitto_pub repro) no longer
// stops the daemon for good: it pings the claimant, hears nothing in 2 s, logs the claim with its
// host and starts publishing, within 5 s of its spawn. A live twin (another installation running
// under the same device id) answers the ping, and the newcomer leaves with exit 69 (systemd
// retries) naming the other's host, without kicking it off. Real Mosquitto, real daemons.
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { instanceInfoSchema } from '../../src/runtime/publish/payloads.ts';
import { killDaemon, spawnDaemon, subscribe, type Daemon } from '../helpers/daemon.ts';
import { deferAfterEach, sleep, waitUntil } from '../helpers/harness.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-liveness-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const defer = deferAfterEach(test);
const FAKE = '00000000-0000-4000-8000-000000000000';

function run(deviceId: string, state: string, broker: string): Daemon {
  const d = spawnDaemon(['--broker', broker, '--device-id', deviceId, '--state-dir', join(tmp, state), '--http-port', '0', '--log-format', 'json', '--model', join(ROOT, 'test/fixtures/models/tiny-lstm.json'),
    '--source', `file:${join(ROOT, 'assets/demo-angry.flac')}`, '--set', 'capture.loop=true', '--set', 'pipeline.maxUtteranceSeconds=0.5', '--set', 'pipeline.smoothing.minConfidence=0']);
  defer(d.child, killDaemon);
  return d;
}

test('a forged retained instance + status online (mosquitto_pub): the daemon starts within 5 s and publishes', async () => {
  const broker = defer(await startMosquitto(), (b) => b.stop());
  const base = 'earshot/forged';
  // what `mosquitto_pub -r -q 1` does in the issue (mosquitto-clients is not installed here): any client of the broker
  const forger = await subscribe(broker.url, ['earshot/forged-none']);
  await forger.client.publishAsync(`${base}/instance`, JSON.stringify({ installationId: FAKE, clientId: 'x', host: 'evil', version: '0.1.0', startedAt: '2026-12-07T00:00:00.000Z' }), { qos: 1, retain: true });
  await forger.client.publishAsync(`${base}/status`, 'online', { qos: 1, retain: true });
  await forger.client.endAsync();
  const sub = defer(await subscribe(broker.url, [`${base}/#`]), (s) => s.client.endAsync(true));
  const t0 = Date.now();
  const d = run('forged', 'forged', broker.url);
  const isOurs = (p: string) => instanceInfoSchema.safeParse(JSON.parse(p)).data?.installationId !== FAKE;
  await waitUntil('the daemon online under its own instance', () => sub.on(`${base}/instance`).some((m) => isOurs(m.payload)) && sub.on(`${base}/status`).at(-1)?.payload === 'online', 15000, () => d.stderr().slice(-2000));
  const ms = Date.now() - t0;
  await waitUntil('an event from the daemon', () => sub.on(`${base}/events`).length > 0, 15000, () => d.stderr().slice(-2000));
  console.log(`  online ${ms} ms after the spawn (Node start, model load, fence and the 2 s liveness wait); first event ${Date.now() - t0} ms (the clip is replayed at real time from then on)`);
  assert.ok(ms < 5000, `${ms} ms`);
  assert.ok(d.logs().some((l) => /claimed by installation 00000000 on host "evil" .* did not answer a liveness check within 2000 ms/.test(l.msg)), d.stderr().slice(-2000));
  const ours = instanceInfoSchema.parse(JSON.parse(sub.on(`${base}/instance`).at(-1)!.payload));
  assert.is.not(ours.installationId, FAKE, 'the retained claim is ours now');
  assert.is(sub.on(`${base}/status`).at(-1)?.payload, 'online');
  d.child.kill('SIGTERM');
  const exit = await d.exit;
  assert.is(exit.code, 0, `${JSON.stringify(exit)} ${d.stderr().slice(-1500)}`);
});

test('a live twin (another installation, same device id) answers: the newcomer exits 69 naming its host; the first keeps its session', async () => {
  const broker = defer(await startMosquitto(), (b) => b.stop());
  const base = 'earshot/alive';
  const sub = defer(await subscribe(broker.url, [`${base}/status`, `${base}/instance`, `${base}/instance/pong`]), (s) => s.client.endAsync(true));
  const first = run('alive', 'alive-a', broker.url);
  await waitUntil('the first online', () => sub.on(`${base}/status`).at(-1)?.payload === 'online' && sub.on(`${base}/instance`).length > 0, 30000, () => first.stderr().slice(-2000));
  const t0 = Date.now();
  const second = run('alive', 'alive-b', broker.url);
  const { code } = await Promise.race([second.exit, sleep(20000).then(() => ({ code: 'still running after 20 s' }))]);
  console.log(`  the second left after ${Date.now() - t0} ms`);
  assert.is(code, 69, second.stderr().slice(-2000));
  assert.match(second.stderr(), new RegExp(`device id "alive" is in use by another earshot installation that answered just now \\([0-9a-f]{8} on host "${hostname()}"`));
  assert.is(second.events.length, 0, 'the second published nothing');
  assert.is(sub.on(`${base}/instance/pong`).length, 1, 'one pong, from the first');
  await sleep(300);
  assert.equal(sub.on(`${base}/status`).map((m) => m.payload), ['online'], 'no offline from the refused one');
  assert.not.ok(first.logs().some((l) => /lost the MQTT connection/.test(l.msg)), 'the first was never kicked off');
  first.child.kill('SIGTERM');
  assert.is((await first.exit).code, 0);
});

test.run();
