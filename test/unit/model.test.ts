import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEarshotError } from '../../src/core/errors.ts';
import { listModels, loadModel, modelMetadataSchema, resolveModelPath } from '../../src/runtime/model/metadata.ts';
import { confusionMatrix, scoreConfusion, sd } from '../../src/training/metrics.ts';
import { EmotionClassifier, softmax, stretchedLength, stretchFrames } from '../../src/runtime/model/session.ts';
import { confusionSvg } from '../../src/training/confusion-svg.ts';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { Frontend } from '../../src/runtime/frontend/frontend.ts';
import { speechSpans } from '../../src/runtime/vad/speech-spans.ts';
import { DATA } from '../helpers/paths.ts';
import { MODELS_DIR } from '../../src/core/paths.ts';

// A real exported model (earshot_train on RAVDESS actors 01-02), committed as a test fixture.
const FIXTURE = new URL('../fixtures/models/', import.meta.url).pathname;
const NAME = 'tiny-lstm';

function tempModelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-model-'));
  copyFileSync(join(FIXTURE, `${NAME}.json`), join(dir, `${NAME}.json`));
  copyFileSync(join(FIXTURE, `${NAME}.onnx`), join(dir, `${NAME}.onnx`));
  return dir;
}

function expectModelError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
    assert.unreachable('expected E_MODEL');
  } catch (e) {
    assert.ok(isEarshotError(e), String(e));
    assert.is(e.code, 'E_MODEL');
    assert.match(e.message, pattern);
  }
}

test('metrics: accuracy, UAR, macro F1 and per-class scores from a known confusion matrix', () => {
  const labels = ['a', 'b', 'c'];
  const truth = ['a', 'a', 'a', 'a', 'b', 'b', 'c', 'c'];
  const pred = ['a', 'a', 'a', 'b', 'b', 'a', 'c', 'a'];
  const m = scoreConfusion(labels, confusionMatrix(labels, truth, pred));
  assert.equal(m.confusion.matrix, [[3, 1, 0], [1, 1, 0], [1, 0, 1]]);
  assert.is(m.n, 8);
  assert.is(m.accuracy, 5 / 8);
  assert.ok(Math.abs(m.uar - (3 / 4 + 1 / 2 + 1 / 2) / 3) < 1e-12);
  assert.ok(Math.abs(m.perClass.a.precision - 3 / 5) < 1e-12);
  assert.is(m.perClass.c.precision, 1);
  const f1a = (2 * (3 / 5) * (3 / 4)) / (3 / 5 + 3 / 4);
  assert.ok(Math.abs(m.perClass.a.f1 - f1a) < 1e-12);
  assert.is(m.perClass.b.support, 2);
  assert.ok(Math.abs(sd([0.6, 0.7, 0.8]) - 0.1) < 1e-12);
  const svg = confusionSvg(m, 'test <model>');
  assert.match(svg, /^<svg/);
  assert.match(svg, /test &lt;model&gt;/);
  assert.is((svg.match(/<rect x=/g) ?? []).length, 9);
});

test('softmax is stable for large logits and sums to 1', () => {
  const p = softmax([1000, 1001, 999], new Float32Array(3));
  assert.ok(Math.abs(p[0] + p[1] + p[2] - 1) < 1e-6);
  assert.ok(p[1] > p[0] && p[0] > p[2]);
});

test('metadata: the fixture validates; resolution by name and by path; missing model lists what exists', () => {
  const dir = tempModelDir();
  try {
    assert.equal(listModels(dir), [NAME]);
    // the shipped crowd detector (a JSON and an ONNX, no labels) is not an emotion model to offer
    copyFileSync(join(MODELS_DIR, 'earshot-crowd.json'), join(dir, 'earshot-crowd.json'));
    copyFileSync(join(MODELS_DIR, 'earshot-crowd.onnx'), join(dir, 'earshot-crowd.onnx'));
    assert.equal(listModels(dir), [NAME]);
    const m = loadModel(NAME, dir);
    assert.is(m.meta.name, NAME);
    assert.is(m.frontend.sampleRate, 16000);
    assert.is(loadModel(join(dir, `${NAME}.onnx`)).meta.name, NAME);
    expectModelError(() => resolveModelPath('nope', dir), new RegExp(`Available in .*: ${NAME}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('metadata: a changed .onnx (sha256), an unbuildable frontend and a bad field are refused with E_MODEL', () => {
  const dir = tempModelDir();
  try {
    const onnx = join(dir, `${NAME}.onnx`);
    const bytes = readFileSync(onnx);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(onnx, bytes);
    expectModelError(() => loadModel(NAME, dir), /sha256 .* expects/);
    copyFileSync(join(FIXTURE, `${NAME}.onnx`), onnx);
    const jsonPath = join(dir, `${NAME}.json`);
    const good = JSON.parse(readFileSync(jsonPath, 'utf8'));
    writeFileSync(jsonPath, JSON.stringify({ ...good, frontend: { ...good.frontend, hopLength: 4000 } }));
    expectModelError(() => loadModel(NAME, dir), /frontend.hopLength/);
    writeFileSync(jsonPath, JSON.stringify({ ...good, normalization: { ...good.normalization, mean: [0] } }));
    expectModelError(() => loadModel(NAME, dir), /normalization.mean: has 1 values/);
    assert.ok(modelMetadataSchema.safeParse(good).success);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('session: classifies features into probabilities over the labels; a bad input is refused', async () => {
  const c = await EmotionClassifier.load(join(FIXTURE, `${NAME}.json`));
  try {
    const frames = 120;
    const x = new Float32Array(frames * c.dim);
    for (let i = 0; i < x.length; i++) x[i] = c.meta.normalization.mean[i % c.dim] + Math.sin(i) * c.meta.normalization.std[i % c.dim];
    const r = await c.classify(x, frames);
    assert.is(r.probabilities.length, c.labels.length);
    const sum = r.probabilities.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5);
    assert.is(r.confidence, Math.max(...r.probabilities));
    assert.is(r.label, c.labels[r.probabilities.indexOf(r.confidence)]);
    const first = Float32Array.from(r.probabilities);
    const again = await c.classify(x, frames);
    assert.equal(Array.from(again.probabilities), Array.from(first), 'same input, same output');
    try {
      await c.classify(x, frames * 2);
      assert.unreachable();
    } catch (e) {
      assert.ok(isEarshotError(e));
    }
  } finally {
    await c.close();
  }
});

test('per-utterance CMVN makes the model blind to the input level (amplitude normalisation is built in); global normalisation is not', async () => {
  const dir = tempModelDir();
  try {
    const meta = JSON.parse(readFileSync(join(dir, `${NAME}.json`), 'utf8'));
    const audio = await decodeAudioFile(join(DATA, 'ravdess/Actor_07/03-01-05-02-02-01-07.flac'));
    const frontend = new Frontend(loadModel(join(dir, `${NAME}.json`)).frontend);
    const [span] = speechSpans(audio.samples, frontend.config);
    const gains = [1, 0.25, 2];
    const probs: Record<string, number[][]> = {};
    for (const mode of ['utterance', 'global']) {
      writeFileSync(join(dir, `${NAME}.json`), JSON.stringify({ ...meta, normalization: { ...meta.normalization, mode } }));
      const c = await EmotionClassifier.load(join(dir, `${NAME}.json`));
      try {
        probs[mode] = [];
        for (const g of gains) {
          frontend.reset();
          const f = frontend.computeAll(Float32Array.from(audio.samples, (v) => v * g));
          const seg = f.subarray(span[0] * c.dim, span[1] * c.dim);
          probs[mode].push(Array.from((await c.classify(seg, span[1] - span[0])).probabilities));
        }
      } finally {
        await c.close();
      }
    }
    const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    for (const k of [1, 2]) assert.ok(maxDiff(probs.utterance[0], probs.utterance[k]) < 1e-3, `utterance CMVN, gain ${gains[k]}: ${maxDiff(probs.utterance[0], probs.utterance[k])}`);
    assert.ok(maxDiff(probs.global[0], probs.global[1]) > 1e-2, 'global normalisation does see the level (so the test can tell)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stretchFrames resamples in time by linear interpolation, as earshot_train\'s tempo augmentation', () => {
  // 5 frames of 2 features: column 0 = t, column 1 = 10 t
  const src = Float32Array.from({ length: 10 }, (_, i) => (i % 2 ? 10 : 1) * Math.floor(i / 2));
  const out = new Float32Array(20);
  assert.is(stretchedLength(5, 0.5), 10);
  const n = stretchFrames(src, 5, 2, 0.5, out);
  assert.is(n, 10);
  // numpy: linspace(0, 4, 10) -> 0, 4/9, 8/9, ...; the interpolation is exact on a linear ramp
  for (let t = 0; t < n; t++) {
    assert.ok(Math.abs(out[t * 2] - (4 * t) / 9) < 1e-6, `frame ${t}: ${out[t * 2]}`);
    assert.ok(Math.abs(out[t * 2 + 1] - (40 * t) / 9) < 1e-5);
  }
  assert.is(stretchFrames(src, 5, 2, 1.1, out), 5, 'round(5 / 1.1) = 5');
  assert.is(stretchFrames(src, 5, 2, 4, out), 2, 'never fewer than 2 frames');
  assert.equal([out[0], out[2]], [0, 4], 'first and last frames kept');
});

test('test-time augmentation (metadata tta): the mean of one run per (tempo, shift) variant; tta: false runs once', async () => {
  const dir = tempModelDir();
  try {
    const meta = JSON.parse(readFileSync(join(dir, `${NAME}.json`), 'utf8'));
    const tta = { tempo: [0.9, 1, 1.1], shiftFrames: [0, 2] };
    writeFileSync(join(dir, `${NAME}.json`), JSON.stringify({ ...meta, tta }));
    const audio = await decodeAudioFile(join(DATA, 'ravdess/Actor_07/03-01-05-02-02-01-07.flac'));
    const withTta = await EmotionClassifier.load(join(dir, `${NAME}.json`));
    const plain = await EmotionClassifier.load(join(dir, `${NAME}.json`), { tta: false });
    try {
      assert.is(withTta.tta.length, 6);
      assert.is(plain.tta.length, 0);
      const frontend = new Frontend(withTta.model.frontend);
      const f = frontend.computeAll(audio.samples);
      const [span] = speechSpans(audio.samples, frontend.config);
      const d = withTta.dim;
      const seg = f.slice(span[0] * d, span[1] * d);
      const frames = span[1] - span[0];
      const got = Array.from((await withTta.classify(seg, frames)).probabilities);
      const once = Array.from((await plain.classify(seg, frames)).probabilities);
      const want = new Array(got.length).fill(0);
      for (const tempo of tta.tempo) {
        for (const shift of tta.shiftFrames) {
          const src = seg.subarray(shift * d);
          const out = new Float32Array(stretchedLength(frames - shift, tempo) * d);
          const n = tempo === 1 ? frames - shift : stretchFrames(src, frames - shift, d, tempo, out);
          const p = (await plain.classify(tempo === 1 ? src : out, n)).probabilities;
          for (let k = 0; k < want.length; k++) want[k] += p[k] / 6;
        }
      }
      for (let k = 0; k < got.length; k++) assert.ok(Math.abs(got[k] - want[k]) < 1e-6, `class ${k}: ${got[k]} vs ${want[k]}`);
      assert.ok(Math.max(...got.map((v, k) => Math.abs(v - once[k]))) > 1e-4, 'and it differs from a single run (so the test can tell)');
      assert.ok(Math.abs(got.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    } finally {
      await withTta.close();
      await plain.close();
    }
    writeFileSync(join(dir, `${NAME}.json`), JSON.stringify({ ...meta, tta, window: { ...meta.window, fixed: true } }));
    expectModelError(() => loadModel(join(dir, `${NAME}.json`)), /tta/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
