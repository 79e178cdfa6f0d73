// pipeline.headMinSnrDb (issue 32, the babble gap): the functional head is fused only with
// utterances that stand clear of the room's noise floor; in babble or noise its prosody measurements
// fail, and the network answers alone. Checked on the default model (which has a head): the
// classifier is asked to fuse for speech over a quiet room, not for the same speech 5 dB over pink
// noise; with the setting 0 it is always asked.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { SpeakerBaseline } from '../../src/runtime/model/baseline.ts';
import { FUNCTIONAL_NAMES } from '../../src/runtime/model/functionals.ts';
import { EmotionClassifier } from '../../src/runtime/model/session.ts';
import { parsePipelineConfig } from '../../src/runtime/pipeline/config.ts';
import { EmotionPipeline, speechSnrDb } from '../../src/runtime/pipeline/pipeline.ts';
import { addNoise, mulberry32 } from '../../src/training/augment.ts';
import { DATA, ROOT } from '../helpers/paths.ts';
import { runPipeline } from '../helpers/pipeline-run.ts';

test('speechSnrDb: the frames mean power in the rms column over the floor; no floor yet: Infinity', () => {
  const dim = 3;
  const f = new Float32Array([9, 0.1, 9, 9, 0.1, 9]); // rms 0.1 = -20 dB in both frames
  assert.ok(Math.abs(speechSnrDb(f, 2, dim, 1, -60) - 40) < 1e-4);
  assert.ok(Math.abs(speechSnrDb(new Float32Array([0.1, 0.3]), 2, 1, 0, -20) - 10 * Math.log10((0.01 + 0.09) / 2) - 20) < 1e-4, 'power, not dB, is averaged');
  assert.is(speechSnrDb(f, 2, dim, 1, NaN), Infinity);
});

const classifier = await EmotionClassifier.load(join(ROOT, 'models/earshot-crnn.json'));
const clips = ['Actor_05/03-01-05-02-01-01-05.flac', 'Actor_10/03-01-07-02-02-02-10.flac', 'Actor_05/03-01-03-01-01-01-05.flac'];
const parts = await Promise.all(clips.map(async (c) => (await decodeAudioFile(join(DATA, 'ravdess', c))).samples));
const gap = 16000;
const speech = new Float32Array(parts.reduce((a, p) => a + p.length + gap, gap));
parts.reduce((at, p) => (speech.set(p, at), at + p.length + gap), gap);
// a quiet room (-70 dBFS noise), and the same speech 5 dB over pink noise
const quiet = addNoise(speech, 70 + 10 * Math.log10(speech.reduce((a, v) => a + v * v, 0) / speech.length), mulberry32(1));
const noisy = addNoise(speech, 5, mulberry32(2));

/** The fuseHead argument of every classify() the pipeline makes. */
async function asked(samples: Float32Array, headMinSnrDb?: number): Promise<boolean[]> {
  const seen: boolean[] = [];
  const classify = classifier.classify.bind(classifier);
  const spy = Object.create(classifier) as EmotionClassifier;
  spy.classify = (features, frames, baseline, fuseHead = true) => {
    seen.push(fuseHead);
    return classify(features, frames, baseline, fuseHead);
  };
  const config = parsePipelineConfig({ crowd: 'off', ...(headMinSnrDb !== undefined ? { headMinSnrDb } : {}) });
  await runPipeline(new EmotionPipeline({ classifier: spy, config }), samples);
  return seen;
}

test('the head is fused over a quiet room, not 5 dB over noise; headMinSnrDb 0 always fuses', async () => {
  const clean = await asked(quiet);
  assert.ok(clean.length >= 3, `${clean.length} utterances`);
  assert.ok(clean.every((x) => x), `quiet room: ${clean}`);
  const inNoise = await asked(noisy);
  assert.ok(inNoise.length >= 1);
  assert.ok(inNoise.every((x) => !x), `5 dB over noise: ${inNoise}`);
  assert.ok((await asked(noisy, 0)).every((x) => x), 'setting 0: the head always');
});

test('classify(..., fuseHead false) against a warm baseline answers as the network alone; the fused flag says which', async () => {
  const rng = mulberry32(5);
  const utterance = () => new Float32Array(150 * classifier.dim).map(() => rng() - 0.5);
  const baseline = new SpeakerBaseline(classifier.dim, 0.01, 'test', { warmupSeconds: 1 }, FUNCTIONAL_NAMES.length);
  for (let k = 0; k < 5; k++) {
    const f = utterance();
    const c = await classifier.classify(f, 150, null);
    baseline.add(f, 150, c.functionals);
  }
  const stats = baseline.stats();
  assert.ok(stats?.functionals, 'the baseline is warm');
  const f = utterance();
  const alone = Array.from((await classifier.classify(f, 150, null)).probabilities);
  const fused = await classifier.classify(f, 150, stats);
  assert.is(fused.fused, true);
  assert.not.equal(Array.from(fused.probabilities), alone, 'the head moves the answer');
  const refused = await classifier.classify(f, 150, stats, false);
  assert.is(refused.fused, false);
  assert.equal(Array.from(refused.probabilities), alone);
});

test.run();
