// `earshot eval --crowd suppress|mark` (issue 32): the crowd detector runs as pipeline.crowd does, and
// the report says which clips got an answer and scores them alone.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EmotionClassifier } from '../../src/runtime/model/session.ts';
import { filterSpeakers, loadCorpus } from '../../src/training/corpus/index.ts';
import { evaluateItems } from '../../src/training/evaluate.ts';
import { loadBabblePool } from '../../src/training/noise.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const ravdess = loadCorpus('ravdess', join(DATA, 'ravdess'));
// 12 clips of actor 01; babble from 6 other actors (2 clips each)
const items = filterSpeakers(ravdess, ['01']).filter((_, k) => k % 5 === 0).slice(0, 12);
const babbleItems = ['05', '06', '07', '08', '09', '10'].flatMap((a) => filterSpeakers(ravdess, [a]).slice(0, 2));

test('crowd: clean speech is answered; under loud babble suppress holds utterances back and mark marks them', async () => {
  const c = await EmotionClassifier.load(join(ROOT, 'models/earshot-crnn.json'));
  const babblePool = await loadBabblePool(babbleItems);
  try {
    const clean = await evaluateItems(c, items, { corpus: 'ravdess', crowd: 'suppress' });
    assert.is(clean.crowd!.clips, items.length);
    assert.ok(clean.crowd!.answered >= items.length - 1, `clean: ${clean.crowd!.answered} of ${items.length} answered`);
    const noisy = { corpus: 'ravdess' as const, noise: 'babble' as const, noiseSnrDb: -10, babblePool, excludeSpeakers: ['01'] };
    const suppressed = await evaluateItems(c, items, { ...noisy, crowd: 'suppress' });
    assert.ok(suppressed.crowd!.heldBack > 0, 'babble 10 dB over the talker: something is held back');
    assert.ok(suppressed.crowd!.answered < items.length, `${suppressed.crowd!.answered} of ${items.length} answered`);
    assert.is(suppressed.crowd!.onAnswered.n, suppressed.crowd!.answered);
    const marked = await evaluateItems(c, items, { ...noisy, crowd: 'mark' });
    assert.is(marked.crowd!.heldBack, 0);
    assert.is(marked.crowd!.marked, suppressed.crowd!.heldBack, 'the same utterances are marked instead');
    const off = await evaluateItems(c, items.slice(0, 2), { corpus: 'ravdess' });
    assert.is(off.crowd, undefined);
  } finally {
    await c.close();
  }
});

test('crowd: a run the flags refuse is refused before the detector is opened (its error is not the one shown)', async () => {
  // earshot-lstm has another frontend than the detector: under suppress, opening the detector fails
  const lstm = await EmotionClassifier.load(join(ROOT, 'models/earshot-lstm.json'));
  const refusal = (opts: Parameters<typeof evaluateItems>[2]) => evaluateItems(lstm, items.slice(0, 2), opts).then(() => 'ran', (e: Error & { code?: string }) => `${e.code}: ${e.message}`);
  try {
    assert.match(await refusal({ corpus: 'ravdess', crowd: 'suppress' }), /^E_CONFIG: pipeline.crowd: .*another frontend/, 'the detector is opened when the flags are fine');
    assert.match(await refusal({ corpus: 'ravdess', crowd: 'suppress', mixNeutral: 0.7 }), /^E_USAGE: --mix-neutral: only with --adapt/);
    assert.match(await refusal({ corpus: 'ravdess', crowd: 'suppress', adapt: true }), /^E_CONFIG: --adapt: model earshot-lstm normalises per/);
  } finally {
    await lstm.close();
  }
});

test.run();
