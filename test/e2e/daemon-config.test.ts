// The one config schema of `earshot run`: flags > EARSHOT_* env > file (YAML/JSON) > defaults,
// every error listed with its path and origin, cross-field rules checked even when other fields
// fail, the embedded broker decided by whether mqtt.url is set anywhere; and through the real CLI,
// a bad config exits non-zero before the capture device is opened (an ALSA `file` device that
// creates its output file when it is opened shows whether it was).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import { CONFIG_LEAVES, daemonConfigSchema, environmentNames, loadDaemonConfig, type LoadConfigInput } from '../../src/daemon/config.ts';
import { configTemplate, EXAMPLE_MARK } from '../../src/daemon/config-template.ts';
import { EarshotError } from '../../src/core/errors.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-daemon-config-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

function configError(input: LoadConfigInput): string {
  try {
    loadDaemonConfig(input);
  } catch (e) {
    assert.instance(e, EarshotError);
    assert.is((e as EarshotError).code, 'E_CONFIG');
    return (e as Error).message;
  }
  throw new assert.Assertion({ message: 'expected E_CONFIG', operator: 'throws', actual: 'no error', expects: 'E_CONFIG' });
}

const files = new Map<string, string>();
const readFile = (p: string) => {
  const t = files.get(p);
  if (t === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' });
  return t;
};

test('defaults: portaudio source, embedded broker on 1883, loopback HTTP 9464, state dir by uid / $STATE_DIRECTORY', () => {
  const c = loadDaemonConfig({ flags: {}, env: { HOME: '/home/pi' }, uid: 1000 });
  assert.is(c.capture.source, 'portaudio');
  assert.is(c.model, 'earshot-crnn');
  assert.equal(c.embeddedBroker, { enabled: true, host: '127.0.0.1', port: 1883, wsPort: 9001, maxPacketBytes: 262144, maxRetainedMessages: 1000, maxRetainedBytes: 8388608, maxConnections: 64, maxInflightInbound: 16 });
  assert.equal(c.http, { host: '127.0.0.1', port: 9464, allowedHosts: [] });
  assert.equal(c.dashboard, { enabled: true, idleAfterSec: 30 });
  assert.match(configError({ flags: { set: ['dashboard.token=short'] }, env: {} }), /dashboard\.token: must be at least 16 characters/);
  assert.is(loadDaemonConfig({ flags: {}, env: { EARSHOT_DASHBOARD_TOKEN: 'x'.repeat(16) } }).dashboard.token, 'x'.repeat(16));
  assert.is(c.mqtt.stateDir, '/home/pi/.local/state/earshot');
  assert.is(c.pipeline.vad.hangoverMs, 300);
  assert.is(loadDaemonConfig({ flags: {}, env: {}, uid: 0 }).mqtt.stateDir, '/var/lib/earshot');
  assert.is(loadDaemonConfig({ flags: {}, env: { STATE_DIRECTORY: '/var/lib/earshot-x:/other' }, uid: 1000 }).mqtt.stateDir, '/var/lib/earshot-x');
});

test('precedence: flags > env > file > defaults, field by field', () => {
  files.set('/etc/earshot/config.yaml', ['model: from-file', 'mqtt:', '  url: mqtt://file:1883', '  deviceId: filedev', '  keepaliveSec: 11', 'http:', '  port: 1111', 'pipeline:', '  vad:', '    hangoverMs: 250', ''].join('\n'));
  const env = { EARSHOT_MQTT_URL: 'mqtt://env:1883', EARSHOT_DEVICE_ID: 'envdev', EARSHOT_HTTP_PORT: '2222' };
  const c = loadDaemonConfig({ flags: { config: '/etc/earshot/config.yaml', broker: 'mqtts://flag:8883', httpPort: '3333' }, env, readFile });
  assert.is(c.mqtt.url, 'mqtts://flag:8883'); // flag beats env and file
  assert.is(c.mqtt.deviceId, 'envdev'); // env beats file
  assert.is(c.http.port, 3333);
  assert.is(c.model, 'from-file'); // file beats default
  assert.is(c.mqtt.keepaliveSec, 11);
  assert.is(c.pipeline.vad.hangoverMs, 250);
  assert.is(c.pipeline.vad.onsetMs, 50); // siblings of a file value keep their defaults
  assert.is(c.embeddedBroker.enabled, false, 'a configured broker turns the embedded one off');
});

test('EARSHOT_CONFIG names the file; JSON works as well as YAML', () => {
  files.set('/tmp/c.json', JSON.stringify({ capture: { source: 'arecord:plughw:1,0@48000', loop: true }, stdout: true, mqtt: {}, pipeline: { vad: {} } }));
  const c = loadDaemonConfig({ flags: {}, env: { EARSHOT_CONFIG: '/tmp/c.json' }, readFile });
  assert.is(c.capture.source, 'arecord:plughw:1,0@48000');
  assert.is(c.capture.loop, true);
  assert.is(c.stdout, true);
});

test('env and flag strings are typed by the schema field they set (no hand casting)', () => {
  const c = loadDaemonConfig({
    flags: { set: ['pipeline.vad.thresholdDb=12.5', 'mqtt.discovery=off', 'pipeline.mode=window', 'modelTta=false'], stdout: true },
    env: { EARSHOT_MQTT_PROTOCOL_VERSION: '5', EARSHOT_CAPTURE_REALTIME: 'false', EARSHOT_MQTT_QUEUE_MAX_ENTRIES: '50', EARSHOT_DEVICE_ID: '0042', EARSHOT_MQTT_PASSWORD: '123' },
  });
  assert.is(c.pipeline.vad.thresholdDb, 12.5);
  assert.is(c.mqtt.discovery, false);
  assert.is(c.pipeline.mode, 'window');
  assert.is(c.modelTta, false, 'the model\'s test-time augmentation can be turned off');
  assert.is(loadDaemonConfig({ flags: {}, env: {} }).modelTta, true, 'and is on by default');
  assert.is(c.mqtt.protocolVersion, 5);
  assert.is(c.capture.realtime, false);
  assert.is(c.mqtt.queue.maxEntries, 50);
  assert.is(c.mqtt.deviceId, '0042', 'a string field keeps digits as text');
  assert.is(c.mqtt.password, '123');
  assert.is(c.stdout, true);
});

test('every error is listed, with its path and where the value came from', () => {
  files.set('/bad.yaml', 'mqtt:\n  keepaliveSec: -1\n  qos: 2\npipeline:\n  vad:\n    hangoverMs: 99999\n  smoothin: {}\n');
  const msg = configError({
    flags: { config: '/bad.yaml', broker: 'http://broker', source: 'microphone', httpPort: 'abc', logLevel: 'loud' },
    env: { EARSHOT_DEVICE_ID: 'kitchen sink', EARSHOT_MQTT_URLL: 'mqtt://typo:1883' },
    readFile,
  });
  const expected = [
    /mqtt\.url: scheme "http" is not one of mqtt, mqtts, ws, wss \(from --broker\)/,
    /capture\.source: unknown source kind "microphone"; use file:PATH.* \(from --source\)/,
    /http\.port: .*expected number.* \(from --http-port\)/,
    /log\.level: .* \(from --log-level\)/,
    /mqtt\.deviceId: use only letters, digits, _ and - \(from EARSHOT_DEVICE_ID\)/,
    /mqtt\.keepaliveSec: .*>=0 \(from \/bad\.yaml\)/,
    /mqtt\.qos: unknown setting .* \(from \/bad\.yaml\)/,
    /pipeline\.vad\.hangoverMs: .*<=5000 \(from \/bad\.yaml\)/,
    /pipeline\.smoothin: unknown setting/,
    /EARSHOT_MQTT_URLL: unknown variable/,
  ];
  for (const re of expected) assert.match(msg, re);
  assert.match(msg, new RegExp(`invalid configuration \\(${expected.length} errors\\)`));
});

test('cross-field rules are checked even when other fields fail', () => {
  const msg = configError({ flags: { set: ['shutdownTimeoutMs=1000', 'mqtt.stopTimeoutMs=3000', 'embeddedBroker.enabled=true', 'capture.restartBackoffMaxMs=100', 'capture.restartBackoffMs=200'], broker: 'mqtt://b:1883', httpPort: '-1' }, env: {} });
  assert.match(msg, /shutdownTimeoutMs: must be at least mqtt\.stopTimeoutMs \+ 1500 \(4500\)/);
  assert.match(msg, /embeddedBroker\.enabled: is true but mqtt\.url is also set/);
  assert.match(msg, /capture\.restartBackoffMaxMs: must be >= capture\.restartBackoffMs/);
  assert.match(msg, /http\.port: /);
});

test('--demo is the bundled clip with events on stdout and no HTTP server; an explicit --http-port wins', () => {
  const c = loadDaemonConfig({ flags: { demo: true }, env: {} });
  assert.is(c.capture.source, 'demo');
  assert.is(c.stdout, true);
  assert.is(c.http.port, 0);
  assert.is(c.embeddedBroker.enabled, true);
  assert.is(loadDaemonConfig({ flags: { demo: true, httpPort: '9999' }, env: {} }).http.port, 9999);
});

test('config file problems name the file: missing, not YAML, not a mapping; --set needs path=value', () => {
  assert.match(configError({ flags: { config: '/nope.yaml' }, env: {}, readFile }), /cannot read the config file \/nope\.yaml: ENOENT/);
  files.set('/broken.yaml', 'mqtt: [unclosed\n');
  assert.match(configError({ flags: { config: '/broken.yaml' }, env: {}, readFile }), /\/broken\.yaml is not valid YAML or JSON/);
  files.set('/list.yaml', '- a\n- b\n');
  assert.match(configError({ flags: { config: '/list.yaml' }, env: {}, readFile }), /top level must be a mapping .* not a list/);
  assert.match(configError({ flags: { set: ['nonsense', 'mqtt.nothing=1'] }, env: {} }), /--set nonsense: write --set path=value[\s\S]*there is no setting "mqtt\.nothing"/);
});

test('environment names are derived from the schema: every setting has one, none collide', () => {
  const names = environmentNames().map((e) => e.name);
  assert.is(new Set(names).size, names.length);
  for (const n of ['EARSHOT_MQTT_URL', 'EARSHOT_DEVICE_ID', 'EARSHOT_SOURCE', 'EARSHOT_MODEL', 'EARSHOT_CONFIG', 'EARSHOT_STATE_DIR', 'EARSHOT_HTTP_PORT', 'EARSHOT_LOG_LEVEL', 'EARSHOT_PIPELINE_VAD_THRESHOLD_DB', 'EARSHOT_MQTT_TLS_CA']) {
    assert.ok(names.includes(n), `${n} is read`);
  }
  for (const leaf of CONFIG_LEAVES) assert.ok(names.includes(leaf.env), `${leaf.path.join('.')} has ${leaf.env}`);
});

test('the example config in systemd/README.md is valid', () => {
  const readme = readFileSync(join(ROOT, 'systemd/README.md'), 'utf8');
  const m = /```yaml\n( *)(# \/etc\/earshot\/config\.yaml[\s\S]*?)\n *```/.exec(readme);
  assert.ok(m, 'the README has the example');
  // the block sits in a list item: strip its indentation
  files.set('/etc/earshot/config.yaml', (m[1] + m[2]).split('\n').map((l) => l.slice(m[1].length)).join('\n'));
  const c = loadDaemonConfig({ flags: { config: '/etc/earshot/config.yaml' }, env: { EARSHOT_MQTT_PASSWORD: 'x' }, readFile });
  assert.is(c.capture.source, 'arecord:plughw:1,0');
  assert.is(c.mqtt.deviceId, 'kitchen');
  assert.is(c.embeddedBroker.enabled, false);
});

// ---- through the CLI: nothing is opened before the config is valid ----

const CLIP = join(DATA, 'ravdess/Actor_01/03-01-01-01-01-01-01.flac');
const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');

function alsaTouchDevice(): { env: NodeJS.ProcessEnv; touched: string } {
  const raw = join(tmp, 'clip.raw');
  const sox = spawnSync('sox', [CLIP, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-c', '1', '-r', '16000', raw], { encoding: 'utf8' });
  assert.is(sox.status, 0, sox.stderr);
  // ALSA's file plugin creates `file` when the PCM is opened: proof that the device was touched
  const touched = join(tmp, 'touched.raw');
  const conf = join(tmp, 'touch.conf');
  writeFileSync(conf, `pcm.touchcap { type file; slave.pcm "null"; file "${touched}"; infile "${raw}"; format "raw" }\n`);
  return { env: { ...process.env, ALSA_CONFIG_PATH: `/usr/share/alsa/alsa.conf:${conf}` }, touched };
}

test('CLI: a bad config exits 78 (EX_CONFIG) listing every error, and the capture device is never opened', async () => {
  const { env, touched } = alsaTouchDevice();
  const args = ['bin/earshot.js', 'run', '--source', 'arecord:touchcap', '--model', MODEL, '--state-dir', join(tmp, 'state'), '--http-port', '0'];
  const bad = spawnSync(process.execPath, [...args, '--broker', 'tcp://nowhere', '--set', 'pipeline.vad.onsetMs=-5'], { cwd: ROOT, env: { ...env, EARSHOT_MQTT_KEEPALIVE_SEC: 'soon' }, encoding: 'utf8', timeout: 20000 });
  assert.is(bad.status, 78, bad.stderr);
  assert.match(bad.stderr, /invalid configuration \(3 errors\)/);
  assert.match(bad.stderr, /mqtt\.url: .* \(from --broker\)/);
  assert.match(bad.stderr, /pipeline\.vad\.onsetMs: .* \(from --set pipeline\.vad\.onsetMs\)/);
  assert.match(bad.stderr, /mqtt\.keepaliveSec: .* \(from EARSHOT_MQTT_KEEPALIVE_SEC\)/);
  assert.not.ok(existsSync(touched), 'the device was opened despite the bad config');

  // control: the same command with a valid config does open it (so the check above can fail)
  const good = spawn(process.execPath, [...args, '--set', 'embeddedBroker.port=0'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  good.stderr.on('data', (d) => (stderr += d));
  const t0 = Date.now();
  while (!existsSync(touched) && Date.now() - t0 < 15000 && good.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const exited = new Promise((r) => good.once('exit', r));
  good.kill('SIGTERM');
  await exited;
  assert.ok(existsSync(touched), `a valid config opens the device: ${stderr.slice(-2000)}`);
});

test('CLI: --print-config shows the resolved config with the password masked; --print-env lists the names', () => {
  const r = spawnSync(process.execPath, ['bin/earshot.js', 'run', '--print-config', '--broker', 'mqtt://b:1883'], { cwd: ROOT, env: { ...process.env, EARSHOT_MQTT_PASSWORD: 'hunter2', EARSHOT_DEVICE_ID: 'porch' }, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const c = JSON.parse(r.stdout);
  assert.is(c.mqtt.url, 'mqtt://b:1883');
  assert.is(c.mqtt.deviceId, 'porch');
  assert.is(c.mqtt.password, '***');
  assert.is(c.embeddedBroker.enabled, false);
  const e = spawnSync(process.execPath, ['bin/earshot.js', 'run', '--print-env'], { cwd: ROOT, encoding: 'utf8' });
  assert.is(e.status, 0, e.stderr);
  assert.match(e.stdout, /^EARSHOT_MQTT_URL\s+mqtt\.url$/m);
  assert.match(e.stdout, /^EARSHOT_SOURCE\s+capture\.source$/m);
});

test('the packaged config template: every key, commented out; uncommented it is exactly the defaults', () => {
  const text = configTemplate();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.every((l) => l.startsWith('#')), 'nothing is set by the template itself');
  assert.equal(parseYaml(text) ?? {}, {}, 'as installed it sets nothing: the schema decides');
  // uncomment every key line but the examples of values decided on the device (keys without a default parse as null)
  const keys = lines.filter((l) => /^# {0,}[A-Za-z]+:/.test(l) && !l.includes(EXAMPLE_MARK)).map((l) => l.slice(2)).join('\n');
  // keys without a value parse as null, a section of only those (mqtt.tls) as {} or null: drop them, as a user would
  const isSection = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const dropNull = (o: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(o)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, isSection(v) ? dropNull(v as Record<string, unknown>) : v] as const)
        .filter(([, v]) => !isSection(v) || Object.keys(v as object).length > 0),
    );
  const uncommented = dropNull(parseYaml(keys) as Record<string, unknown>);
  assert.equal(daemonConfigSchema.parse(uncommented), daemonConfigSchema.parse({}));
  // and every leaf of the schema appears in it
  for (const leaf of CONFIG_LEAVES) assert.ok(new RegExp(`^#\\s*${leaf.path.at(-1)}:`, 'm').test(text), `${leaf.path.join('.')} is in the template`);
});

test.run();
