// examples/node-red/flow.json end to end: a real Node-RED (the npm dev dependency, started as a
// child with a temporary user directory and the example flow, its editor off), a real Mosquitto
// started here, and a real earshot daemon (bin/earshot.js, the default model) replaying the bundled
// demo clip. Node-RED learns the broker from the environment the README gives
// (EARSHOT_MQTT_HOST/PORT, EARSHOT_CSV); the flow's outputs are read where a user reads them:
//   GET /earshot/devices        the per-device table: status, smoothed state, last utterance
//   GET /earshot/circumplex.svg the arousal/valence chart: one dot per utterance
//   $EARSHOT_CSV                one line per utterance
// and each must match what the daemon published (its stdout carries the same events).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emotionStateSchema, type EmotionEvent } from '../../src/runtime/publish/payloads.ts';
import { spawnDaemon, subscribe } from '../helpers/daemon.ts';
import { waitUntil } from '../helpers/harness.ts';
import { freePort, startMosquitto } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-node-red-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

interface Row { device: string; status: string | null; state: string | null; stateConfidence: number | null; last: string | null; lastConfidence: number | null; lastAt: string | null; utterances: number }

/** Node-RED 4 as a child: settings in a fresh user directory, the example flow as its flow file. */
function startNodeRed(port: number, env: NodeJS.ProcessEnv): { child: ChildProcess; log: () => string } {
  const dir = mkdtempSync(join(tmp, 'userdir-'));
  copyFileSync(join(ROOT, 'examples/node-red/flow.json'), join(dir, 'flows.json'));
  // loopback only, no editor or admin API, no credential file, no telemetry prompt
  writeFileSync(join(dir, 'settings.js'), `module.exports = { uiHost: '127.0.0.1', uiPort: ${port}, httpAdminRoot: false, flowFile: 'flows.json', credentialSecret: false, diagnostics: { enabled: false }, telemetry: { enabled: false }, logging: { console: { level: 'info', metrics: false, audit: false } } };\n`);
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/node-red/red.js'), '--userDir', dir, '--settings', join(dir, 'settings.js')], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  process.once('exit', () => child.kill('SIGKILL'));
  return { child, log: () => log };
}

async function getJson<T>(url: string): Promise<T | null> {
  try {
    const r = await fetch(url);
    return r.ok ? ((await r.json()) as T) : null;
  } catch {
    return null;
  }
}

test('the Node-RED example flow turns the daemon\'s events into a per-device table, an arousal/valence chart and a CSV log', async () => {
  const broker = await startMosquitto();
  const port = await freePort();
  const csv = join(tmp, 'events.csv');
  const red = startNodeRed(port, { EARSHOT_MQTT_HOST: '127.0.0.1', EARSHOT_MQTT_PORT: String(broker.port), EARSHOT_CSV: csv });
  const base = `http://127.0.0.1:${port}`;
  let daemon: ReturnType<typeof spawnDaemon> | undefined;
  const t0 = Date.now();
  try {
    await waitUntil('Node-RED started, connected to the broker', () => /Connected to broker/.test(red.log()), 60000, () => red.log().slice(-3000));
    const startedMs = Date.now() - t0;
    assert.not.ok(/Waiting for missing types|\[error\]/.test(red.log()), red.log());
    assert.equal(await getJson(`${base}/earshot/devices`), [], 'no device before the daemon runs');

    const sub = await subscribe(broker.url, ['earshot/nodered1/emotion']);
    daemon = spawnDaemon(['--device-id', 'nodered1', '--state-dir', join(tmp, 'state'), '--broker', broker.url, '--http-port', '0', '--source', `file:${join(ROOT, 'assets/demo-sequence.flac')}`, '--set', 'capture.realtime=false']);
    const { code } = await daemon.exit;
    assert.is(code, 0, daemon.stderr().slice(-2000));
    const events: EmotionEvent[] = daemon.events;
    assert.ok(events.length >= 4, `the demo's utterances: ${events.map((e) => e.label)}`);

    // the table: one row, the daemon's status (offline after its clean stop), state and last utterance
    let rows: Row[] | null = null;
    await waitUntil('the table to hold every utterance', async () => {
      rows = await getJson<Row[]>(`${base}/earshot/devices`);
      return rows?.[0]?.utterances === events.length && rows[0].status === 'offline';
    }, 15000, () => `${JSON.stringify(rows)}\n${red.log().slice(-2000)}`);
    const [row] = rows!;
    assert.is(rows!.length, 1);
    const last = events.at(-1)!;
    assert.equal([row.device, row.last, row.lastConfidence, row.lastAt], ['nodered1', last.label, last.confidence, last.start]);
    const state = emotionStateSchema.parse(JSON.parse(sub.messages.at(-1)!.payload));
    assert.equal([row.state, row.stateConfidence], [state.label, state.confidence], 'the smoothed state is the last retained emotion');
    await sub.client.endAsync(true);

    // the chart: one dot per utterance at (valence, -arousal) x 100, in the label's colour
    const svg = await (await fetch(`${base}/earshot/circumplex.svg`)).text();
    const dots = [...svg.matchAll(/<circle cx="([-\d.]+)" cy="([-\d.]+)" r="4" fill="[^"]+" fill-opacity="[\d.]+" data-id="([^"]+)" data-device="nodered1" data-label="([^"]+)"/g)];
    assert.equal(dots.map((d) => [d[3], d[4]]), events.map((e) => [e.id, e.label]));
    dots.forEach((d, i) => assert.ok(Math.abs(Number(d[1]) - events[i].valence * 100) < 0.06 && Math.abs(Number(d[2]) + events[i].arousal * 100) < 0.06));

    // the CSV: one line per utterance
    await waitUntil('the CSV file', () => existsSync(csv) && readFileSync(csv, 'utf8').trim().split('\n').length === events.length, 5000);
    const lines = readFileSync(csv, 'utf8').trim().split('\n').map((l) => l.split(','));
    assert.equal(lines.map((l) => [l[0], l[1], l[3]]), events.map((e) => ['nodered1', e.id, e.label]));
    console.log(`  Node-RED 4 up and connected in ${startedMs} ms; ${events.length} utterances -> 1 table row, ${dots.length} dots, ${lines.length} CSV lines (${Date.now() - t0} ms in all)`);
  } finally {
    if (daemon && daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
    red.child.kill('SIGTERM');
    await new Promise((r) => (red.child.exitCode !== null ? r(null) : red.child.once('exit', r)));
    await broker.stop();
  }
});

test.run();
