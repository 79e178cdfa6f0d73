// earshot in the user's house, end to end: `earshot run` as a child process (bin/earshot.js), a
// real Mosquitto on a free loopback port, the bundled clip, the committed tiny model.
//   - no broker configured: the daemon publishes to the broker answering on the local port
//     (embeddedBroker.port: 1883 by default, here the test broker's port) instead of embedding one
//   - two installations with one device id: the first answers the second's liveness ping, the second refuses (exit 69, says --device-id), the
//     first is neither kicked nor shown offline
//   - a daemon whose session the broker still holds (frozen, then SIGKILLed) is replaced at once by
//     its restart, which recognises its own installation and takes over; status ends online
//   - the emotion state is refreshed per utterance and turns idle after silence; every utterance
//     is one `events` message, which the event entity's template turns into an event_type
//   - the listening switch (MQTT and HTTP) stops and resumes processing and survives a restart
//   - Home Assistant configs of labels the model no longer has are removed (empty retained)
//   - raw audio is never stored or sent: the state directory and the network, watched
// Waits are for positive conditions; the two negative checks (nothing processed while OFF) watch a
// span of replayed audio long enough to hold several utterances, with counters that would move.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emotionStateSchema, haDeviceDiscoveryConfigSchema, haEventComponentSchema, instanceInfoSchema, type EmotionEvent, type EmotionState } from '../../src/runtime/publish/payloads.ts';
import { makeAlsaFixture } from '../helpers/alsa.ts';
import { killDaemon, spawnDaemon, subscribe as subscribeMqtt, type Daemon, type Subscriber } from '../helpers/daemon.ts';
import { deferAfterEach, sleep, waitUntil } from '../helpers/harness.ts';
import { freePort, startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');
const DEMO = join(ROOT, 'assets/demo-angry.flac');
const tmp = mkdtempSync(join(tmpdir(), 'earshot-home-e2e-'));

const defer = deferAfterEach(test);
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** `earshot run` with the tiny model and events on stdout; the caller names the device and state directory. */
function runDaemon(deviceId: string, stateDir: string, args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
  const d = spawnDaemon(['--model', MODEL, '--device-id', deviceId, '--state-dir', stateDir, ...args], env);
  defer(d.child, killDaemon);
  return d;
}

async function subscribe(url: string, topics: string[]): Promise<Subscriber> {
  return defer(await subscribeMqtt(url, topics), (s) => s.client.endAsync(true));
}

const mosquitto = async (): Promise<Mosquitto> => defer(await startMosquitto(), (b) => b.stop());
/** Every result published, utterances cut at 0.5 s: a few events per second of the clip. */
const BUSY = ['--set', 'mqtt.reconnectMinMs=100', '--set', 'pipeline.maxUtteranceSeconds=0.5', '--set', 'pipeline.smoothing.minConfidence=0',
  '--set', 'pipeline.smoothing.minDwellMs=0', '--set', 'pipeline.smoothing.margin=0'];
const LOOPED = ['--source', `file:${DEMO}`, '--set', 'capture.loop=true'];
/** POST /listening takes this type only (src/daemon/http.ts); the plain ON/OFF body still works under it */
const JSON_TYPE = { 'content-type': 'application/json' };
const online = (sub: Subscriber, base: string) => sub.on(`${base}/status`).at(-1)?.payload === 'online';

test('no broker configured: the one answering on the local port is used, no embedded broker is started', async () => {
  const broker = await mosquitto();
  const sub = await subscribe(broker.url, ['earshot/local1/#']);
  // embeddedBroker.port is where the daemon looks (1883 unless set): here the test broker's port
  const d = runDaemon('local1', join(tmp, 'local1'), ['--http-port', '0', '--set', `embeddedBroker.port=${broker.port}`, ...LOOPED, ...BUSY]);
  await waitUntil('an event through the local broker', () => sub.on('earshot/local1/events').length > 0, 30000, () => d.stderr().slice(-3000));
  const said = d.logs().filter((l) => /MQTT broker answers on 127\.0\.0\.1:/.test(l.msg));
  assert.is(said.length, 1, 'said once, in plain words');
  assert.is(said[0].url, broker.url);
  assert.not.ok(d.logs().some((l) => /embedded MQTT broker/.test(l.msg)), 'no embedded broker');
  assert.match(broker.log(), /New client connected .* as earshot-local1-[0-9a-f]{8}/, 'the client id carries the installation');
  d.child.kill('SIGTERM');
  assert.is((await d.exit).code, 0);
});

test('two installations with one device id: the first answers the liveness ping, the second refuses with exit 69 and says how to set --device-id; the first keeps its session', async () => {
  const broker = await mosquitto();
  const base = 'earshot/twin';
  const sub = await subscribe(broker.url, [`${base}/status`, `${base}/instance`]);
  const first = runDaemon('twin', join(tmp, 'twin-a'), ['--broker', broker.url, '--http-port', '0', ...LOOPED, ...BUSY]);
  await waitUntil('the first online', () => online(sub, base) && sub.on(`${base}/instance`).length > 0, 30000, () => first.stderr().slice(-2000));
  const firstInstance = instanceInfoSchema.parse(JSON.parse(sub.on(`${base}/instance`)[0].payload));
  const second = runDaemon('twin', join(tmp, 'twin-b'), ['--broker', broker.url, '--http-port', '0', ...LOOPED, ...BUSY]);
  const { code } = await second.exit;
  assert.is(code, 69, second.stderr().slice(-2000));
  assert.match(second.stderr(), /earshot: device id "twin" is in use by another earshot installation that answered just now .*--device-id NAME/);
  assert.is(second.events.length, 0, 'the second processed nothing');
  await sleep(300); // a stray will of the second would arrive now
  assert.equal(sub.on(`${base}/status`).map((m) => m.payload), ['online'], 'no offline from the refused one (clean DISCONNECT, no will)');
  assert.equal(sub.on(`${base}/instance`).map((m) => JSON.parse(m.payload).installationId), [firstInstance.installationId]);
  assert.not.ok(first.logs().some((l) => /lost the MQTT connection/.test(l.msg)), 'the first was never kicked off');
  const before = first.events.length;
  await waitUntil('the first goes on', () => first.events.length > before + 1, 10000);
  first.child.kill('SIGTERM');
  assert.is((await first.exit).code, 0);
});

test('two daemons on one state directory (one installation): the later one is refused by the state directory lock with exit 75', async () => {
  const broker = await mosquitto();
  const base = 'earshot/twice';
  const state = join(tmp, 'twice');
  const sub = await subscribe(broker.url, [`${base}/status`]);
  const args = ['--broker', broker.url, '--http-port', '0', ...LOOPED, ...BUSY];
  const first = runDaemon('twice', state, args);
  await waitUntil('the first online', () => online(sub, base) && first.events.length > 0, 30000, () => first.stderr().slice(-2000));
  const second = runDaemon('twice', state, args);
  const { code } = await Promise.race([second.exit, sleep(60000).then(() => ({ code: 'still running after 60 s' }))]);
  assert.is(code, 75, second.stderr().slice(-2000));
  assert.match(second.stderr(), `the state directory ${state} is in use by another earshot daemon: process ${first.child.pid}`);
  const before = first.events.length;
  await waitUntil('the first goes on', () => first.events.length > before + 1, 15000, () => first.stderr().slice(-2000));
  await waitUntil('online', () => online(sub, base), 5000);
  first.child.kill('SIGTERM');
  assert.is((await first.exit).code, 0, first.stderr().slice(-2000));
});

test('a crashed run the broker still shows online: its restart starts at once, recognises it, and status ends online', async () => {
  const broker = await mosquitto();
  const base = 'earshot/phoenix';
  const state = join(tmp, 'phoenix');
  const sub = await subscribe(broker.url, [`${base}/status`, `${base}/instance`]);
  // a long keep-alive: waiting for the broker to expire a frozen session would take 90 s
  const args = ['--broker', broker.url, '--http-port', '0', '--set', 'mqtt.keepaliveSec=60', ...LOOPED, ...BUSY];
  const frozen = async (d: Daemon) => {
    await waitUntil('online', () => online(sub, base) && d.events.length > 0, 30000, () => d.stderr().slice(-2000));
    // frozen: its TCP session stays open, so the broker still shows it online (a hung process, a power cut before the keep-alive ran out)
    d.child.kill('SIGSTOP');
  };
  // the frozen run still holds its state directory's lock (a live process); the restart runs on a
  // copy with the same installation id, as a box whose old run is gone but whose session the broker keeps
  let copies = 0;
  const restart = async (extra: string[]) => {
    const seen = sub.on(`${base}/instance`).length;
    const t0 = Date.now();
    const copy = `${state}-${++copies}`;
    mkdirSync(copy);
    copyFileSync(join(state, 'installation-id'), join(copy, 'installation-id'));
    const d = runDaemon('phoenix', copy, [...args, ...extra]);
    await waitUntil('the restart publishing events', () => d.events.length > 0 && sub.on(`${base}/instance`).length > seen, 30000, () => d.stderr().slice(-2000));
    return { d, ms: Date.now() - t0 };
  };

  // 1. the usual restart (systemd): the same client id, so the broker drops the stale session at once
  const first = runDaemon('phoenix', state, args);
  await frozen(first);
  const second = await restart([]);
  first.child.kill('SIGKILL');
  await first.exit;
  assert.ok(second.ms < 20000, `publishing ${second.ms} ms after the restart, not after the keep-alive`);
  await waitUntil('online', () => online(sub, base), 3000);

  // 2. a stale session under another client id (mqtt.clientId changed): recognised by the installation id
  await frozen(second.d);
  const third = await restart(['--set', 'mqtt.clientId=phoenix-renamed']);
  assert.ok(third.d.logs().some((l) => /still shown online by this installation's previous run .* taking over/.test(l.msg)), third.d.stderr().slice(-2000));
  assert.ok(third.ms < 20000, `${third.ms} ms`);
  // the frozen run dies; the broker publishes its will `offline`, which the running one answers
  second.d.child.kill('SIGKILL');
  await second.d.exit;
  await waitUntil('the stale will', () => sub.on(`${base}/status`).at(-1)?.payload === 'offline' || third.d.logs().some((l) => /stale last will/.test(l.msg)), 5000);
  await waitUntil('online again', () => online(sub, base), 3000, () => JSON.stringify(sub.on(`${base}/status`).slice(-3)));
  const ids = new Set(sub.on(`${base}/instance`).map((m) => instanceInfoSchema.parse(JSON.parse(m.payload)).installationId));
  assert.is(ids.size, 1, 'one installation throughout');
  const late = await subscribe(broker.url, [`${base}/status`]);
  await waitUntil('retained status', () => late.messages.length > 0, 3000);
  assert.is(late.messages[0].payload, 'online');
  console.log(`  takeover: publishing ${second.ms} ms after a restart (stale session dropped by client id), ${third.ms} ms (recognised by installation id); keep-alive 60 s`);
  third.d.child.kill('SIGTERM');
  assert.is((await third.d.exit).code, 0, third.d.stderr().slice(-2000));
});

test('emotion refreshed on every utterance, idle after silence; one event (entity trigger) per utterance', async () => {
  const broker = await mosquitto();
  const base = 'earshot/idle1';
  // the clip, then 4 s of silence: idleAfterSec=1.5 must fire in the silence
  const file = join(tmp, 'clip-then-silence.wav');
  const sox = spawnSync('sox', [DEMO, '-r', '16000', '-c', '1', file, 'pad', '0', '4'], { encoding: 'utf8' });
  assert.is(sox.status, 0, sox.stderr);
  const sub = await subscribe(broker.url, [`${base}/#`, 'homeassistant/device/earshot_idle1/config']);
  const d = runDaemon('idle1', join(tmp, 'idle1'), ['--broker', broker.url, '--http-port', '0', '--source', `file:${file}`, '--set', 'mqtt.idleAfterSec=1.5', ...BUSY]);
  assert.is((await d.exit).code, 0, d.stderr().slice(-3000));
  const events = sub.on(`${base}/events`).map((m) => JSON.parse(m.payload) as EmotionEvent);
  assert.ok(events.length >= 2, `${events.length} utterances`);
  assert.equal(events.map((e) => e.id), d.events.map((e) => e.id), 'every utterance is one events message');
  const states = sub.on(`${base}/emotion`).map((m) => emotionStateSchema.parse(JSON.parse(m.payload)) as EmotionState);
  const speaking = states.filter((s) => s.label !== 'idle');
  assert.is(speaking.length, events.length, 'the state is refreshed on every classified utterance, not only when the label changes');
  assert.ok(new Set(speaking.map((s) => s.timestamp)).size === speaking.length, 'each with its own time');
  const idle = states.at(-1)!;
  assert.is(idle.label, 'idle', JSON.stringify(states.slice(-2)));
  assert.equal([idle.confidence, idle.probabilities], [0, {}]);
  const lastSpeech = sub.on(`${base}/emotion`).filter((m) => !m.payload.includes('"idle"')).at(-1)!.at;
  const idleAt = sub.on(`${base}/emotion`).at(-1)!.at;
  assert.ok(idleAt - lastSpeech >= 1400 && idleAt - lastSpeech < 4000, `idle ${idleAt - lastSpeech} ms after the last utterance`);
  // Home Assistant's event entity: the template turns each events payload into {"event_type": label, ...}
  const cfg = haEventComponentSchema.parse(haDeviceDiscoveryConfigSchema.parse(JSON.parse(sub.on('homeassistant/device/earshot_idle1/config')[0].payload)).cmps.utterance);
  assert.is(cfg.state_topic, `${base}/events`);
  for (const e of events) {
    const rendered = cfg.value_template.replace(/\{\{ value_json\.(\w+) \}\}/g, (_, k: string) => String((e as unknown as Record<string, unknown>)[k]));
    const fired = JSON.parse(rendered) as { event_type: string; id: string };
    assert.ok(cfg.event_types.includes(fired.event_type), `${fired.event_type} is one of the event_types`);
    assert.is(fired.id, e.id);
  }
});

test('listening switch: OFF over MQTT stops processing (nothing counted), ON over HTTP resumes, OFF survives a restart', async () => {
  const broker = await mosquitto();
  const base = 'earshot/quiet';
  const state = join(tmp, 'quiet');
  const httpPort = await freePort();
  const url = `http://127.0.0.1:${httpPort}`;
  const args = ['--broker', broker.url, '--http-port', String(httpPort), ...LOOPED, ...BUSY, '--set', 'metrics.intervalSec=0.5'];
  const sub = await subscribe(broker.url, [`${base}/#`]);
  const d = runDaemon('quiet', state, args);
  await waitUntil('events', () => d.events.length >= 2, 30000, () => d.stderr().slice(-2000));
  await waitUntil('retained listening ON', () => sub.on(`${base}/listening`).at(-1)?.payload === 'ON', 5000);
  const frames = async () => Number(/^earshot_frames_total (\S+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);

  await sub.client.publishAsync(`${base}/listening/set`, 'OFF', { qos: 1 });
  await waitUntil('listening OFF', () => sub.on(`${base}/listening`).at(-1)?.payload === 'OFF', 5000, () => d.stderr().slice(-2000));
  await sleep(300); // an inference already running when OFF arrived may still report
  const atOff = { events: d.events.length, mqtt: sub.on(`${base}/events`).length, frames: await frames(), emotion: sub.on(`${base}/emotion`).length };
  assert.is(JSON.parse(sub.on(`${base}/emotion`).at(-1)!.payload).label, 'idle', 'switching off clears the state');
  // the fence: four more metrics messages (2 s of the daemon's own clock, ~4 utterances of the
  // looping clip if anything were processed), not a fixed sleep of the test's
  const metricsAtOff = sub.on(`${base}/metrics`).length;
  await waitUntil('four metrics while OFF', () => sub.on(`${base}/metrics`).length >= metricsAtOff + 4, 10000);
  assert.is(d.events.length, atOff.events, 'no event while OFF');
  assert.is(sub.on(`${base}/events`).length, atOff.mqtt);
  assert.is(await frames(), atOff.frames, 'no frame reached the frontend');
  assert.is(sub.on(`${base}/emotion`).length, atOff.emotion, 'no state');
  const metrics = sub.on(`${base}/metrics`).at(-1)!;
  assert.ok(Date.now() - metrics.at < 2000, 'metrics still flow (the daemon is alive)');
  const health = await fetch(`${url}/healthz`);
  assert.is(health.status, 200, 'switched off is healthy, not a dead microphone');
  assert.is(((await (await fetch(`${url}/listening`)).json()) as { listening: string; by: string }).by, 'MQTT');

  const on = await fetch(`${url}/listening`, { method: 'POST', headers: JSON_TYPE, body: 'ON' });
  assert.is(on.status, 200);
  assert.is(((await on.json()) as { listening: string }).listening, 'ON');
  await waitUntil('events again', () => d.events.length > atOff.events + 1, 15000, () => d.stderr().slice(-2000));
  assert.ok((await frames()) > atOff.frames);
  assert.is(sub.on(`${base}/listening`).at(-1)?.payload, 'ON');
  assert.is((await fetch(`${url}/listening`, { method: 'POST', headers: JSON_TYPE, body: 'perhaps' })).status, 400);

  assert.is((await fetch(`${url}/listening`, { method: 'POST', headers: JSON_TYPE, body: 'OFF' })).status, 200);
  d.child.kill('SIGTERM');
  assert.is((await d.exit).code, 0, d.stderr().slice(-2000));
  const again = runDaemon('quiet', state, args);
  await waitUntil('says it is off', () => again.logs().some((l) => /listening is OFF/.test(l.msg)), 20000, () => again.stderr().slice(-2000));
  const fresh = await subscribe(broker.url, [`${base}/listening`, `${base}/metrics`]);
  await waitUntil('retained OFF', () => fresh.messages.some((m) => m.topic === `${base}/listening` && m.payload === 'OFF'), 5000);
  // the fence: four metrics messages of the restarted daemon while it stays off
  await waitUntil('four metrics after the restart', () => fresh.messages.filter((m) => m.topic === `${base}/metrics`).length >= 4, 10000);
  assert.is(again.events.length, 0, 'still off after the restart: nothing processed');
  again.child.kill('SIGTERM');
  assert.is((await again.exit).code, 0);
});

/** Child processes of `pid` named `name` (from /proc). */
function childrenNamed(pid: number, name: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && comm === name) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test('listening OFF closes the microphone: no arecord runs while off, one starts when switched on over HTTP and goes when switched off', async () => {
  const alsa = makeAlsaFixture();
  defer(alsa, (a) => a.cleanup());
  const broker = await mosquitto();
  const httpPort = await freePort();
  const url = `http://127.0.0.1:${httpPort}`;
  const d = runDaemon('mic', join(tmp, 'mic'), ['--broker', broker.url, '--http-port', String(httpPort), '--source', 'arecord:wavcap', '--set', 'privacy.listeningAtStart=off'], { ALSA_CONFIG_PATH: alsa.alsaConfigPath });
  await waitUntil('started, off', () => d.logs().some((l) => /listening is OFF/.test(l.msg)), 20000, () => d.stderr().slice(-2000));
  await waitUntil('HTTP up', () => d.logs().some((l) => /health and metrics on/.test(l.msg)), 5000);
  assert.equal(childrenNamed(d.child.pid!, 'arecord'), [], 'the device is not opened while off');
  assert.is((await fetch(`${url}/healthz`)).status, 200, 'off is healthy');
  assert.is((await fetch(`${url}/listening`, { method: 'POST', headers: JSON_TYPE, body: 'ON' })).status, 200);
  await waitUntil('arecord running', () => childrenNamed(d.child.pid!, 'arecord').length === 1, 10000, () => d.stderr().slice(-2000));
  assert.is((await fetch(`${url}/listening`, { method: 'POST', headers: JSON_TYPE, body: 'OFF' })).status, 200);
  await waitUntil('arecord stopped', () => childrenNamed(d.child.pid!, 'arecord').length === 0, 10000, () => d.stderr().slice(-2000));
  d.child.kill('SIGTERM');
  assert.is((await d.exit).code, 0, d.stderr().slice(-2000));
});

test('discovery: entities of labels the model no longer has are removed (listed with their platform alone, once)', async () => {
  const broker = await mosquitto();
  const device = 'homeassistant/device/earshot_relabel/config';
  const state = join(tmp, 'relabel');
  // discovery depends on the model's metadata only: a second of silence is input enough (and
  // keeps the 8-output network below from ever running with the 4-label metadata)
  const silence = join(tmp, 'silence.wav');
  assert.is(spawnSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', silence, 'trim', '0', '1']).status, 0);
  const args = ['--broker', broker.url, '--http-port', '0', '--source', `file:${silence}`, '--set', 'capture.realtime=false'];
  const first = runDaemon('relabel', state, args);
  assert.is((await first.exit).code, 0, first.stderr().slice(-2000));
  const retained = async () => {
    const s = await subscribe(broker.url, ['homeassistant/#']);
    await sleep(300);
    const configs = s.messages.filter((m) => m.retain);
    assert.equal(configs.map((m) => m.topic), [device], 'one retained config: the device');
    return haDeviceDiscoveryConfigSchema.parse(JSON.parse(configs[0].payload)).cmps as Record<string, Record<string, unknown>>;
  };
  const before = await retained();
  assert.ok(before.probability_calm && before.probability_surprised, Object.keys(before).join());
  // a four-class model replaces the eight-class one
  const meta = JSON.parse(readFileSync(MODEL, 'utf8'));
  meta.name = 'tiny-four';
  meta.labels = ['neutral', 'happy', 'sad', 'angry'];
  copyFileSync(join(ROOT, 'test/fixtures/models/tiny-lstm.onnx'), join(tmp, meta.onnx.file));
  writeFileSync(join(tmp, 'tiny-four.json'), JSON.stringify(meta));
  const second = runDaemon('relabel', state, [...args, '--model', join(tmp, 'tiny-four.json')]);
  assert.is((await second.exit).code, 0, second.stderr().slice(-2000));
  const gone = ['calm', 'fearful', 'disgust', 'surprised'].map((l) => `probability_${l}`);
  const after = await retained();
  for (const g of gone) assert.equal(after[g], { p: 'sensor' }, `${g} is listed with its platform alone (Home Assistant removes it)`);
  for (const l of meta.labels) assert.is(after[`probability_${l}`].p, 'sensor');
  assert.equal(after.emotion.options, [...meta.labels, 'idle']);
  assert.equal(after.utterance.event_types, meta.labels);
  assert.ok(second.logs().some((l) => /removing 4 Home Assistant entities/.test(l.msg)));
  const third = runDaemon('relabel', state, [...args, '--model', join(tmp, 'tiny-four.json')]);
  assert.is((await third.exit).code, 0, third.stderr().slice(-2000));
  const later = await retained();
  for (const g of gone) assert.not.ok(g in later, `${g} is left out once removed`);
});

/** The remote endpoints (host:port) of the TCP connections a process holds, from /proc. */
function tcpPeers(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const peers: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]) || f[3] === '0A') continue; // 0A = LISTEN
      const [hex, port] = f[2].split(':');
      const ip = hex.length === 8 ? hex.match(/../g)!.reverse().map((h) => parseInt(h, 16)).join('.') : hex.endsWith('0100007F') ? '127.0.0.1' : hex;
      peers.push(`${ip}:${parseInt(port, 16)}`);
    }
  }
  return peers;
}

test('raw audio is never stored or sent: the state directory and the network, watched while the clip plays', async () => {
  const broker = await mosquitto();
  const state = join(tmp, 'private');
  const sub = await subscribe(broker.url, ['#']);
  const httpPort = await freePort();
  const d = runDaemon('private', state, ['--broker', broker.url, '--http-port', String(httpPort), ...LOOPED, ...BUSY, '--set', 'metrics.intervalSec=0.5']);
  const files = new Map<string, number>();
  const peers = new Set<string>();
  const t0 = Date.now();
  while (Date.now() - t0 < 9000) {
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else {
          try {
            files.set(relative(state, p), Math.max(files.get(relative(state, p)) ?? 0, statSync(p).size));
          } catch {
            // renamed meanwhile
          }
        }
      }
    };
    try {
      walk(state);
      for (const p of tcpPeers(d.child.pid!)) peers.add(p);
    } catch {
      // not there yet
    }
    await sleep(50);
  }
  const prom = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const audioSeconds = Number(/^earshot_audio_seconds_total (\S+)$/m.exec(prom)?.[1] ?? NaN);
  d.child.kill('SIGTERM');
  assert.is((await d.exit).code, 0, d.stderr().slice(-2000));
  assert.ok(d.events.length >= 2 && audioSeconds > 4, `${d.events.length} events, ${audioSeconds} s of audio: ${prom.slice(0, 300)}`);
  // the state directory: the installation id, the listening state and the event queue; nothing sized like audio
  for (const [f, size] of files) {
    assert.ok(/^(installation-id|listening\.json|baseline\.json|mqtt-queue\/.*|.*\.tmp)$/.test(f), `unexpected file in the state directory: ${f}`);
    assert.ok(size < 64 * 1024, `${f}: ${size} bytes`);
  }
  // the network: only the broker (and HTTP clients of this test) is ever connected
  for (const p of peers) assert.ok(p === `127.0.0.1:${broker.port}` || p.startsWith('127.0.0.1:'), `connected to ${p}`);
  assert.ok([...peers].includes(`127.0.0.1:${broker.port}`), [...peers].join());
  assert.not.ok([...peers].some((p) => !p.startsWith('127.0.0.1:')), 'nothing beyond this machine');
  // every byte published: text, no message near the size of even 0.1 s of audio (3,200 bytes
  // at 16 kHz, 16 bit), and what grows with the audio (events, state, metrics) a sliver of it
  const pcmBytes = audioSeconds * 16000 * 2;
  const sent = sub.messages.reduce((n, m) => n + Buffer.byteLength(m.payload), 0);
  const streamed = sub.messages.filter((m) => !m.topic.startsWith('homeassistant/')).reduce((n, m) => n + Buffer.byteLength(m.payload), 0);
  assert.ok(streamed < pcmBytes / 20, `published ${streamed} bytes besides discovery for ${pcmBytes} bytes of PCM`);
  for (const m of sub.messages) {
    // the one Home Assistant device config (all entities, ~6 kB of JSON, checked against its schema) is the exception
    const device = m.topic.startsWith('homeassistant/device/');
    if (device) haDeviceDiscoveryConfigSchema.parse(JSON.parse(m.payload));
    assert.ok(Buffer.byteLength(m.payload) < (device ? 8192 : 3200), `${m.topic}: ${Buffer.byteLength(m.payload)} bytes`);
    // eslint-disable-next-line no-control-regex -- looks for control characters: a payload must carry none
    assert.ok(!/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(m.payload), `${m.topic} carries binary data`);
    if (m.payload.startsWith('{')) {
      const longest = Math.max(0, ...(JSON.stringify(JSON.parse(m.payload)).match(/\[[^\]]*\]/g) ?? []).map((a) => a.split(',').length));
      assert.ok(longest <= 16, `${m.topic}: an array of ${longest} values (samples?)`);
    }
  }
  console.log(`  privacy: ${sub.messages.length} messages, ${sent} bytes published (${streamed} besides discovery) for ${audioSeconds.toFixed(1)} s of audio (${pcmBytes} bytes as PCM); state dir files: ${[...files.keys()].map((f) => f.replace(/\/.*/, '/…')).filter((f, i, a) => a.indexOf(f) === i).join(', ')}`);
});

test.run();
