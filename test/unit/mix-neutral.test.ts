// `earshot eval --adapt --mix-neutral S` (issue 28): unscored neutral/calm clips of each speaker stream
// between the scored ones, so the speaker baseline hears mostly neutral talk, as on a device.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EmotionClassifier } from '../../src/runtime/model/session.ts';
import { filterSpeakers, loadCorpus } from '../../src/training/corpus/index.ts';
import { evaluateItems } from '../../src/training/evaluate.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const items = filterSpeakers(loadCorpus('emodb', join(DATA, 'emodb')), ['03']);

test('mix-neutral warms the baseline on neutral talk: same clips scored, fewer of them in warm-up, other answers', async () => {
  const c = await EmotionClassifier.load(join(ROOT, 'models/earshot-crnn.json'));
  try {
    const balanced = await evaluateItems(c, items, { corpus: 'emodb', adapt: true });
    const mixed = await evaluateItems(c, items, { corpus: 'emodb', adapt: true, mixNeutral: 0.7 });
    assert.is(mixed.n, balanced.n);
    assert.equal(mixed.predictions.map((p) => p.name), balanced.predictions.map((p) => p.name), 'the scored clips and their order do not change');
    assert.ok(mixed.adaptation!.warmup.n < balanced.adaptation!.warmup.n, `warm-up clips ${mixed.adaptation!.warmup.n} (mixed) vs ${balanced.adaptation!.warmup.n}`);
    const moved = mixed.predictions.filter((p, k) => Math.abs(p.probabilities[0] - balanced.predictions[k].probabilities[0]) > 1e-6).length;
    assert.ok(moved > 0, 'the baseline heard something else, so some answers change');
  } finally {
    await c.close();
  }
});

test('mix-neutral needs --adapt and a share in (0, 0.95]', async () => {
  const c = await EmotionClassifier.load(join(ROOT, 'models/earshot-crnn.json'));
  try {
    for (const [opts, re] of [
      [{ mixNeutral: 0.7 }, /only with --adapt/],
      [{ adapt: true, mixNeutral: 1 }, /between 0 and 0.95/],
    ] as const) {
      try {
        await evaluateItems(c, items.slice(0, 2), { corpus: 'emodb', ...opts });
        assert.unreachable('accepted');
      } catch (e) {
        assert.match((e as Error).message, re);
      }
    }
  } finally {
    await c.close();
  }
});

test.run();
