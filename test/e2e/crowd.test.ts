// `earshot run` with pipeline.crowd suppress (issue 32): the daemon as a child process with the
// default model and the shipped crowd detector, a real Mosquitto, real corpus audio of speakers the
// detector never trained on (its test split). Six-talker babble (each talker normalised, summed by
// sox) publishes no event and logs what it held back; four clean sentences of the same speakers, one
// talker at a time, publish (at least two); with pipeline.crowd off the same babble publishes, so
// the first check can fail.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crowdSplit } from '../../src/training/crowd-mixtures.ts';
import { emotionEventSchema, type EmotionEvent } from '../../src/runtime/publish/payloads.ts';
import { killDaemon, spawnDaemon, subscribe } from '../helpers/daemon.ts';
import { deferAfterEach, waitUntil } from '../helpers/harness.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { makeBabble, sox, TALKERS } from '../helpers/crowd-talkers.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-crowd-e2e-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const defer = deferAfterEach(test);

const BABBLE = join(tmp, 'babble.wav');
const CLEAN = join(tmp, 'clean.wav');

test('the clips are of speakers the detector never trained on', () => {
  makeBabble(tmp, BABBLE);
  // one talker at a time: a sentence of each of four speakers, 1 s of silence between them
  const turns = [TALKERS[1][1][0], TALKERS[2][1][0], TALKERS[5][1][1], TALKERS[0][1][0]];
  sox([...turns.map((f) => `|sox --norm=-3 ${f} -r 16000 -c 1 -p pad 1 0`), CLEAN, 'pad', '0', '1']);
});

async function run(file: string, crowd: string) {
  const broker = defer(await startMosquitto(), (b) => b.stop());
  const deviceId = `crowd${crowd}${file === BABBLE ? 'b' : 'c'}`;
  const sub = defer(await subscribe(broker.url, [`earshot/${deviceId}/events`]), (s) => s.client.endAsync(true));
  const d = spawnDaemon(['--broker', broker.url, '--device-id', deviceId, '--state-dir', join(tmp, `state-${deviceId}`), '--http-port', '0', '--source', `file:${file}`,
    '--set', 'capture.realtime=false', '--set', 'pipeline.queueDepth=64', '--set', `pipeline.crowd=${crowd}`]);
  defer(d.child, killDaemon);
  const { code } = await d.exit;
  assert.is(code, 0, d.stderr().slice(-3000));
  await waitUntil('the printed events over MQTT', () => sub.messages.length >= d.events.length, 5000);
  const published = sub.messages.map((m) => JSON.parse(m.payload) as EmotionEvent);
  for (const e of published) emotionEventSchema.parse(e);
  return { d, published };
}

test('suppress: babble alone publishes nothing, and the held-back utterances are logged', async () => {
  const { d, published } = await run(BABBLE, 'suppress');
  assert.is(published.length, 0, JSON.stringify(published));
  assert.is(d.events.length, 0);
  const held = d.logs().filter((l) => l.msg.includes('no dominant talker (crowd): not published'));
  assert.ok(held.length >= 1, `the babble reached the model as speech and was held back (${d.stderr().slice(-2000)})`);
  assert.ok(d.logs().some((l) => l.msg === 'crowd detector loaded'));
});

test('off: the same babble is published (the detector is what holds it back)', async () => {
  const { published } = await run(BABBLE, 'off');
  assert.ok(published.length >= 1);
});

test('suppress: one talker at a time is published, unmarked (the detector keeps most clean talkers, not all: at least 2 of the 4)', async () => {
  const { published } = await run(CLEAN, 'suppress');
  assert.ok(published.length >= 2, `${published.length} published`);
  for (const e of published) assert.is(e.crowd, undefined);
});

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 26 });

test('earshot vad-eval --crowd: test speakers only, every utterance scored, babble with suppress; --split val --write-threshold sets a threshold', () => {
  const out = join(tmp, 'crowd.json');
  const r = cli(['vad-eval', '--crowd', DATA, '--vads', 'cascade', '--clips', '1', '--snrs', '5', '--noise-only', '60', '--json', out]);
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(readFileSync(out, 'utf8'));
  assert.is(j.split, 'test');
  for (const s of j.speakers) assert.is(crowdSplit(s), 'test', s);
  assert.equal(j.talkers.map((t: { snrDb: number | null }) => t.snrDb), [null, 5]);
  for (const t of j.talkers) {
    assert.is(t.scores.length, t.utterances);
    assert.is(t.kept, t.scores.filter((v: number) => v >= j.threshold).length);
  }
  assert.ok(j.babble.eventsWithoutDetector > 0, 'a minute of babble reaches the model as speech');
  assert.is(j.babble.events + j.babble.suppressed, j.babble.segments);
  assert.match(r.stdout, /kept at other thresholds/);
  // a threshold chosen on the validation speakers, written into a copy of the detector
  const det = join(tmp, 'earshot-crowd.json');
  copyFileSync(join(ROOT, 'models/earshot-crowd.json'), det);
  copyFileSync(join(ROOT, 'models/earshot-crowd.onnx'), join(tmp, 'earshot-crowd.onnx'));
  const v = cli(['vad-eval', '--crowd', DATA, '--split', 'val', '--detector', det, '--vads', 'cascade', '--clips', '1', '--snrs', '5', '--noise-only', '60', '--write-threshold', 'babble', '--json', out]);
  assert.is(v.status, 0, v.stderr);
  const babbleTop = Math.max(...JSON.parse(readFileSync(out, 'utf8')).babble.scores);
  const meta = JSON.parse(readFileSync(det, 'utf8'));
  assert.ok(Math.abs(meta.threshold - (babbleTop + 1e-3)) < 1e-5, `${meta.threshold} vs ${babbleTop}`);
  assert.match(meta.thresholdRule, /--split val --write-threshold babble/);
});

test.run();
