// The crowd detector (issue 32): pipeline.crowd suppress / mark / off with a scorer the test
// controls (the tiny fixture model classifies); the event payload carries `crowd: true` only when
// marked; the shipped detector loads, accepts the default model's frontend and refuses another; a
// missing or corrupt detector is E_MODEL (exit 66) naming the file and what to do.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EarshotError, exitStatusOf } from '../../src/core/errors.ts';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { CrowdDetector, CROWD_MODEL_PATH, openCrowdDetector, type CrowdScorer } from '../../src/runtime/model/crowd.ts';
import { loadModel } from '../../src/runtime/model/metadata.ts';
import { EmotionClassifier } from '../../src/runtime/model/session.ts';
import { parsePipelineConfig, PIPELINE_DEFAULTS, type CrowdMode } from '../../src/runtime/pipeline/config.ts';
import { EmotionPipeline } from '../../src/runtime/pipeline/pipeline.ts';
import { toEmotionEvent } from '../../src/runtime/publish/from-pipeline.ts';
import { emotionEventSchema } from '../../src/runtime/publish/payloads.ts';
import { keptAt, thresholdKeeping } from '../../src/training/crowd-eval.ts';
import { DATA, ROOT } from '../helpers/paths.ts';
import { runPipeline } from '../helpers/pipeline-run.ts';

const TINY = join(ROOT, 'test/fixtures/models/tiny-lstm.json');
const classifier = await EmotionClassifier.load(TINY);
// two RAVDESS utterances with a second of silence around each: two segments
const parts = await Promise.all(['Actor_05/03-01-05-02-01-01-05.flac', 'Actor_10/03-01-07-02-02-02-10.flac'].map(async (c) => (await decodeAudioFile(join(DATA, 'ravdess', c))).samples));
const gap = 16000;
const audio = new Float32Array(parts.reduce((a, p) => a + p.length + gap, gap));
parts.reduce((at, p) => (audio.set(p, at), at + p.length + gap), gap);

/** Scores each segment in turn from `scores` (threshold 0: negative = crowd), counting the calls. */
function scorer(scores: number[]): CrowdScorer & { calls: number } {
  return {
    threshold: 0,
    calls: 0,
    async score(features: Float32Array, frames: number) {
      assert.is(features.length, frames * classifier.dim, 'the segment frames, as the classifier gets them');
      return scores[this.calls++ % scores.length];
    },
  };
}

async function run(crowd: CrowdMode, s: CrowdScorer | null) {
  return runPipeline(new EmotionPipeline({ classifier, crowd: s, config: parsePipelineConfig({ crowd }) }), audio);
}

test('suppress: a segment below the threshold is not published, but counted and reported; the others are', async () => {
  const s = scorer([-1, 2]);
  const { results, held, stats } = await run('suppress', s);
  assert.is(s.calls, 2);
  assert.is(results.length, 1);
  assert.is(results[0].crowd, undefined);
  assert.equal(held, [-1]);
  assert.is(stats.crowdSuppressed, 1);
  assert.is(stats.segments, 2);
});

test('mark: every segment is published, the crowd one with crowd: true, which the event carries (and validates)', async () => {
  const { results, stats } = await run('mark', scorer([-1, 2]));
  assert.equal(results.map((r) => r.crowd), [true, undefined]);
  assert.is(stats.crowdMarked, 1);
  const events = results.map((r, i) => toEmotionEvent(r, `x-${i}`));
  assert.is(events[0].crowd, true);
  assert.not.ok('crowd' in events[1], 'a one-talker event stays as small as before');
  for (const e of events) emotionEventSchema.parse(e);
  assert.throws(() => emotionEventSchema.parse({ ...events[1], crowd: false }));
});

test('off, or no detector: the scorer is never called and nothing is marked', async () => {
  const s = scorer([-1]);
  const off = await run('off', s);
  assert.is(s.calls, 0);
  assert.is(off.results.length, 2);
  const none = await run('suppress', null);
  assert.equal(none.results.map((r) => r.crowd), [undefined, undefined]);
});

test('the default is "mark"', () => {
  assert.is(PIPELINE_DEFAULTS.crowd, 'mark');
  assert.throws(() => parsePipelineConfig({ crowd: 'drop' }), /crowd/);
});

test('the shipped detector: loads, fits the default model frontend, refuses the tiny model frontend; one score per utterance', async () => {
  const d = await CrowdDetector.load();
  try {
    assert.is(d.dim, 44);
    assert.ok(Number.isFinite(d.threshold));
    d.checkFrontend(loadModel().frontend, 'earshot-crnn');
    assert.throws(() => d.checkFrontend(classifier.model.frontend, 'tiny-lstm'), (e: unknown) => e instanceof EarshotError && e.code === 'E_CONFIG' && /pipeline\.crowd: off/.test(e.message));
    const frames = Float32Array.from({ length: 120 * d.dim }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.37));
    const a = await d.score(frames, 120);
    assert.ok(Number.isFinite(a));
    // the feature preparation is in the graph: a gain (all log-mels + c, rms * e^(c/2)) does not move the score
    const louder = Float32Array.from(frames, (v, i) => (i % d.dim < 40 ? v + 2 : i % d.dim === 40 ? v * Math.E : v));
    assert.ok(Math.abs((await d.score(louder, 120)) - a) < 1e-3);
  } finally {
    await d.close();
  }
});

test('openCrowdDetector: off loads nothing; another frontend is an error for suppress, a warning for mark', async () => {
  const frontend = classifier.model.frontend;
  assert.is(await openCrowdDetector('off', frontend, 'tiny-lstm', () => assert.unreachable()), null);
  const err = await openCrowdDetector('suppress', frontend, 'tiny-lstm', () => {}).then(() => null, (e: unknown) => e);
  assert.match(String(err), /trained on another frontend/);
  const warnings: string[] = [];
  assert.is(await openCrowdDetector('mark', frontend, 'tiny-lstm', (m) => warnings.push(m)), null);
  assert.match(warnings[0], /published unmarked/);
});

test('a missing or corrupt detector: E_MODEL (exit 66) naming the file and what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-crowd-'));
  try {
    const json = join(dir, 'earshot-crowd.json');
    const expectModelError = async (re: RegExp) => {
      const e = (await CrowdDetector.load(json).then(() => null, (err: unknown) => err)) as EarshotError;
      assert.ok(e instanceof EarshotError, String(e));
      assert.is(e.code, 'E_MODEL');
      assert.is(exitStatusOf(e), 66);
      assert.match(e.message, re);
      assert.match(e.message, /pipeline\.crowd: off/);
    };
    await expectModelError(new RegExp(`${json.replace(/[.]/g, '\\.')} is missing`));
    copyFileSync(CROWD_MODEL_PATH, json);
    await expectModelError(/earshot-crowd\.onnx is missing/);
    writeFileSync(join(dir, 'earshot-crowd.onnx'), 'not a model');
    await expectModelError(/earshot-crowd\.onnx does not match the sha256/);
    writeFileSync(json, '{"name": "x"');
    await expectModelError(/invalid metadata .*earshot-crowd\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vad-eval --crowd thresholds: the highest keeping a share of the clean scores', () => {
  const scores = Array.from({ length: 100 }, (_, i) => i / 10);
  const t = thresholdKeeping(scores, 0.97);
  assert.is(keptAt(scores, t), 0.97);
  assert.ok(keptAt(scores, t + 0.05) < 0.97);
  assert.is(keptAt(scores, thresholdKeeping(scores, 1)), 1);
});

test.run();
