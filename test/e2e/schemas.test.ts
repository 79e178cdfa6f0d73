// schemas/*.schema.json: the committed files are exactly what scripts/schemas.ts generates from the
// zod schemas, and every payload a real run publishes through a real Mosquitto (events, emotion
// state, status, metrics, Home Assistant discovery) validates against them with ajv (an
// independent JSON Schema validator); broken payloads do not.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { connect } from 'mqtt';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateSchemas, PAYLOADS, SCHEMAS_DIR } from '../../scripts/schemas.ts';
import { emotionEventSchema, metricsSchema } from '../../src/runtime/publish/payloads.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');

function validator() {
  const ajv = new Ajv2020.default({ allErrors: true, strict: true });
  addFormats.default(ajv);
  ajv.addKeyword('x-earshot-topic');
  for (const p of PAYLOADS) ajv.addSchema(JSON.parse(readFileSync(join(SCHEMAS_DIR, p.file), 'utf8')));
  return (file: string, value: unknown) => {
    const v = ajv.getSchema(file)!;
    return v(value) ? null : ajv.errorsText(v.errors);
  };
}

test('schemas/ holds exactly what scripts/schemas.ts generates', () => {
  const generated = generateSchemas();
  assert.equal(readdirSync(SCHEMAS_DIR).filter((f) => f.endsWith('.schema.json')).sort(), [...generated.keys()].sort(), 'one file per payload, nothing stale');
  for (const [file, text] of generated) assert.fixture(readFileSync(join(SCHEMAS_DIR, file), 'utf8'), text, `schemas/${file} is stale: run node --import tsx scripts/schemas.ts`);
});

test('payloads of a real run through Mosquitto validate; broken ones do not', async () => {
  const broker = await startMosquitto();
  const state = mkdtempSync(join(tmpdir(), 'earshot-schemas-'));
  const client = connect(broker.url, { protocolVersion: 4 });
  const got: { topic: string; text: string }[] = [];
  try {
    await new Promise<void>((resolve, reject) => client.once('connect', () => resolve()).once('error', reject));
    client.on('message', (topic, payload) => got.push({ topic, text: payload.toString() }));
    await client.subscribeAsync(['earshot/schemas/#', 'homeassistant/#'], { qos: 1 });
    // the whole demo sequence, unpaced; metrics every 0.2 s; then a normal stop (status offline)
    const child = spawn(process.execPath, ['bin/earshot.js', 'run', '--model', MODEL, '--device-id', 'schemas', '--state-dir', state, '--broker', broker.url, '--http-port', '0',
      '--source', `file:${join(ROOT, 'assets/demo-sequence.flac')}`, '--set', 'capture.realtime=false', '--set', 'metrics.intervalSec=0.2', '--set', 'pipeline.maxUtteranceSeconds=1',
      '--set', 'pipeline.smoothing.minConfidence=0', '--set', 'pipeline.smoothing.minDwellMs=0', '--set', 'pipeline.smoothing.margin=0'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.is(code, 0, stderr.slice(-2000));
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await client.endAsync(true);
    await broker.stop();
    rmSync(state, { recursive: true, force: true });
  }
  const check = validator();
  const fileOf = (topic: string) => (topic.startsWith('homeassistant/') && topic.endsWith('/config') ? 'ha-discovery-config.schema.json' : PAYLOADS.find((p) => p.topic === `<base>/${topic.split('/').at(-1)}`)?.file);
  const TEXT = ['status.schema.json', 'listening.schema.json', 'notice.schema.json', 'fence.schema.json'];
  const seen = new Map<string, number>();
  for (const m of got) {
    if (m.topic === 'homeassistant/status') continue;
    const file = fileOf(m.topic);
    assert.ok(file, `no schema for ${m.topic}`);
    const value = TEXT.includes(file!) ? m.text : JSON.parse(m.text);
    assert.is(check(file!, value), null, `${m.topic}: ${m.text}`);
    seen.set(file!, (seen.get(file!) ?? 0) + 1);
  }
  for (const p of PAYLOADS) assert.ok((seen.get(p.file) ?? 0) > 0, `no ${p.topic} payload captured`);
  assert.ok(seen.get('emotion-event.schema.json')! >= 4, 'the demo sequence gives events');

  // the schemas can fail: one broken copy of each real payload
  const event = JSON.parse(got.find((m) => m.topic.endsWith('/events'))!.text);
  assert.ok(check('emotion-event.schema.json', { ...event, confidence: 1.5 }));
  assert.ok(check('emotion-event.schema.json', { ...event, extra: 1 }));
  assert.ok(check('emotion-event.schema.json', { ...event, start: 'yesterday' }));
  const { label: _drop, ...noLabel } = JSON.parse(got.find((m) => m.topic.endsWith('/emotion'))!.text);
  assert.ok(check('emotion-state.schema.json', noLabel));
  assert.ok(check('metrics.schema.json', { ...JSON.parse(got.find((m) => m.topic.endsWith('/metrics'))!.text), droppedFrames: -1 }));
  assert.ok(check('status.schema.json', 'maybe'));
  const device = JSON.parse(got.find((m) => m.topic === 'homeassistant/device/earshot_schemas/config')!.text);
  assert.ok(check('ha-discovery-config.schema.json', { ...device, payload_available: 'up' }));
  assert.ok(check('ha-discovery-config.schema.json', { ...device, cmps: { ...device.cmps, emotion: { ...device.cmps.emotion, p: 'lamp' } } }));
  // 3 decimals is a rule the zod schemas check (JSON Schema's multipleOf misfires on binary floats)
  assert.not.ok(emotionEventSchema.safeParse({ ...event, confidence: 0.12345 }).success);
  assert.not.ok(metricsSchema.safeParse({ ...JSON.parse(got.find((m) => m.topic.endsWith('/metrics'))!.text), realTimeFactor: 0.0421 }).success);
});

test('an event is at most 350 bytes: 3 decimals, nothing the topic says again (eight labels, a 9-character device id)', async () => {
  const { toEmotionEvent } = await import('../../src/runtime/publish/from-pipeline.ts');
  const { EventIdSource } = await import('../../src/runtime/publish/event-id.ts');
  const labels = ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'];
  // the least round probabilities: every one has 3 decimals after rounding
  const p = Object.fromEntries(labels.map((l, i) => [l, i === 7 ? 0.123456789 : 0.1234567 / (i + 1)]));
  const r = { kind: 'utterance' as const, start: '2026-12-07T15:34:17.742Z', durationMs: 12345, label: 'surprised', confidence: 0.123456789, probabilities: p, arousal: -0.123456, valence: -0.654321, adapted: true, model: 'earshot-crnn' };
  const ids = new EventIdSource('vm-477ac1');
  const e = toEmotionEvent(r as never, ids.next());
  const bytes = Buffer.byteLength(JSON.stringify(e));
  console.log(`  an event: ${bytes} bytes (was 542 with 16-digit floats, deviceId, end and kind)`);
  assert.ok(bytes <= 350, `${bytes} bytes: ${JSON.stringify(e)}`);
  emotionEventSchema.parse(e);
});

test.run();
