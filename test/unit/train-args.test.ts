import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { babbleExclusions, noiseKinds } from '../../src/training/feature-cache.ts';
import { parseFolds, RAVDESS_FOLDS } from '../../src/training/folds.ts';
import { SHIPPED_RECIPES } from '../../src/training/recipes.ts';
import { losoName, speakerGroups } from '../../src/training/run-train.ts';
import { MODEL_NAME } from '../../src/runtime/model/metadata.ts';
import { parseFrontendConfig } from '../../src/runtime/frontend/config.ts';
import { ROOT } from '../helpers/paths.ts';
import { EarshotError } from '../../src/core/errors.ts';

test('--folds accepts lists and ranges, as its help shows', () => {
  assert.equal(parseFolds('1-4;5,6, 7,8;19-20'), [['01', '02', '03', '04'], ['05', '06', '07', '08'], ['19', '20']]);
});

test('--folds refuses what is not an actor number or range', () => {
  for (const bad of ['a-b', '4-1', '1-4;x']) {
    try {
      parseFolds(bad);
      assert.unreachable(bad);
    } catch (e) {
      assert.instance(e, EarshotError);
      assert.match((e as Error).message, /--folds/);
    }
  }
});

test('`earshot train` with no --config / --train-args rebuilds the shipped models (their metadata records how they were trained)', () => {
  for (const [key, name] of [['crnn', 'earshot-crnn'], ['crnn-ravdess', 'earshot-crnn-ravdess'], ['crnn-large', 'earshot-crnn-large'], ['crnn-ensemble', 'earshot-crnn-ensemble'], ['lstm-attn', 'earshot-lstm']]) {
    const meta = JSON.parse(readFileSync(join(ROOT, 'models', `${name}.json`), 'utf8'));
    const recipe = SHIPPED_RECIPES[key];
    assert.is(meta.architecture, recipe.arch ?? key);
    // the functional head: there exactly when the recipe has one, combined as the recipe says
    assert.is(!!meta.functionalHead, !!recipe.head, `${name}: functional head`);
    if (recipe.head) {
      assert.is(meta.functionalHead.fusion ?? 'mean', recipe.head.fusion, `${name}: fusion`);
      assert.is(meta.functionalHead.fusionWeight, recipe.head.fusionWeight, `${name}: fusion weight`);
      assert.match(meta.functionalHead.trainedOn, new RegExp(`C=${recipe.head.C}\\b`), `${name}: head C`);
    }
    assert.equal(parseFrontendConfig(recipe.frontend), meta.frontend, `${name}: frontend`);
    const args = recipe.trainArgs.split(/\s+/);
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    assert.is(Number(value('--epochs')), meta.training.epochs, `${name}: epochs`);
    for (const [flag, key] of [['--hidden', 'hidden'], ['--max-frames', 'max_frames'], ['--norm', 'norm']]) {
      assert.is(String(meta.training.options[key]), value(flag), `${name}: ${flag}`);
    }
    assert.is(meta.training.options.channels ?? '', args.includes('--channels') ? value('--channels') : '', `${name}: --channels`);
    assert.is(meta.training.options.room ?? 0, args.includes('--room') ? Number(value('--room')) : 0, `${name}: --room`);
    const members = (a: string[]) => Number(a.includes('--ensemble') ? a[a.indexOf('--ensemble') + 1] : 1);
    const extra = recipe.extraMembers?.trainArgs.split(/\s+/);
    assert.is(meta.training.options.ensemble, members(args) + (extra ? members(extra) : 0), `${name}: ensemble members`);
    if (extra) {
      // the extra members: their own epochs and noisy copies (recorded per member by earshot_train --merge)
      const other = meta.training.options.memberOptions.slice(members(args));
      assert.is(other.length, members(extra));
      for (const o of other) {
        assert.is(o.epochs, Number(extra[extra.indexOf('--epochs') + 1]), `${name}: extra members' epochs`);
        assert.is((o.augmentFeatures ?? meta.training.options.augmentFeatures).length, recipe.extraMembers?.noise === 'none' ? 0 : 1, `${name}: extra members' noisy copies`);
      }
    }
    assert.is(meta.onnx.weights ?? 'fp32', args.includes('--weights') ? value('--weights') : 'fp32', `${name}: stored weights`);
    assert.equal(meta.tta, recipe.tta, `${name}: test-time augmentation`);
    assert.ok(meta.training.options.vad, `${name}: trained on the VAD's speech spans`);
    // noisy copies: earshot train names their feature folders FEATURES[-KIND]-snrDB (no kind: pink)
    const copies = (meta.training.options.augmentFeatures ?? []).map((d: string) => {
      const m = /(?:-(brown|babble)[0-9a-f]*)?-snr(-?[\d.]+)$/.exec(d);
      return `${m?.[1] ?? 'pink'} ${m?.[2]}`;
    });
    const expected = (recipe.noise ?? '').split(',').filter(Boolean).flatMap((snr) => noiseKinds(recipe.noiseType).map((kind) => `${kind} ${snr}`));
    assert.equal(copies, expected, `${name}: noisy copies (kind, SNR)`);
  }
});

test('--noise-type: one kind or a list (a noisy copy per kind); unknown or repeated kinds refused', () => {
  assert.equal(noiseKinds(), ['pink']);
  assert.equal(noiseKinds('babble'), ['babble']);
  assert.equal(noiseKinds('pink, babble'), ['pink', 'babble']);
  assert.throws(() => noiseKinds('pink,street'), /each kind is pink, brown or babble/);
  assert.throws(() => noiseKinds('pink,pink'), /given twice/);
});

test('babble copies for training: a clip babbles with its fold-mates only, so no held-out voice reaches any fold model', () => {
  const all = RAVDESS_FOLDS.flat();
  for (const fold of RAVDESS_FOLDS) {
    for (const speaker of fold) {
      const allowed = all.filter((s) => !babbleExclusions(speaker, RAVDESS_FOLDS, all).includes(s));
      assert.equal(allowed, fold.filter((s) => s !== speaker), speaker);
      // every other fold's model trains on this copy: none of its held-out actors may be in it
      for (const other of RAVDESS_FOLDS) if (other !== fold) assert.equal(allowed.filter((s) => other.includes(s)), []);
    }
  }
  // one fold given (--folds 17-20): actors 01-16 are never held out and babble among themselves
  const one = [['17', '18', '19', '20']];
  const allowed1 = all.filter((s) => !babbleExclusions('01', one, all).includes(s));
  assert.equal(allowed1, all.slice(1, 16));
});

test.run();

test('loso-CORPUS/K deals the sorted speakers into K groups; loso-CORPUS holds out one speaker at a time', () => {
  const spk = ['m3', 'f1', 'm1', 'f2', 'f1', 'm2', 'f3'];
  assert.equal(speakerGroups(spk), [['f1'], ['f2'], ['f3'], ['m1'], ['m2'], ['m3']]);
  assert.equal(speakerGroups(spk, 3), [['f1', 'm1'], ['f2', 'm2'], ['f3', 'm3']]);
  // more groups than speakers: one speaker each, no empty group
  assert.equal(speakerGroups(['b', 'a'], 5), [['a'], ['b']]);
  // a group's model gets a name its metadata accepts
  assert.ok(MODEL_NAME.test(losoName('earshot-crnn', 'emotiontts-kr', ['ema', 'nea', 'nek'])));
});
