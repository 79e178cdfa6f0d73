// The VAD on real corpus audio: a RAVDESS clip padded with a second of silence (digital, or with
// low noise) on both sides is one utterance whose edges are within 100 ms of the speech edges sox
// finds in the original clip; noise and silence alone are never speech. Plus the frame energy's
// streaming exactness and the onset / hang-over / floor-tracking rules on synthetic signals.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { frameCount, parseFrontendConfig } from '../../src/runtime/frontend/config.ts';
import { EnergyVad } from '../../src/runtime/vad/energy-vad.ts';
import { parseVadConfig, vadConfigSchema, type VadConfigInput } from '../../src/runtime/vad/config.ts';
import { FrameEnergy } from '../../src/runtime/vad/frame-energy.ts';
import { DATA } from '../helpers/paths.ts';

const RATE = 16000;
const HOP = 160;
const FRAME = 400;
const HOP_SEC = HOP / RATE;

/** Runs the VAD over `x` fed in `chunk`-sample pieces; returns segments in seconds [start, end]. */
function detect(x: Float32Array, config: VadConfigInput = {}, chunk = 1600): [number, number][] {
  const segs: [number, number][] = [];
  let start = -1;
  const vad = new EnergyVad(parseVadConfig(config), HOP_SEC, {
    speechStart: (f) => (start = f),
    speechEnd: (e) => segs.push([start * HOP_SEC, ((e - 1) * HOP + FRAME) / RATE]),
    speechActive() {},
  });
  const energy = new FrameEnergy(FRAME, HOP);
  for (let i = 0; i < x.length; i += chunk) {
    const n = energy.push(x.subarray(i, i + chunk));
    for (let k = 0; k < n; k++) vad.step(energy.levels()[k]);
  }
  vad.finish();
  return segs;
}

/** Deterministic uniform white noise with the given RMS (dBFS), added into x. */
function addNoise(x: Float32Array, rmsDb: number, seed = 1): Float32Array {
  const amp = 10 ** (rmsDb / 20) * Math.sqrt(12); // uniform on [-a/2, a/2] has RMS a / sqrt(12)
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] += (s / 2 ** 32 - 0.5) * amp;
  }
  return x;
}

function tone(x: Float32Array, fromSec: number, toSec: number, rmsDb: number, hz = 220): void {
  const a = 10 ** (rmsDb / 20) * Math.SQRT2;
  for (let i = Math.round(fromSec * RATE); i < Math.round(toSec * RATE); i++) x[i] += a * Math.sin((2 * Math.PI * hz * i) / RATE);
}

const tmp = mkdtempSync(join(tmpdir(), 'earshot-vad-'));
const soxi = (f: string) => Number(spawnSync('soxi', ['-D', f], { encoding: 'utf8' }).stdout.trim());

/**
 * Speech edges of a clip by an independent tool: sox's `silence` effect trims everything before
 * the first 20 ms above -60 dBFS (the VAD's default minSpeechDb: "speech" means the same level to
 * both), once forwards and once on the reversed clip. Speech tails decay over 100-200 ms, so the
 * level chosen moves the end by that much (at -50 dBFS sox ends up to 150 ms earlier).
 */
function soxSpeechEdges(path: string, threshold = '-60d'): [number, number] {
  const lead = join(tmp, 'lead.wav');
  const tail = join(tmp, 'tail.wav');
  for (const [out, pre] of [[lead, []], [tail, ['reverse']]] as const) {
    const r = spawnSync('sox', [path, out, ...pre, 'silence', '1', '0.02', threshold]);
    assert.is(r.status, 0, `sox failed on ${path}: ${r.stderr}`);
  }
  const total = soxi(path);
  return [total - soxi(lead), soxi(tail)];
}

// Actors of both sexes, four emotions, both intensities and statements.
const CLIPS = [
  'Actor_05/03-01-05-02-01-01-05.flac', // angry, strong
  'Actor_10/03-01-07-02-02-02-10.flac', // disgust, strong
  'Actor_17/03-01-04-01-02-01-17.flac', // sad, normal
  'Actor_12/03-01-01-01-01-01-12.flac', // neutral
  'Actor_03/03-01-03-01-02-02-03.flac', // happy, normal
  'Actor_08/03-01-02-02-02-01-08.flac', // calm, strong, a quiet speaker
];

for (const noise of [null, -65] as const) {
  test(`RAVDESS clips padded with 1 s of ${noise === null ? 'digital silence' : `silence + noise at ${noise} dBFS`}: one utterance, edges within 100 ms`, async () => {
    for (const clip of CLIPS) {
      const path = join(DATA, 'ravdess', clip);
      const audio = await decodeAudioFile(path);
      assert.is(audio.sampleRate, RATE);
      const x = new Float32Array(audio.samples.length + 2 * RATE);
      x.set(audio.samples, RATE);
      if (noise !== null) addNoise(x, noise);
      const [s, e] = soxSpeechEdges(path);
      const segs = detect(x);
      assert.is(segs.length, 1, `${clip}: ${JSON.stringify(segs)} (sox: ${s + 1}-${e + 1})`);
      const [vs, ve] = segs[0];
      assert.ok(Math.abs(vs - (s + 1)) < 0.1, `${clip}: start ${vs.toFixed(3)} vs sox ${(s + 1).toFixed(3)}`);
      assert.ok(Math.abs(ve - (e + 1)) < 0.1, `${clip}: end ${ve.toFixed(3)} vs sox ${(e + 1).toFixed(3)}`);
    }
  });
}

test('a sentence with a 1 s pause inside is two utterances, split where the clip is silent', async () => {
  const path = join(DATA, 'ravdess', 'Actor_20/03-01-06-01-01-02-20.flac');
  const audio = await decodeAudioFile(path);
  const x = new Float32Array(audio.samples.length + 2 * RATE);
  x.set(audio.samples, RATE);
  addNoise(x, -65);
  const [s, e] = soxSpeechEdges(path);
  const segs = detect(x);
  assert.is(segs.length, 2, JSON.stringify(segs));
  assert.ok(Math.abs(segs[0][0] - (s + 1)) < 0.1 && Math.abs(segs[1][1] - (e + 1)) < 0.1, JSON.stringify(segs));
  // the gap between them is quiet in the original clip (below -55 dBFS RMS)
  const [g0, g1] = [segs[0][1] - 1 + 0.05, segs[1][0] - 1 - 0.05];
  assert.ok(g1 - g0 > 0.5, `gap ${g0}-${g1}`);
  const gap = audio.samples.subarray(Math.round(g0 * RATE), Math.round(g1 * RATE));
  const rmsDb = 10 * Math.log10(gap.reduce((a, v) => a + v * v, 0) / gap.length);
  assert.ok(rmsDb < -55, `gap level ${rmsDb.toFixed(1)} dBFS`);
});

test('silence and stationary noise alone are never speech', () => {
  const ten = 10 * RATE;
  assert.equal(detect(new Float32Array(ten)), [], 'digital silence');
  for (const db of [-70, -60, -45, -30, -20]) assert.equal(detect(addNoise(new Float32Array(ten), db, db + 100)), [], `white noise at ${db} dBFS`);
  // a 50 Hz hum with noise, as from a mains-coupled microphone
  const hum = addNoise(new Float32Array(ten), -50);
  tone(hum, 0, 10, -35, 50);
  assert.equal(detect(hum), [], 'hum');
});

test('onset: bursts shorter than onsetMs are ignored, longer ones are speech', () => {
  const x = addNoise(new Float32Array(4 * RATE), -60);
  tone(x, 1, 1.01, -25); // 10 ms click: 3 overlapping 25 ms frames see it, fewer than the 5 of onsetMs
  assert.equal(detect(x, { onsetMs: 50 }), []);
  tone(x, 2, 2.4, -25); // 400 ms vowel-like
  const segs = detect(x, { onsetMs: 50 });
  assert.is(segs.length, 1);
  assert.ok(Math.abs(segs[0][0] - 2) < 0.03 && Math.abs(segs[0][1] - 2.4) < 0.03, JSON.stringify(segs));
});

test('hang-over: pauses shorter than hangoverMs stay inside one utterance, longer ones split it', () => {
  const x = addNoise(new Float32Array(5 * RATE), -60);
  tone(x, 1, 1.5, -25);
  tone(x, 1.7, 2.2, -25); // 200 ms pause
  tone(x, 2.8, 3.3, -25); // 600 ms pause
  const segs = detect(x, { hangoverMs: 300 });
  assert.is(segs.length, 2, JSON.stringify(segs));
  assert.ok(Math.abs(segs[0][0] - 1) < 0.03 && Math.abs(segs[0][1] - 2.2) < 0.03, JSON.stringify(segs));
  assert.ok(Math.abs(segs[1][0] - 2.8) < 0.03 && Math.abs(segs[1][1] - 3.3) < 0.03, JSON.stringify(segs));
  assert.is(detect(x, { hangoverMs: 700 }).length, 1);
});

test('noise floor: follows a drop at once and a rise within floorWindowMs', () => {
  // quiet room, then a fan 25 dB louder from 3 s: the rise passes for speech until the floor
  // learns it, which takes at most the freeze (speech frames kept out) plus one floor window
  const cfg = { floorWindowMs: 2000, floorFreezeMs: 3000, hangoverMs: 300 };
  const x = addNoise(new Float32Array(12 * RATE), -65);
  const fan = addNoise(new Float32Array(9 * RATE), -40, 7);
  for (let i = 0; i < fan.length; i++) x[3 * RATE + i] += fan[i];
  const segs = detect(x, cfg);
  assert.is(segs.length, 1, JSON.stringify(segs));
  assert.ok(Math.abs(segs[0][0] - 3) < 0.03, `fan onset ${segs[0][0]}`);
  assert.ok(segs[0][1] < 3 + 3 + 2 + 0.25 + 0.3 + 0.05, `fan learned by ${segs[0][1]}`);
  // and a voice over the fan after that is speech again
  tone(x, 10, 10.6, -20);
  const after = detect(x, cfg).filter(([s]) => s > 9);
  assert.is(after.length, 1, JSON.stringify(after));
  assert.ok(Math.abs(after[0][0] - 10) < 0.03);
  // the drop back: fan off at 12 s is not speech, speech right after it is
  const y = new Float32Array(16 * RATE);
  y.set(x);
  addNoise(y, -65, 9);
  tone(y, 12.5, 13, -35);
  const late = detect(y, cfg).filter(([s]) => s > 11);
  assert.is(late.length, 1, JSON.stringify(late));
  assert.ok(Math.abs(late[0][0] - 12.5) < 0.03);
});

test('frame energy: frames as the frontend frames them, the same for any chunk size', async () => {
  const audio = await decodeAudioFile(join(DATA, 'ravdess', CLIPS[0]));
  const x = audio.samples;
  const whole = new FrameEnergy(FRAME, HOP);
  const n = whole.push(x);
  assert.is(n, frameCount(parseFrontendConfig({}), x.length));
  const ref = Float32Array.from(whole.levels().subarray(0, n));
  // frame 100 by hand: mean square of samples [16000, 16400)
  let acc = 0;
  for (let i = 100 * HOP; i < 100 * HOP + FRAME; i++) acc += x[i] * x[i];
  assert.ok(Math.abs(ref[100] - 10 * Math.log10(acc / FRAME + 1e-12)) < 1e-3);
  for (const chunk of [1, 160, 1024, 4096]) {
    const e = new FrameEnergy(FRAME, HOP);
    const got: number[] = [];
    for (let i = 0; i < x.length; i += chunk) {
      const k = e.push(x.subarray(i, i + chunk));
      for (let j = 0; j < k; j++) got.push(e.levels()[j]);
    }
    assert.is(got.length, n, `chunk ${chunk}`);
    for (let j = 0; j < n; j++) if (Math.abs(got[j] - ref[j]) > 1e-3) assert.unreachable(`chunk ${chunk}: frame ${j} ${got[j]} vs ${ref[j]}`);
  }
});

test('config: defaults, units, and every error with its path', () => {
  const c = vadConfigSchema.parse({});
  assert.equal(c, {
    kind: 'cascade', thresholdDb: 9, minSpeechDb: -60, minFloorDb: -75, onsetMs: 50, hangoverMs: 300, floorWindowMs: 2000, floorFreezeMs: 5000,
    sileroThreshold: 0.5, sileroNegThreshold: 0.35, sileroOnsetDb: 0, gateDb: 3, gateHoldMs: 300, lookBackMs: 192, sileroTrustDb: 0,
  });
  const neg = vadConfigSchema.safeParse({ sileroThreshold: 0.4, sileroNegThreshold: 0.6 });
  assert.equal(neg.error?.issues.map((i) => i.path.join('.')), ['sileroNegThreshold']);
  assert.not.ok(vadConfigSchema.safeParse({ kind: 'webrtc' }).success);
  const r = vadConfigSchema.safeParse({ thresholdDb: -3, hangoverMs: 'long' });
  assert.not.ok(r.success);
  const paths = r.error!.issues.map((i) => i.path.join('.')).sort();
  assert.equal(paths, ['hangoverMs', 'thresholdDb']);
  assert.throws(() => parseVadConfig({ thresholdDb: -3 }, 'pipeline.vad'), (e: Error & { code?: string }) => e.code === 'E_CONFIG' && /pipeline\.vad:\n {2}thresholdDb: /.test(e.message));
  const vad = new EnergyVad(parseVadConfig({ onsetMs: 50, hangoverMs: 300 }), HOP_SEC, { speechStart() {}, speechEnd() {}, speechActive() {} });
  assert.is(vad.onsetFrames, 5);
  assert.is(vad.hangoverFrames, 30);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
