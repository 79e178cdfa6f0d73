// `earshot run` end to end: the daemon as a child process (bin/earshot.js), a real Mosquitto on a
// free loopback port, real audio (the bundled clip and RAVDESS clips), the committed tiny model.
// Events, state, metrics and discovery arrive with the documented schema; /healthz and /metrics
// answer; SIGTERM exits 0 quickly with `offline` published; SIGKILL leaves the last will; a broker
// restart mid-stream loses no event id; a corrupt file and a missing model fail clearly; the same
// file gives the same labels through `earshot analyze` and through the daemon; `--demo` finishes
// on its own through the embedded broker, on a free port when its port is taken; a flat-lined
// microphone (a real ALSA device of digital silence) turns /healthz to 503 and is counted and
// retried, and the daemon keeps running. A model with normalisation "speaker" keeps its baseline
// in the state directory across a restart and forgets it on an MQTT reset; below
// pipeline.uncertainBelow every event is "uncertain" and the retained state never moves.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emotionEventSchema, emotionStateSchema, haDiscoveryConfigSchema, metricsSchema, type EmotionEvent } from '../../src/runtime/publish/payloads.ts';
import { makeAlsaFixture } from '../helpers/alsa.ts';
import { killDaemon, spawnDaemon, subscribe as subscribeMqtt, type Daemon as SpawnedDaemon, type Subscriber } from '../helpers/daemon.ts';
import { deferAfterEach, sleep, waitUntil } from '../helpers/harness.ts';
import { freePort, startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');
const DEMO = join(ROOT, 'assets/demo-angry.flac');
const tmp = mkdtempSync(join(tmpdir(), 'earshot-e2e-'));

const defer = deferAfterEach(test);
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

// ---------- the daemon as a child process ----------

interface Daemon extends SpawnedDaemon {
  deviceId: string;
}

let daemons = 0;
/** Runs `earshot run` with the tiny model, its own state dir and device id, events on stdout, plus `args`. */
/** `keep`: not killed when the test ends (a later test takes it over). */
function runDaemon(args: string[], opts: { env?: NodeJS.ProcessEnv; keep?: boolean } = {}): Daemon {
  const deviceId = `e2e${++daemons}`;
  const d = spawnDaemon(['--model', MODEL, '--device-id', deviceId, '--state-dir', join(tmp, `state-${deviceId}`), ...args], opts.env);
  if (!opts.keep) defer(d.child, killDaemon);
  return { ...d, deviceId };
}

/** Fast reconnects, frequent metrics, results every <= 0.5 s of speech, every state change published. */
const BUSY = ['--set', 'mqtt.reconnectMinMs=100', '--set', 'mqtt.reconnectMaxMs=400', '--set', 'metrics.intervalSec=0.5', '--set', 'pipeline.maxUtteranceSeconds=0.5',
  '--set', 'pipeline.smoothing.minConfidence=0', '--set', 'pipeline.smoothing.minDwellMs=0', '--set', 'pipeline.smoothing.margin=0'];
const LOOPED_DEMO = ['--source', `file:${DEMO}`, '--set', 'capture.loop=true'];

// ---------- an MQTT subscriber ----------

async function subscribe(url: string, topics: string[], opts: { clientId?: string; clean?: boolean; keep?: boolean } = {}): Promise<Subscriber> {
  const { keep, ...clientOpts } = opts;
  const sub = await subscribeMqtt(url, topics, clientOpts);
  if (!keep) defer(sub.client, (c) => c.endAsync(true));
  return sub;
}

const mosquitto = async (opts?: { persistence?: boolean }): Promise<Mosquitto> => defer(await startMosquitto(opts), (b) => b.stop());

// ---------- tests ----------

let shared: { broker: Mosquitto; daemon: Daemon; sub: Subscriber; httpPort: number } | null = null;

test('events, state, metrics and discovery arrive with the documented schema; /healthz and /metrics answer', async () => {
  const broker = await startMosquitto();
  const httpPort = await freePort();
  const base = 'earshot/e2e1';
  // kept running for the SIGTERM test that follows
  const sub = await subscribe(broker.url, [`${base}/#`, 'homeassistant/#'], { keep: true });
  const daemon = runDaemon(['--broker', broker.url, '--http-port', String(httpPort), ...LOOPED_DEMO, ...BUSY], { keep: true });
  assert.is(daemon.deviceId, 'e2e1');
  shared = { broker, daemon, sub, httpPort };
  const ctx = () => daemon.stderr().slice(-3000);
  await waitUntil('3 events over MQTT', () => sub.on(`${base}/events`).length >= 3, 30000, ctx);
  await waitUntil('a metrics message', () => sub.on(`${base}/metrics`).length >= 1, 5000, ctx);
  await waitUntil('an emotion state', () => sub.on(`${base}/emotion`).length >= 1, 5000, ctx);

  assert.equal(sub.on(`${base}/status`).map((m) => m.payload), ['online']);
  const events = sub.on(`${base}/events`).map((m) => emotionEventSchema.parse(JSON.parse(m.payload)));
  for (const e of events) {
    assert.is(e.deviceId, undefined, 'the device is the topic level');
    assert.is(e.model, 'tiny-lstm');
    assert.is(e.kind, undefined, 'kind is written for windows only');
    assert.ok(e.durationMs > 0 && e.durationMs <= 600, `utterances are cut at 0.5 s (+ one frame): ${e.durationMs}`);
    assert.is(Object.keys(e.probabilities).length, 8);
    assert.is(e.label, Object.entries(e.probabilities).sort((a, b) => b[1] - a[1])[0][0]);
  }
  assert.is(new Set(events.map((e) => e.id)).size, events.length, 'ids are unique');
  // stdout carries the same events, one JSON line each
  assert.equal(daemon.events.slice(0, events.length).map((e) => e.id), events.map((e) => e.id));
  const state = emotionStateSchema.parse(JSON.parse(sub.on(`${base}/emotion`)[0].payload));
  assert.is(state.model, 'tiny-lstm');
  const metrics = metricsSchema.parse(JSON.parse(sub.on(`${base}/metrics`).at(-1)!.payload));
  assert.ok(metrics.realTimeFactor > 0 && metrics.realTimeFactor < 0.5, `real-time factor ${metrics.realTimeFactor}`);
  const discovery = sub.messages.filter((m) => m.topic.startsWith('homeassistant/') && m.topic.includes('/earshot_e2e1/'));
  assert.equal(discovery.map((m) => m.topic), ['homeassistant/device/earshot_e2e1/config'], 'one device discovery message');
  const device = haDiscoveryConfigSchema.parse(JSON.parse(discovery[0].payload));
  assert.is(device.availability_topic, `${base}/status`);
  assert.is(Object.keys(device.cmps).length, 10 + 8, 'emotion, confidence, arousal, valence, event, switch, started, 3 diagnostics, 8 per-label sensors');

  const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
  assert.is(health.status, 200);
  const h = (await health.json()) as { status: string; capture: { delivering: boolean }; mqtt: { connected: boolean } };
  assert.is(h.status, 'ok');
  assert.ok(h.capture.delivering && h.mqtt.connected);
  const prom = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(prom)?.[1]);
  assert.ok(value('earshot_frames_total') > 100, prom);
  assert.is(value('earshot_mqtt_connected'), 1);
  assert.is(value('earshot_capture_delivering'), 1);
  assert.ok(value('earshot_events_total') >= 3);
  assert.match(prom, /^earshot_event_latency_seconds\{quantile="0.99"\} \S+$/m);
  assert.match(prom, /^earshot_capture_condition\{kind="flatline"\} 0$/m);
  assert.match(prom, /^# TYPE earshot_dropped_inferences_total counter$/m);
  assert.is((await fetch(`http://127.0.0.1:${httpPort}/nothing`)).status, 404);
});

test('speaker baseline: saved in the state directory, restored after a restart, reset over MQTT; "uncertain" events leave the state alone', async () => {
  const meta = JSON.parse(readFileSync(MODEL, 'utf8'));
  meta.name = 'tiny-speaker';
  meta.normalization.mode = 'speaker';
  copyFileSync(join(ROOT, 'test/fixtures/models/tiny-lstm.onnx'), join(tmp, meta.onnx.file));
  const model = join(tmp, 'tiny-speaker.json');
  writeFileSync(model, JSON.stringify(meta));
  const broker = await mosquitto();
  const stateDir = join(tmp, 'state-baseline');
  const file = join(stateDir, 'baseline.json');
  const args = ['--broker', broker.url, '--model', model, '--state-dir', stateDir, '--device-id', 'e2e-baseline', ...LOOPED_DEMO, ...BUSY,
    '--set', 'pipeline.adaptation.warmupSeconds=1', '--set', 'pipeline.adaptation.saveEverySeconds=1', '--set', 'pipeline.uncertainBelow=1'];
  const base = 'earshot/e2e-baseline';
  const sub = await subscribe(broker.url, [`${base}/#`]);
  const first = runDaemon(args);
  await waitUntil('a saved baseline', () => existsSync(file), 30000, () => first.stderr().slice(-2000));
  await waitUntil('6 events', () => first.events.length >= 6, 30000);
  assert.ok(first.events.every((e) => e.label === 'uncertain' && Object.keys(e.probabilities).length === 8), 'every event uncertain, probabilities kept');
  assert.is(sub.on(`${base}/emotion`).length, 0, 'no state from uncertain results');
  first.child.kill('SIGTERM');
  assert.is((await first.exit).code, 0);
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  assert.ok(saved.utterances >= 6 && saved.weight > 100, `saved ${saved.utterances} utterances`);
  // a stale retained reset waits on the broker: the restarted daemon must ignore it
  await sub.client.publishAsync(`${base}/baseline/reset`, 'stale', { qos: 1, retain: true });
  // a restart (same state directory) picks the baseline up, warm
  const second = runDaemon(args);
  await waitUntil('restored', () => second.logs().some((l) => l.msg === 'speaker baseline restored'), 20000, () => second.stderr().slice(-2000));
  const restored = second.logs().find((l) => l.msg === 'speaker baseline restored')!;
  assert.ok(restored.warm === true && (restored.speechSec as number) > 1, JSON.stringify(restored));
  await waitUntil('retained reset ignored', () => second.logs().some((l) => /ignoring a retained baseline reset/.test(l.msg)), 10000, () => second.stderr().slice(-2000));
  await sub.client.publishAsync(`${base}/baseline/reset`, '', { qos: 1, retain: true }); // clears the retained one: ignored too (empty)
  await sleep(300);
  assert.not.ok(second.logs().some((l) => /speaker baseline reset/.test(l.msg)), 'neither the retained nor the empty message reset it');
  await sub.client.publishAsync(`${base}/baseline/reset`, 'now', { qos: 1 });
  await waitUntil('reset', () => second.logs().some((l) => /speaker baseline reset/.test(l.msg)), 5000, () => second.stderr().slice(-2000));
  second.child.kill('SIGKILL');
  await second.exit;
  const after = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
  assert.ok(after === null || after.utterances < saved.utterances, 'the reset forgot the saved baseline');
});

test('SIGTERM: exit 0 within a few seconds, retained offline published, nothing lost', async () => {
  assert.ok(shared, 'needs the daemon of the previous test');
  const { broker, daemon, sub, httpPort } = shared;
  defer(broker, (b) => b.stop());
  defer(sub.client, (c) => c.endAsync(true));
  defer(daemon.child, (c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL'));
  const t0 = Date.now();
  daemon.child.kill('SIGTERM');
  const { code } = await daemon.exit;
  const ms = Date.now() - t0;
  assert.is(code, 0, daemon.stderr().slice(-3000));
  assert.ok(ms < 4000, `took ${ms} ms`);
  await waitUntil('offline status', () => sub.on('earshot/e2e1/status').at(-1)?.payload === 'offline', 3000);
  // every event the daemon produced (stdout) reached the broker, including the flushed last one
  await waitUntil('all events', () => sub.on('earshot/e2e1/events').length >= daemon.events.length, 3000);
  assert.equal(sub.on('earshot/e2e1/events').map((m) => (JSON.parse(m.payload) as EmotionEvent).id), daemon.events.map((e) => e.id));
  const stopped = daemon.logs().find((l) => l.msg === 'stopped');
  assert.ok(stopped && stopped.queued === 0, 'stopped with an empty queue');
  // a fresh subscriber sees the retained offline
  const late = await subscribe(broker.url, ['earshot/e2e1/status']);
  await waitUntil('retained status', () => late.messages.length > 0, 3000);
  const { topic, payload, retain } = late.messages[0];
  assert.equal({ topic, payload, retain }, { topic: 'earshot/e2e1/status', payload: 'offline', retain: true });
  const closed = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then(() => false, () => true);
  assert.ok(closed, 'the HTTP server is closed');
  shared = null;
});

test('SIGKILL: the broker publishes the last will, status offline (retained)', async () => {
  const broker = await mosquitto();
  const daemon = runDaemon(['--broker', broker.url, '--http-port', '0', ...LOOPED_DEMO]);
  const sub = await subscribe(broker.url, [`earshot/${daemon.deviceId}/status`]);
  await waitUntil('online', () => sub.messages.at(-1)?.payload === 'online', 30000, () => daemon.stderr());
  daemon.child.kill('SIGKILL');
  assert.is((await daemon.exit).signal, 'SIGKILL');
  await waitUntil('last will', () => sub.messages.at(-1)?.payload === 'offline', 5000);
  assert.not.ok(daemon.logs().some((l) => l.msg === 'shutting down'), 'SIGKILL gives the daemon no chance: the offline came from the will');
});

test('broker restart mid-stream: every event id arrives, in order', async () => {
  const broker = await mosquitto({ persistence: true });
  const daemon = runDaemon(['--broker', broker.url, '--http-port', '0', ...LOOPED_DEMO, ...BUSY]);
  const topic = `earshot/${daemon.deviceId}/events`;
  // a persistent session (clean: false, QoS 1) so events the daemon sends right after the restart
  // wait for this subscriber even if the daemon reconnects first
  const sub = await subscribe(broker.url, [topic], { clientId: `${daemon.deviceId}-watcher`, clean: false });
  await waitUntil('2 events before the outage', () => sub.on(topic).length >= 2, 30000, () => daemon.stderr());
  await broker.stop();
  const atStop = daemon.events.length;
  await waitUntil('2 events produced while the broker is down', () => daemon.events.length >= atStop + 2, 8000, () => daemon.stderr());
  await broker.restart();
  const atRestart = daemon.events.length;
  await waitUntil('1 more event after the restart', () => daemon.events.length > atRestart, 8000);
  daemon.child.kill('SIGTERM');
  assert.is((await daemon.exit).code, 0, daemon.stderr().slice(-3000));
  const produced = daemon.events.map((e) => e.id);
  await waitUntil('every event', () => new Set(sub.on(topic).map((m) => JSON.parse(m.payload).id)).size >= produced.length, 8000, () => `${produced.length} produced, ${sub.on(topic).length} received`);
  const received = [...new Set(sub.on(topic).map((m) => (JSON.parse(m.payload) as EmotionEvent).id))];
  assert.equal(received, produced, 'the same ids in the same order (duplicates of at-least-once removed)');
  assert.ok(daemon.logs().some((l) => /MQTT broker reachable again/.test(l.msg)), 'the daemon saw the outage');
});

test('a corrupt audio file: clear E_AUDIO_FORMAT error naming the file, exit non-zero, nothing published', async () => {
  const bad = join(tmp, 'corrupt.flac');
  writeFileSync(bad, Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(2000, 0x5a)]));
  const daemon = runDaemon(['--source', `file:${bad}`, '--http-port', '0', '--set', 'embeddedBroker.port=0']);
  const { code } = await daemon.exit;
  assert.is(code, 65, 'EX_DATAERR: a restart cannot fix the file');
  assert.match(daemon.stderr(), new RegExp(`earshot: ${bad.replace(/[.]/g, '\\.')}.*(corrupt|truncated|not|invalid)`, 'i'));
  assert.ok(daemon.logs().some((l) => l.code === 'E_AUDIO_FORMAT'), daemon.stderr());
  assert.is(daemon.events.length, 0);
});

test('a missing model: clear E_MODEL error, exit non-zero, before capture starts', async () => {
  const daemon = runDaemon(['--source', `file:${DEMO}`, '--http-port', '0', '--model', 'no-such-model']);
  const { code } = await daemon.exit;
  assert.is(code, 66, 'EX_NOINPUT');
  assert.match(daemon.stderr(), /earshot: model "no-such-model" not found .*--model/);
  assert.ok(daemon.logs().some((l) => l.code === 'E_MODEL'));
  assert.not.ok(daemon.logs().some((l) => l.msg === 'starting capture'));
});

test('the same file gives the same labels through `earshot analyze` and through the daemon', async () => {
  // three RAVDESS utterances of different emotions with a second of silence around each
  const clips = ['Actor_05/03-01-05-02-01-01-05.flac', 'Actor_10/03-01-07-02-02-02-10.flac', 'Actor_17/03-01-04-01-02-01-17.flac'].map((c) => join(DATA, 'ravdess', c));
  const file = join(tmp, 'conversation.wav');
  const sox = spawnSync('sox', [...clips.map((c) => `|sox ${c} -p pad 1 0`), file, 'pad', '0', '1'], { encoding: 'utf8' });
  assert.is(sox.status, 0, sox.stderr);
  const analyze = spawnSync(process.execPath, ['bin/earshot.js', 'analyze', '--json', '--model', MODEL, file], { cwd: ROOT, encoding: 'utf8' });
  assert.is(analyze.status, 0, analyze.stderr);
  const segments = (JSON.parse(analyze.stdout) as { segments: { label: string; start: number; end: number; probabilities: Record<string, number> }[] }[])[0].segments;
  assert.ok(segments.length >= 3, `analyze found ${segments.length} segments`);

  const broker = await mosquitto();
  // unpaced replay; a deep inference queue so that no segment is dropped while the file races ahead
  const daemon = runDaemon(['--broker', broker.url, '--http-port', '0', '--source', `file:${file}`, '--set', 'capture.realtime=false', '--set', 'pipeline.queueDepth=64']);
  const sub = await subscribe(broker.url, [`earshot/${daemon.deviceId}/events`]);
  const { code } = await daemon.exit;
  assert.is(code, 0, daemon.stderr().slice(-3000));
  assert.equal(daemon.events.map((e) => e.label), segments.map((s) => s.label));
  daemon.events.forEach((e, i) => {
    assert.ok(Math.abs(e.durationMs - Math.round((segments[i].end - segments[i].start) * 1000)) <= 1);
    // the event's probabilities are rounded to 3 decimals
    for (const [label, p] of Object.entries(segments[i].probabilities)) assert.ok(Math.abs(e.probabilities[label] - p) <= 5e-4 + 1e-9, `${label}: ${e.probabilities[label]} vs ${p}`);
  });
  // the end of the file ended the daemon after everything was published
  await waitUntil('events over MQTT', () => sub.messages.length >= daemon.events.length, 3000);
  assert.equal(sub.messages.map((m) => (JSON.parse(m.payload) as EmotionEvent).label), segments.map((s) => s.label));
});

test('--demo: the bundled clip through the embedded broker, on a free port when its port is taken; exits 0 by itself', async () => {
  const squatter = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => squatter.once('listening', r));
  defer(squatter, (s) => s.close());
  const taken = (squatter.address() as AddressInfo).port;
  const daemon = runDaemon(['--demo', '--set', `embeddedBroker.port=${taken}`]);
  let url: string | undefined;
  await waitUntil('the embedded broker', () => !!(url = daemon.logs().find((l) => /embedded MQTT broker \(aedes\) listening/.test(l.msg))?.url as string | undefined), 30000, () => daemon.stderr());
  assert.ok(daemon.logs().some((l) => l.msg.includes(`port ${taken} is taken`) && l.wanted === taken), 'the fallback is logged');
  assert.is.not(url, `mqtt://127.0.0.1:${taken}`);
  const sub = await subscribe(url!, [`earshot/${daemon.deviceId}/events`]);
  const { code } = await daemon.exit;
  assert.is(code, 0, daemon.stderr().slice(-3000));
  assert.ok(daemon.events.length >= 1, 'the demo printed its events');
  for (const e of daemon.events) emotionEventSchema.parse(e);
  assert.equal(sub.messages.map((m) => (JSON.parse(m.payload) as EmotionEvent).id), daemon.events.map((e) => e.id), 'and published them to the embedded broker');
});

test('a flat-lined microphone (ALSA device of zeros): /healthz 503, condition counted, capture restarted, daemon keeps running', async () => {
  const alsa = makeAlsaFixture();
  defer(alsa, (a) => a.cleanup());
  const httpPort = await freePort();
  const daemon = runDaemon(['--source', 'arecord:zerocap', '--http-port', String(httpPort), '--set', 'embeddedBroker.port=0', '--set', 'capture.flatlineSec=0.5', '--set', 'capture.restartBackoffMs=100'], {
    env: { ALSA_CONFIG_PATH: alsa.alsaConfigPath },
  });
  const url = `http://127.0.0.1:${httpPort}`;
  // the supervisor restarts the source, which recovers and flat-lines again: poll until a 503 is caught
  let unhealthy: { problems: string[] } | null = null;
  const t0 = Date.now();
  while (!unhealthy && Date.now() - t0 < 15000 && daemon.child.exitCode === null) {
    const r = await fetch(`${url}/healthz`).catch(() => null);
    if (r?.status === 503) {
      const body = (await r.json()) as { problems: string[] };
      if (body.problems.some((p) => /flatline/.test(p))) unhealthy = body;
    }
    await sleep(50);
  }
  assert.ok(unhealthy, `no 503 with a flatline problem: ${daemon.stderr().slice(-3000)}`);
  assert.match(unhealthy!.problems.join('\n'), /capture flatline: .*zerocap.* constant samples/, JSON.stringify(unhealthy));
  await waitUntil('a capture restart', () => daemon.logs().some((l) => /restarting capture/.test(l.msg)), 5000, () => daemon.stderr());
  const prom = await (await fetch(`${url}/metrics`)).text();
  assert.ok(Number(/^earshot_capture_conditions_total\{kind="flatline"\} (\d+)$/m.exec(prom)?.[1]) >= 1, prom);
  assert.ok(Number(/^earshot_capture_restarts_total (\d+)$/m.exec(prom)?.[1]) >= 1, prom);
  assert.is(/^earshot_events_total (\d+)$/m.exec(prom)?.[1], '0', 'silence never produces an emotion');
  assert.is(daemon.child.exitCode, null, 'the daemon keeps running');
  daemon.child.kill('SIGTERM');
  assert.is((await daemon.exit).code, 0, daemon.stderr().slice(-3000));
});

test.run();
