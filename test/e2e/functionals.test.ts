// Issue 15, item 4: the utterance functionals (TypeScript, runtime) against their training-side
// twin (training/python/earshot_train/functionals.py, numpy) on real clips; the speaker baseline's functional
// statistics; the functional head fused into the shipped model only once the baseline is warm.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { Frontend } from '../../src/runtime/frontend/frontend.ts';
import { resample } from '../../src/runtime/frontend/resampler.ts';
import { SpeakerBaseline } from '../../src/runtime/model/baseline.ts';
import { FunctionalHead, functionalHeadSchema } from '../../src/runtime/model/functional-head.ts';
import { computeFunctionals, FUNCTIONAL_NAMES, functionalColumns } from '../../src/runtime/model/functionals.ts';
import { EmotionClassifier } from '../../src/runtime/model/session.ts';
import { analyzeFile } from '../../src/runtime/pipeline/analyze-file.ts';
import { EmotionPipeline } from '../../src/runtime/pipeline/pipeline.ts';
import { parsePipelineConfig } from '../../src/runtime/pipeline/config.ts';
import { writeNpy } from '../../src/training/npy.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-functionals-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const CONFIG = JSON.parse(readFileSync(join(ROOT, 'training/configs/logmel40-rms-zcr-pitch.json'), 'utf8'));
const CLIPS = ['Actor_03/03-01-05-02-01-01-03.flac', 'Actor_08/03-01-04-01-02-02-08.flac', 'Actor_11/03-01-01-01-01-01-11.flac'];

async function features(rel: string): Promise<{ x: Float32Array; frames: number; fe: Frontend }> {
  const a = await decodeAudioFile(join(DATA, 'ravdess', rel));
  const fe = new Frontend(CONFIG);
  const x = fe.computeAll(resample(a.samples, a.sampleRate, 16000));
  return { x, frames: x.length / fe.dim, fe };
}

function featureNames(): string[] {
  return [...Array.from({ length: 40 }, (_, k) => `mel${k}`), 'rms', 'zcr', 'f0', 'voicing'];
}

test('functionals: the runtime computes what earshot_train/functionals.py computes, name for name (3 RAVDESS clips)', async () => {
  const names = featureNames();
  const cols = functionalColumns(names);
  const ours: number[][] = [];
  for (const [i, rel] of CLIPS.entries()) {
    const { x, frames, fe } = await features(rel);
    assert.is(fe.dim, names.length);
    await writeNpy(join(tmp, `c${i}.npy`), x, [frames, fe.dim]);
    ours.push([...computeFunctionals(x, frames, fe.dim, cols, new Float64Array(FUNCTIONAL_NAMES.length))]);
  }
  const py = spawnSync('/usr/bin/python3', ['-c', `
import json, sys, numpy as np
from earshot_train.functionals import functionals
names = json.loads(sys.argv[1])
out = []
for i in range(${CLIPS.length}):
    x = np.load('${tmp}/c%d.npy' % i).astype(np.float32)
    f = functionals({'x': x, 'speech': [[0, len(x)]]}, names)
    out.append({'keys': list(f.keys()), 'values': [float(v) for v in f.values()]})
print(json.dumps(out))
`, JSON.stringify(names)], { cwd: join(ROOT, 'training', 'python'), encoding: 'utf8' });
  assert.is(py.status, 0, py.stderr);
  const theirs = JSON.parse(py.stdout) as { keys: string[]; values: number[] }[];
  for (const [c, t] of theirs.entries()) {
    assert.equal(t.keys, [...FUNCTIONAL_NAMES]);
    for (const [k, v] of t.values.entries()) {
      const tol = 1e-4 + 1e-4 * Math.abs(v);
      assert.ok(Math.abs(ours[c][k] - v) <= tol, `${CLIPS[c]} ${FUNCTIONAL_NAMES[k]}: runtime ${ours[c][k]} vs numpy ${v}`);
    }
  }
});

test('functionals: a layout without the pitch columns is refused with the column it lacks', () => {
  assert.throws(() => functionalColumns(featureNames().filter((n) => n !== 'f0')), /needs feature "f0"/);
});

test('baseline: with a functional head, warm from the third utterance on; kept by snapshot/restore; reset forgets them', () => {
  const n = FUNCTIONAL_NAMES.length;
  const b = new SpeakerBaseline(2, 0.01, 'k', { warmupSeconds: 1 }, n);
  const frames = new Float32Array(200 * 2).fill(0.5);
  const f = (v: number) => new Float64Array(n).fill(v);
  b.add(frames, 200, f(1));
  b.add(frames, 200, f(3));
  assert.ok(b.speechSeconds >= 1);
  assert.is(b.stats(), null, 'two utterances: warm by speech, but not yet for the functionals');
  b.add(frames, 200, f(5));
  const s = b.stats()!.functionals!;
  assert.ok(s, 'three utterances: statistics');
  // decayed weights: every utterance here is 2 s of a 600 s half-life, so the mean is close to 3
  assert.ok(Math.abs(s.mean[0] - 3) < 0.01, `mean ${s.mean[0]}`);
  assert.ok(Math.abs(1 / s.invStd[0] - Math.sqrt(8 / 3)) < 0.02, `std ${1 / s.invStd[0]}`);
  const again = new SpeakerBaseline(2, 0.01, 'k', { warmupSeconds: 1 }, n);
  assert.is(again.restore(JSON.parse(JSON.stringify(b.snapshot()))), null);
  assert.equal([...again.stats()!.functionals!.mean], [...s.mean]);
  // a snapshot of a model without a head restores the frames and starts the functionals cold
  const plain = new SpeakerBaseline(2, 0.01, 'k', { warmupSeconds: 1 });
  plain.add(frames, 200);
  const cold = new SpeakerBaseline(2, 0.01, 'k', { warmupSeconds: 1 }, n);
  assert.is(cold.restore(JSON.parse(JSON.stringify(plain.snapshot()))), null);
  assert.is(cold.stats(), null, 'frames restored, functionals cold');
  assert.ok(cold.speechSeconds > 1);
  b.reset();
  assert.is(b.stats(), null);
});

/** The shipped model with a functional head whose bias names `label` and whose fusion weight is 1: its answer shows when it speaks. */
function headedModel(label: string, calibration?: { temperature: number; fusedTemperature?: number }, file = 'headed.json'): string {
  const meta = JSON.parse(readFileSync(join(ROOT, 'models/earshot-crnn.json'), 'utf8'));
  if (calibration) meta.calibration = { ...calibration, fittedOn: 'test' };
  else delete meta.calibration;
  copyFileSync(join(ROOT, 'models/earshot-crnn.onnx'), join(tmp, meta.onnx.file));
  meta.functionalHead = {
    kind: 'logistic',
    functionals: FUNCTIONAL_NAMES,
    weights: meta.labels.map(() => new Array(FUNCTIONAL_NAMES.length).fill(0)),
    bias: meta.labels.map((l: string) => (l === label ? 10 : 0)),
    fusionWeight: 1,
  };
  const path = join(tmp, file);
  writeFileSync(path, JSON.stringify(meta));
  return path;
}

test('pipeline: the functional head is silent while the baseline is cold and answers once it is warm (real clips)', async () => {
  const classifier = await EmotionClassifier.load(headedModel('disgust'));
  assert.ok(classifier.head);
  const p = new EmotionPipeline({ classifier, config: parsePipelineConfig({ adaptation: { warmupSeconds: 4 } }) });
  assert.ok(p.baseline, 'a model with a head keeps a baseline even though it normalises per utterance');
  const names = ['03-01-01-01-01-01-03', '03-01-05-02-01-01-03', '03-01-04-01-02-02-03', '03-01-03-01-01-02-03', '03-01-08-02-02-01-03', '03-01-06-01-01-01-03'];
  const segments = [];
  for (const name of names) segments.push(...(await analyzeFile(join(DATA, 'ravdess/Actor_03', `${name}.flac`), p, { adapt: true })).segments);
  const cold = segments.filter((s) => !s.adapted);
  const warm = segments.filter((s) => s.adapted);
  assert.ok(cold.length >= 3 && warm.length >= 1, `cold ${cold.length}, warm ${warm.length}`);
  assert.ok(cold.some((s) => s.label !== 'disgust'), `cold: ${cold.map((s) => s.label)}`);
  for (const s of warm) assert.is(s.label, 'disgust', 'warm: the head (weight 1) decides');
  assert.ok(p.baseline!.snapshot().functionals, 'the baseline keeps the functionals for the state directory');
  await classifier.close();
});

test('functional head fusion: the arithmetic mean by default, the weighted geometric mean renormalised with fusion geometric', () => {
  // a head with no weights: its probabilities are softmax(bias) = [0.1, 0.2, 0.7] whatever the functionals
  const bias = [Math.log(0.1), Math.log(0.2), Math.log(0.7)];
  const spec = (fusion?: string) => ({ kind: 'logistic' as const, functionals: FUNCTIONAL_NAMES, weights: bias.map(() => new Array(FUNCTIONAL_NAMES.length).fill(0)), bias, fusionWeight: 0.25, trainedOn: '', ...(fusion ? { fusion } : {}) });
  const stats = { mean: new Float64Array(FUNCTIONAL_NAMES.length), invStd: new Float64Array(FUNCTIONAL_NAMES.length).fill(1) };
  const net = [0.6, 0.3, 0.1];
  const mean = Float32Array.from(net);
  const fc = { melBands: 40, hopLength: 160, sampleRate: 16000 };
  new FunctionalHead(functionalHeadSchema.parse(spec()), 3, featureNames(), fc).fuse(mean, stats);
  [0.75 * 0.6 + 0.25 * 0.1, 0.75 * 0.3 + 0.25 * 0.2, 0.75 * 0.1 + 0.25 * 0.7].forEach((v, k) => assert.ok(Math.abs(mean[k] - v) < 1e-6, `mean ${k}: ${mean[k]} vs ${v}`));
  const geo = Float32Array.from(net);
  new FunctionalHead(functionalHeadSchema.parse(spec('geometric')), 3, featureNames(), fc).fuse(geo, stats);
  const g = net.map((p, k) => p ** 0.75 * [0.1, 0.2, 0.7][k] ** 0.25);
  g.forEach((v, k) => assert.ok(Math.abs(geo[k] - v / g.reduce((a, b) => a + b, 0)) < 1e-6, `geometric ${k}: ${geo[k]}`));
  assert.throws(() => functionalHeadSchema.parse(spec('median')));
});

test('functional head: a model whose frontend has other mel bands or another frame rate is refused with E_MODEL', () => {
  const spec = functionalHeadSchema.parse({ kind: 'logistic', functionals: FUNCTIONAL_NAMES, weights: [0, 1, 2].map(() => new Array(FUNCTIONAL_NAMES.length).fill(0)), bias: [0, 0, 0], fusionWeight: 0.25 });
  const refused = (fc: { melBands: number; hopLength: number; sampleRate: number }, names: string[], why: RegExp) =>
    assert.throws(() => new FunctionalHead(spec, 3, names, fc), (e: Error & { code?: string }) => e.code === 'E_MODEL' && why.test(e.message));
  // 64 bands: the names mel0..mel39 are all there, so only the frontend check can tell
  const mel64 = [...Array.from({ length: 64 }, (_, k) => `mel${k}`), 'rms', 'zcr', 'f0', 'voicing'];
  refused({ melBands: 64, hopLength: 160, sampleRate: 16000 }, mel64, /40 mel bands at 100 frames\/s, but this model's frontend has 64 mel bands/);
  refused({ melBands: 40, hopLength: 320, sampleRate: 16000 }, featureNames(), /has 40 mel bands at 50 frames\/s \(hopLength 320 at 16000 Hz\)/);
  refused({ melBands: 40, hopLength: 160, sampleRate: 8000 }, featureNames(), /at 50 frames\/s/);
  new FunctionalHead(spec, 3, featureNames(), { melBands: 40, hopLength: 480, sampleRate: 48000 }); // 100 frames/s at 48 kHz is the same frame rate
});

test('calibration of a headed model: the fused temperature tempers the fused probabilities only, the network alone keeps its own', async () => {
  const plain = await EmotionClassifier.load(headedModel('disgust'));
  const hot = await EmotionClassifier.load(headedModel('disgust', { temperature: 1, fusedTemperature: 20 }, 'headed-t.json'));
  assert.is(hot.fusedTemperature, 20);
  assert.is(hot.temperature, 1);
  const names = ['03-01-01-01-01-01-03', '03-01-05-02-01-01-03', '03-01-04-01-02-02-03', '03-01-03-01-01-02-03', '03-01-08-02-02-01-03'];
  const run = async (c: EmotionClassifier) => {
    const p = new EmotionPipeline({ classifier: c, config: parsePipelineConfig({ adaptation: { warmupSeconds: 4 } }) });
    const segments = [];
    for (const name of names) segments.push(...(await analyzeFile(join(DATA, 'ravdess/Actor_03', `${name}.flac`), p, { adapt: true })).segments);
    return segments;
  };
  const a = await run(plain);
  const b = await run(hot);
  assert.is(a.length, b.length);
  let warm = 0;
  a.forEach((s, i) => {
    assert.is(b[i].adapted, s.adapted);
    if (!s.adapted) {
      assert.ok(Math.abs(b[i].confidence - s.confidence) < 1e-6, 'cold: the network alone, untouched');
    } else {
      warm++;
      // the head (bias 10, weight 1) says disgust at ~0.9997; at T = 20 the 8 classes are nearly even
      assert.ok(s.confidence > 0.99, `fused, uncalibrated ${s.confidence}`);
      assert.is(b[i].label, 'disgust');
      assert.ok(b[i].confidence < 0.3, `fused at T = 20: ${b[i].confidence}`);
    }
  });
  assert.ok(warm >= 1, 'some segments were fused');
  await plain.close();
  await hot.close();
});

test.run();
