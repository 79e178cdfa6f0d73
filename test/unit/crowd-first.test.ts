// Crowds and cost (issue 32, second pass): under pipeline.crowd "suppress" the crowd detector runs
// first and the emotion model never sees an utterance it holds back, while a one-talker utterance
// gets exactly the answer it got before; under "mark" both run. An utterance the detector calls
// crowd leaves the speaker baseline and the smoothed emotion state as they were (mark and
// suppress). `analyzeFile` carries the crowd
// flag per segment and the counts per file. The tiny committed model classifies; the detector is a
// scorer the test controls (its scores and the order of the calls are recorded).
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatAnalysis } from '../../src/commands/analyze.ts';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { SpeakerBaseline } from '../../src/runtime/model/baseline.ts';
import type { CrowdScorer } from '../../src/runtime/model/crowd.ts';
import { EmotionClassifier } from '../../src/runtime/model/session.ts';
import { analyzeFile } from '../../src/runtime/pipeline/analyze-file.ts';
import { parsePipelineConfig, type CrowdMode, type PipelineConfigInput } from '../../src/runtime/pipeline/config.ts';
import { EmotionPipeline } from '../../src/runtime/pipeline/pipeline.ts';
import { DATA, ROOT } from '../helpers/paths.ts';
import { runPipeline } from '../helpers/pipeline-run.ts';

const TINY = join(ROOT, 'test/fixtures/models/tiny-lstm.json');
const CLIPS = ['Actor_05/03-01-05-02-01-01-05.flac', 'Actor_10/03-01-07-02-02-02-10.flac'].map((c) => join(DATA, 'ravdess', c));
const classifier = await EmotionClassifier.load(TINY);
const fc = classifier.model.frontend;
const hopSec = fc.hopLength / fc.sampleRate;
// the two utterances with a second of silence around each: two segments
const parts = await Promise.all(CLIPS.map(async (c) => (await decodeAudioFile(c)).samples));
const gap = 16000;
const audio = new Float32Array(parts.reduce((a, p) => a + p.length + gap, gap));
parts.reduce((at, p) => (audio.set(p, at), at + p.length + gap), gap);

/** Every classify() and crowd score, in order ("classify", "crowd"). */
let calls: string[] = [];
const classify = classifier.classify.bind(classifier);
classifier.classify = (...args) => {
  calls.push('classify');
  return classify(...args);
};

/** Scores the segments in turn from `scores` (threshold 0: negative = crowd); keeps a copy of each segment's frames. */
function scorer(scores: number[]): CrowdScorer & { seen: Float32Array[] } {
  const seen: Float32Array[] = [];
  return {
    threshold: 0,
    seen,
    async score(features: Float32Array, frames: number) {
      calls.push('crowd');
      seen.push(features.slice(0, frames * classifier.dim));
      return scores[(seen.length - 1) % scores.length];
    },
  };
}

const newBaseline = () => new SpeakerBaseline(classifier.dim, hopSec, 'test');

async function run(crowd: CrowdMode, s: CrowdScorer | null, baseline: SpeakerBaseline | null = null, more: Omit<PipelineConfigInput, 'crowd'> = {}) {
  calls = [];
  const r = await runPipeline(new EmotionPipeline({ classifier, crowd: s, baseline, config: parsePipelineConfig({ ...more, crowd }) }), audio);
  return { ...r, calls };
}

const sums = (b: SpeakerBaseline) => {
  const { updated: _u, ...rest } = b.snapshot();
  return rest;
};

test('suppress: the detector runs first; a held-back utterance never reaches the emotion model', async () => {
  const { results, held, stats, calls } = await run('suppress', scorer([-1, 2]));
  assert.equal(calls, ['crowd', 'crowd', 'classify'], 'was classify, crowd, classify, crowd');
  assert.is(stats.classifications, 1);
  assert.is(stats.crowdSuppressed, 1, 'counted as before (earshot_crowd_suppressed_total)');
  assert.equal(held, [-1], "the same 'crowd' event");
  assert.is(results.length, 1);
  assert.is(stats.segments, 2);
  assert.ok(stats.modelMs!.emotion >= 0 && stats.modelMs!.crowd >= 0);
});

test('suppress: a one-talker utterance gets exactly the answer it gets without the detector', async () => {
  const kept = (await run('suppress', scorer([-1, 2]))).results[0];
  const all = await run('off', null);
  assert.is(all.stats.classifications, 2);
  // all but the counters and the wall-clock times
  const { seq: _a, latencyMs: _b, inferenceLatencyMs: _c, start: _d, end: _e, ...got } = kept;
  const { seq: _f, latencyMs: _g, inferenceLatencyMs: _h, start: _i, end: _j, ...want } = all.results[1];
  assert.equal(got, want);
  // and with every utterance let through, the same answers as without a detector
  const through = await run('suppress', scorer([2]));
  assert.equal(through.calls, ['crowd', 'classify', 'crowd', 'classify']);
  assert.equal(through.results.map((r) => r.probabilities), all.results.map((r) => r.probabilities));
});

test('mark: both run for every utterance, the emotion model first', async () => {
  const { results, stats, calls } = await run('mark', scorer([-1, 2]));
  assert.equal(calls, ['classify', 'crowd', 'classify', 'crowd']);
  assert.is(stats.classifications, 2);
  assert.equal(results.map((r) => r.crowd), [true, undefined]);
});

test('mark: an utterance called crowd leaves the speaker baseline unchanged', async () => {
  const b = newBaseline();
  const before = sums(b);
  const allCrowd = await run('mark', scorer([-1]), b);
  assert.equal(allCrowd.results.map((r) => r.crowd), [true, true], 'both published, marked');
  assert.equal(sums(b), before, 'nothing of the babble in the baseline');
  // one crowd, one talker: the baseline holds the talker's frames only
  const s = scorer([-1, 2]);
  const mixed = newBaseline();
  await run('mark', s, mixed);
  const expected = newBaseline();
  expected.add(s.seen[1], s.seen[1].length / classifier.dim);
  assert.equal(sums(mixed), sums(expected));
  assert.is(mixed.utterances, 1);
  // without a detector both utterances join it (the test can tell)
  const off = newBaseline();
  await run('off', null, off);
  assert.is(off.utterances, 2);
});

test('mark: an utterance called crowd is published but leaves the smoothed emotion state alone', async () => {
  // every answer counts (the tiny model's answers are below the default floors)
  const sure = { uncertainBelow: 0, smoothing: { minConfidence: 0, minDwellMs: 0, margin: 0 } };
  const talker = await run('mark', scorer([2]), null, sure);
  assert.ok(talker.states.length >= 1, 'one-talker utterances move the state');
  const babble = await run('mark', scorer([-1]), null, sure);
  assert.is(babble.results.length, talker.results.length, 'every utterance still published');
  assert.equal(babble.states, [], 'no state from babble');
  // babble first, then the talker: the one state is the talker's answer, as from a fresh smoother
  const mixed = await run('mark', scorer([-1, 2]), null, sure);
  assert.equal(mixed.results.map((r) => r.crowd), [true, undefined]);
  assert.is(mixed.states.length, 1);
  assert.equal(mixed.states[0].probabilities, mixed.results[1].probabilities);
});

test('suppress: a held-back utterance leaves the speaker baseline unchanged too', async () => {
  const b = newBaseline();
  await run('suppress', scorer([-1]), b);
  assert.equal(sums(b), sums(newBaseline()));
});

test('analyzeFile: the crowd flag per segment, the counts per file; formatAnalysis says so', async () => {
  const mark = new EmotionPipeline({ classifier, crowd: scorer([-1]), config: parsePipelineConfig({ crowd: 'mark' }) });
  assert.is(mark.crowdMode, 'mark');
  const a = await analyzeFile(CLIPS[0], mark, { wholeFile: false });
  assert.ok(a.segments.length >= 1 && a.segments.every((s) => s.crowd === true));
  assert.equal(a.crowd, { mode: 'mark', marked: a.segments.length, suppressed: 0 });
  assert.match(formatAnalysis(a, { timeline: true }), / {2}crowd$/m);
  const suppress = new EmotionPipeline({ classifier, crowd: scorer([-1]), config: parsePipelineConfig({ crowd: 'suppress' }) });
  const s = await analyzeFile(CLIPS[0], suppress, { wholeFile: false });
  assert.equal(s.segments, []);
  assert.equal(s.crowd, { mode: 'suppress', marked: 0, suppressed: a.segments.length });
  assert.match(formatAnalysis(s), /no verdict: 1 utterance\(s\) with no dominant talker held back/);
  // a one-talker file: no flag, nothing held back; no detector: no crowd field at all
  const clean = await analyzeFile(CLIPS[1], new EmotionPipeline({ classifier, crowd: scorer([2]), config: parsePipelineConfig({ crowd: 'mark' }) }), { wholeFile: false });
  assert.ok(clean.segments.every((seg) => !('crowd' in seg)));
  const none = await analyzeFile(CLIPS[1], new EmotionPipeline({ classifier, crowd: null }), { wholeFile: false });
  assert.not.ok('crowd' in none);
  assert.equal(none.segments, clean.segments);
});

test.run();
