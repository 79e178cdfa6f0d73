// The parts of "earshot in the user's house" that need no daemon: the discovery configs against
// Home Assistant's documented field lists, the local-broker probe against a real Mosquitto, a
// TCP squatter and a closed port, the installation id and default device id, the listening
// switch's persistence and commands, and the readable output lines.
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deviceDiscoveryMessage } from '../../src/runtime/publish/discovery.ts';
import { haDeviceDiscoveryConfigSchema, haEventComponentSchema, haSensorComponentSchema, haSwitchComponentSchema, topicsFor } from '../../src/runtime/publish/payloads.ts';
import { dashboardLink } from '../../src/daemon/dashboard/index.ts';
import { probeMqttBroker } from '../../src/daemon/broker/local-broker.ts';
import { defaultDeviceId, loadInstallationId, machineSuffix } from '../../src/runtime/publish/installation.ts';
import { ListeningSwitch, parseListeningCommand } from '../../src/daemon/listening.ts';
import { startHttpServer } from '../../src/daemon/http.ts';
import { demoSummary, formatEventLine, formatLogLine, resolveFormat } from '../../src/daemon/text-output.ts';
import { freePort, startMosquitto } from '../helpers/mosquitto.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-home-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

// ---------- Home Assistant's documented configuration variables ----------
// Copied from the "Configuration Variables" of the MQTT integration pages (Home Assistant 2025.x):
//   https://www.home-assistant.io/integrations/sensor.mqtt/
//   https://www.home-assistant.io/integrations/event.mqtt/
//   https://www.home-assistant.io/integrations/switch.mqtt/
// and the `device` and `origin` blocks of https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery.
// A key outside these lists is ignored by Home Assistant at best and rejects the config at worst.
const ENTITY_COMMON = ['availability', 'availability_mode', 'availability_template', 'availability_topic', 'device', 'enabled_by_default', 'encoding',
  'entity_category', 'entity_picture', 'icon', 'json_attributes_template', 'json_attributes_topic', 'name', 'object_id', 'default_entity_id',
  'payload_available', 'payload_not_available', 'platform', 'qos', 'unique_id', 'origin'];
const HA_FIELDS: Record<string, string[]> = {
  sensor: [...ENTITY_COMMON, 'device_class', 'expire_after', 'force_update', 'last_reset_value_template', 'options', 'suggested_display_precision',
    'state_class', 'state_topic', 'unit_of_measurement', 'value_template'],
  event: [...ENTITY_COMMON, 'device_class', 'event_types', 'state_topic', 'value_template'],
  switch: [...ENTITY_COMMON, 'command_template', 'command_topic', 'device_class', 'optimistic', 'payload_off', 'payload_on', 'retain', 'state_off',
    'state_on', 'state_topic', 'value_template'],
};
const HA_REQUIRED: Record<string, string[]> = { sensor: ['state_topic'], event: ['state_topic', 'event_types'], switch: ['command_topic'] };
const DEVICE_FIELDS = ['configuration_url', 'connections', 'hw_version', 'identifiers', 'manufacturer', 'model', 'model_id', 'name', 'serial_number', 'suggested_area', 'sw_version', 'via_device'];
const ORIGIN_FIELDS = ['name', 'sw_version', 'support_url'];
// sensor.mqtt: an `enum` sensor takes `options` and must not have a state_class or unit
const ENTITY_CATEGORIES = ['config', 'diagnostic'];

// Device discovery (Home Assistant 2024.11+, https://www.home-assistant.io/integrations/mqtt/#device-discovery-payload):
// the root carries `dev`, `o` (required there), `cmps` and the options shared by every component
// (homeassistant/components/mqtt/discovery.py SHARED_OPTIONS: availability*, payload_(not_)available,
// state_topic, command_topic); each component carries `p` (its platform) and its own fields.
const DEVICE_ROOT = ['dev', 'o', 'cmps', 'availability', 'availability_mode', 'availability_template', 'availability_topic', 'payload_available', 'payload_not_available', 'state_topic', 'command_topic', 'qos', 'encoding'];

const LABELS = ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'];
const topics = topicsFor({ baseTopic: 'earshot/kitchen', deviceId: 'kitchen', discoveryPrefix: 'homeassistant' });
const message = deviceDiscoveryMessage({ topics, deviceId: 'kitchen', deviceName: 'earshot kitchen', model: 'ser', version: '0.1.0', discoveryPrefix: 'homeassistant', labels: LABELS, eventTypes: [...LABELS, 'uncertain'], configurationUrl: 'http://192.0.2.7:8080/' });
const cmps = message.payload.cmps as unknown as Record<string, Record<string, unknown>>;

test('one device discovery message: dev, o and cmps; every component uses only the fields Home Assistant documents for its platform, and has the required ones', () => {
  assert.is(message.topic, 'homeassistant/device/earshot_kitchen/config');
  const root = message.payload as unknown as Record<string, unknown>;
  for (const k of Object.keys(root)) assert.ok(DEVICE_ROOT.includes(k), `"${k}" at the root`);
  haDeviceDiscoveryConfigSchema.parse(root);
  for (const k of Object.keys(root.dev as object)) assert.ok(DEVICE_FIELDS.includes(k), `dev.${k}`);
  assert.is((root.dev as { configuration_url: string }).configuration_url, 'http://192.0.2.7:8080/');
  assert.equal(Object.keys(root.o as object).sort(), [...ORIGIN_FIELDS].sort(), 'origin: name, sw_version, support_url');
  const ids = new Set<string>();
  for (const [key, c] of Object.entries(cmps)) {
    const component = c.p as string;
    assert.match(key, /^[a-z0-9_]+$/);
    for (const k of Object.keys(c)) assert.ok(k === 'p' || HA_FIELDS[component].includes(k), `${key}: "${k}" is not a ${component}.mqtt field`);
    for (const k of HA_REQUIRED[component]) assert.ok(k in c, `${key}: lacks ${k}`);
    assert.not.ok('device' in c || 'origin' in c || 'availability_topic' in c, `${key}: device, origin and availability are shared`);
    if (c.entity_category !== undefined) assert.ok(ENTITY_CATEGORIES.includes(c.entity_category as string));
    if (c.device_class === 'enum') assert.ok(Array.isArray(c.options) && !('state_class' in c) && !('unit_of_measurement' in c), `${key}: enum sensors have options and no state_class/unit`);
    if (c.device_class === 'timestamp') assert.ok(!('state_class' in c) && !('unit_of_measurement' in c), `${key}: a timestamp has no state_class/unit`);
    assert.is(c.unique_id, `earshot_kitchen_${key}`, 'unique ids are namespaced earshot_<id>_<component>, as before 0.2 (so the entities carry over)');
    assert.not.ok(ids.has(c.unique_id as string), 'unique ids are unique');
    ids.add(c.unique_id as string);
    ({ sensor: haSensorComponentSchema, event: haEventComponentSchema, switch: haSwitchComponentSchema })[component as 'sensor']!.parse(c);
  }
});

test('the components: enum emotion with one stable attribute, confidence, arousal, valence, an event per utterance, the listening switch, the start time, diagnostics, one sensor per label', () => {
  assert.equal(cmps.emotion.options, [...LABELS, 'idle']);
  assert.is(cmps.emotion.json_attributes_template, '{{ {"model": value_json.model} | tojson }}');
  assert.is(cmps.confidence.unit_of_measurement, '%');
  for (const k of ['arousal', 'valence']) assert.equal([cmps[k].state_topic, cmps[k].value_template, cmps[k].state_class], ['earshot/kitchen/emotion', `{{ value_json.${k} }}`, 'measurement']);
  assert.equal(cmps.utterance.event_types, [...LABELS, 'uncertain']);
  assert.is(cmps.utterance.state_topic, 'earshot/kitchen/events');
  assert.equal([cmps.listening.command_topic, cmps.listening.state_topic, cmps.listening.payload_on, cmps.listening.payload_off], ['earshot/kitchen/listening/set', 'earshot/kitchen/listening', 'ON', 'OFF']);
  assert.equal([cmps.started.state_topic, cmps.started.device_class, cmps.started.entity_category], ['earshot/kitchen/instance', 'timestamp', 'diagnostic']);
  for (const k of ['latency', 'real_time_factor', 'queue_depth']) {
    assert.is(cmps[k].entity_category, 'diagnostic');
    assert.is(cmps[k].state_topic, 'earshot/kitchen/metrics');
  }
  for (const l of LABELS) assert.is(cmps[`probability_${l}`].enabled_by_default, false);
  assert.is(Object.keys(cmps).length, 10 + LABELS.length);
  const bytes = JSON.stringify(message.payload).length;
  console.log(`  device discovery: 1 message, ${bytes} bytes for ${Object.keys(cmps).length} entities`);
});

test('configuration_url: the dashboard as other machines reach it, none on loopback', () => {
  const lan = () => ({ lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }], eth0: [{ address: '192.0.2.9', family: 'IPv4', internal: false }] }) as never;
  assert.is(dashboardLink('127.0.0.1', 8080, lan), null);
  assert.is(dashboardLink('localhost', 8080, lan), null);
  assert.is(dashboardLink('0.0.0.0', 8080, lan), 'http://192.0.2.9:8080/');
  assert.is(dashboardLink('192.0.2.20', 80, lan), 'http://192.0.2.20:80/');
  assert.is(dashboardLink('fd00::5', 8080, lan), 'http://[fd00::5]:8080/');
  assert.is(dashboardLink('0.0.0.0', 8080, () => ({}) as never), null, 'no address to name');
});

// ---------- the local broker probe ----------

test('probe: a real Mosquitto answers; a TCP squatter that is not MQTT and a closed port do not', async () => {
  const broker = await startMosquitto();
  try {
    assert.ok(await probeMqttBroker('127.0.0.1', broker.port));
  } finally {
    await broker.stop();
  }
  const squatter = createServer(() => undefined).listen(0, '127.0.0.1');
  await new Promise((r) => squatter.once('listening', r));
  const t0 = Date.now();
  assert.not.ok(await probeMqttBroker('127.0.0.1', (squatter.address() as AddressInfo).port, 300), 'silence is not a broker');
  assert.ok(Date.now() - t0 < 1500, 'and the probe gives up after its timeout');
  squatter.close();
  assert.not.ok(await probeMqttBroker('127.0.0.1', await freePort()));
});

// ---------- identity ----------

test('installation id: made once, kept in the state directory; the default device id is the host name plus a stable suffix from the machine id', () => {
  const dir = join(tmp, 'state-a');
  const id = loadInstallationId(dir);
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.is(loadInstallationId(dir), id, 'the same on the next start');
  assert.is(readFileSync(join(dir, 'installation-id'), 'utf8').trim(), id);
  assert.is.not(loadInstallationId(join(tmp, 'state-b')), id, 'another state directory is another installation');
  const a = machineSuffix(() => '0123456789abcdef0123456789abcdef\n');
  assert.match(a, /^[0-9a-f]{6}$/);
  assert.is(machineSuffix(() => '0123456789abcdef0123456789abcdef'), a, 'stable');
  assert.is.not(machineSuffix(() => 'fedcba98765432100123456789abcdef'), a, 'differs between machines');
  assert.not.ok(a.length > 0 && '0123456789abcdef0123456789abcdef'.includes(a), 'a hash, not the machine id itself');
  assert.is(machineSuffix(() => { throw new Error('ENOENT'); }), '');
  assert.is(defaultDeviceId('raspberrypi', a), `raspberrypi-${a}`);
  assert.is(defaultDeviceId('my.pi', ''), 'my_pi');
});

// ---------- listening switch ----------

test('listening switch: persisted across restarts ("last"), forced by the config, commands parsed', () => {
  const dir = join(tmp, 'state-listening');
  const first = new ListeningSwitch(dir, 'last');
  assert.ok(first.isOn, 'on the first start');
  const changes: boolean[] = [];
  first.on('change', (s) => changes.push(s.on));
  assert.ok(first.set(false, 'MQTT'));
  assert.not.ok(first.set(false, 'HTTP'), 'no change, no event');
  assert.equal(changes, [false]);
  const second = new ListeningSwitch(dir, 'last');
  assert.not.ok(second.isOn, 'still off after a restart');
  assert.is(second.current.by, 'saved');
  assert.ok(new ListeningSwitch(dir, 'on').isOn, 'the config forces it');
  assert.ok(new ListeningSwitch(dir, 'last').isOn, 'and that is saved too');
  assert.equal(['ON', 'off', ' true\n', '{"on":false}', 'maybe'].map(parseListeningCommand), [true, false, true, false, null]);
});

test('POST /listening: accepted from this machine, refused (403) from another address unless privacy.remoteListeningControl', async () => {
  const lan = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  const sw = new ListeningSwitch(join(tmp, 'state-http'), 'on');
  const serve = async (remote: boolean) =>
    startHttpServer({ host: '0.0.0.0', port: 0 }, { health: () => ({ healthy: true, body: {} }), metricsText: () => '', listening: sw, remoteListeningControl: remote });
  const http = await serve(false);
  try {
    const post = (host: string, body: string) => fetch(`http://${host}:${http.port}/listening`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.is((await post('127.0.0.1', 'OFF')).status, 200);
    assert.not.ok(sw.isOn);
    assert.is(((await (await fetch(`http://127.0.0.1:${http.port}/listening`)).json()) as { listening: string; by: string }).by, 'HTTP');
    if (!lan) {
      console.log('  (no non-loopback IPv4 address here: the 403 case is not exercised)');
      return;
    }
    const r = await post(lan, 'ON');
    assert.is(r.status, 403, 'from a LAN address');
    assert.not.ok(sw.isOn, 'unchanged');
    const open = await serve(true);
    try {
      assert.is((await fetch(`http://${lan}:${open.port}/listening`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'ON' })).status, 200);
      assert.ok(sw.isOn);
    } finally {
      await open.close();
    }
  } finally {
    await http.close();
  }
});

// ---------- readable output ----------

test('readable lines: events as `happy 94% (1.4 s)`, logs as time, level, message; auto picks text only on a terminal', () => {
  const e = { id: 'x', start: '2025-03-01T12:00:01.600Z', durationMs: 1400, label: 'happy', confidence: 0.941, probabilities: {}, arousal: 0, valence: 0, model: 'm' };
  assert.match(formatEventLine(e), /^\d\d:\d\d:\d\d happy 94% \(1\.4 s\)\n$/);
  const log = formatLogLine(JSON.stringify({ level: 40, time: '2025-03-01T12:00:03.000Z', pid: 1, hostname: 'h', name: 'earshot', msg: 'lost the MQTT connection', queued: 3, config: { a: 'x'.repeat(200) } }));
  assert.match(log, /^\d\d:\d\d:\d\d WARN {2}lost the MQTT connection {2}queued=3\n$/, 'long structures are left to the JSON format');
  assert.is(resolveFormat('auto', true), 'text');
  assert.is(resolveFormat('auto', undefined), 'json');
  assert.is(resolveFormat('json', true), 'json');
  assert.match(demoSummary([e, e, { ...e, label: 'sad' }], 15.2), /3 utterances classified in 15\.2 s: happy 2, sad 1/);
});

test.run();
