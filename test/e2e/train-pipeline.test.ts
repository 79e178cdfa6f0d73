// The whole training path on a handful of real RAVDESS clips, so it cannot rot:
// corpus -> `earshot features` (WASM) -> earshot_train (training/python, a few seconds) -> ONNX + metadata ->
// `earshot eval` (onnxruntime-node) loads and scores it. Needs /usr/bin/python3 with torch + onnx.
/* eslint-disable max-lines -- one end-to-end suite sharing one trained fixture model (training it again per file would double the time) */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runEval } from '../../src/commands/eval.ts';
import { pythonRunner } from '../../src/training/python.ts';
import { runTrain } from '../../src/training/run-train.ts';
import { SHIPPED_RECIPES } from '../../src/training/recipes.ts';
import { runFeatures } from '../../src/training/export-features.ts';
import { Frontend } from '../../src/runtime/frontend/frontend.ts';
import { fileFeatures } from '../../src/runtime/frontend/file-features.ts';
import { loadModel } from '../../src/runtime/model/metadata.ts';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { speechSpans } from '../../src/runtime/vad/speech-spans.ts';
import { EmotionClassifier } from '../../src/runtime/model/session.ts';
import { EmotionStream } from '../../src/runtime/model/stream.ts';

const RAVDESS = new URL('../../../shared/data/ravdess/', import.meta.url).pathname;

/** A data folder (TMP/data/ravdess) with 8 clips from each actor (default two: one male, one female): every emotion once, normal intensity, statement 1. */
function someActors(tmp: string, actors = ['01', '02']): string {
  const data = join(tmp, 'data');
  for (const actor of actors) {
    mkdirSync(join(data, 'ravdess', `Actor_${actor}`), { recursive: true });
    for (let e = 1; e <= 8; e++) {
      const name = `03-01-0${e}-01-01-01-${actor}.flac`;
      symlinkSync(join(RAVDESS, `Actor_${actor}`, name), join(data, 'ravdess', `Actor_${actor}`, name));
    }
  }
  return data;
}

test('features -> short training -> ONNX -> earshot eval scores every clip', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'earshot-train-'));
  try {
    const data = someActors(tmp);
    const models = join(tmp, 'models');
    const logs: string[] = [];
    const { metrics, runDir } = await runTrain(
      {
        data,
        name: 'ci-lstm',
        arch: 'lstm-attn',
        protocols: 'folds,final',
        folds: '1;2',
        work: join(tmp, 'work'),
        modelsDir: models,
        python: '/usr/bin/python3',
        trainArgs: '--epochs 2 --hidden 8 --layers 1 --threads 1',
        jobs: 2,
        quiet: true,
      },
      undefined,
      (s) => logs.push(s),
    );
    assert.equal(readdirSync(models).sort(), ['ci-lstm.json', 'ci-lstm.onnx', 'ci-lstm.stream.onnx']);
    assert.is(logs.filter((l) => l.startsWith('\n== training ')).length, 3, '--jobs 2: two folds and the final model trained up front');
    assert.is(logs.filter((l) => l.startsWith('reusing ')).length, 3, 'and each protocol then only scored its run');
    const si = metrics['ravdess-speaker-independent'];
    assert.ok(si, 'speaker-independent folds were scored');
    assert.is(si.n, 16, 'each clip scored once, by the fold that held its actor out');
    assert.is(si.measuredBy, 'earshot eval');
    assert.ok(si.accuracy >= 0 && si.accuracy <= 1 && si.accuracySd !== undefined);
    assert.ok(metrics['ravdess-speaker-independent-whole-clip'], 'the whole-clip figure is reported beside the daemon-path one');
    const trained = JSON.parse(readFileSync(join(runDir, 'fold1.recipe.json'), 'utf8'));
    assert.ok(trained.includes('--vad'), 'trained on the VAD speech spans by default');
    const fold1 = JSON.parse(readFileSync(join(runDir, 'fold1.json'), 'utf8'));
    assert.equal(fold1.training.heldOutSpeakers, ['ravdess:01']);

    const model = loadModel(join(models, 'ci-lstm.json'));
    assert.is(model.meta.labels.length, 8);
    assert.match(model.meta.licence, /NON-COMMERCIAL/);
    assert.ok(model.meta.metrics['ravdess-speaker-independent'], 'fold metrics copied into the shipped metadata');

    // The streaming form, fed in uneven chunks, gives the full model's probabilities.
    const full = await EmotionClassifier.load(join(models, 'ci-lstm.json'));
    const stream = await EmotionStream.load(join(models, 'ci-lstm.json'));
    try {
      const f = await fileFeatures(join(RAVDESS, 'Actor_01', '03-01-05-01-01-01-01.flac'), new Frontend(model.frontend));
      const want = Array.from((await full.classify(f.data, f.frames)).probabilities);
      for (const chunk of [1, 7, 50]) {
        stream.reset();
        let got: Float32Array | null = null;
        for (let t = 0; t < f.frames; t += chunk) {
          const n = Math.min(chunk, f.frames - t);
          const r = await stream.push(f.data.subarray(t * f.dim, (t + n) * f.dim), n);
          if (r) got = r.probabilities;
        }
        assert.ok(got, 'a classification after the last chunk');
        want.forEach((p, i) => assert.ok(Math.abs(p - got![i]) < 1e-4, `chunk ${chunk}, class ${i}: ${p} vs ${got![i]}`));
      }
    } finally {
      await full.close();
      await stream.close();
    }

    const jsonOut = join(tmp, 'eval.json');
    const lines: string[] = [];
    await runEval(join(data, 'ravdess'), { corpus: 'ravdess', model: join(models, 'ci-lstm.json'), json: jsonOut, plot: join(tmp, 'cm.svg') }, (s) => lines.push(s));
    const r = JSON.parse(readFileSync(jsonOut, 'utf8'));
    for (const k of ['accuracy', 'uar', 'f1Macro', 'perClass', 'confusion', 'n', 'model']) assert.ok(k in r, `JSON has ${k}`);
    assert.is(r.n, 16);
    assert.is(r.model, 'ci-lstm');
    assert.ok(r.noSpeech >= 0 && r.wholeFile.accuracy >= 0 && r.wholeFile.accuracy <= 1, 'the whole-clip score is in the JSON');
    assert.match(lines.join('\n'), /as the daemon hears each clip/);
    assert.is(r.confusion.labels.length, 8);
    assert.is(r.confusion.matrix.flat().reduce((a: number, b: number) => a + b, 0), 16);
    assert.is(Object.values(r.perClass as Record<string, { support: number }>).reduce((a, c) => a + c.support, 0), 16);
    assert.match(readFileSync(join(tmp, 'cm.svg'), 'utf8'), /<svg/);
    assert.match(lines.join('\n'), /accuracy .*UAR/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** earshot_train's held-out probabilities (--report, actor 02 held out) equal earshot eval's on the same clips. */
async function assertEvalMatchesPython(tmp: string, data: string, stem: string): Promise<void> {
  const py = JSON.parse(readFileSync(`${stem}.py.json`, 'utf8'));
  const heldOut = join(tmp, 'actor02');
  mkdirSync(heldOut);
  symlinkSync(join(data, 'ravdess', 'Actor_02'), join(heldOut, 'Actor_02'));
  await runEval(heldOut, { corpus: 'ravdess', model: `${stem}.json`, json: join(tmp, 'eval.json'), predictions: true }, () => {});
  const ev: { predictions: { name: string; probabilities: number[] }[] } = JSON.parse(readFileSync(join(tmp, 'eval.json'), 'utf8'));
  const got = new Map(ev.predictions.map((p) => [p.name, p.probabilities]));
  assert.is(py.heldOut.length, 8);
  py.heldOut.forEach((clip: { name: string }, i: number) => {
    const want: number[] = py.probabilities[i];
    const have = got.get(clip.name);
    assert.ok(have, clip.name);
    want.forEach((p, k) => assert.ok(Math.abs(p - have![k]) < 1e-4, `${clip.name} class ${k}: earshot_train ${p}, earshot eval ${have![k]}`));
  });
}

test('normalisation "level": the runtime normalises as earshot_train did (python check = earshot eval) and is blind to the input gain', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'earshot-level-'));
  try {
    const data = someActors(tmp);
    const feats = join(tmp, 'features');
    await runFeatures([join(data, 'ravdess')], { out: feats, config: new URL('../../training/configs/logmel40-rms-zcr.json', import.meta.url).pathname, corpus: 'ravdess', vad: true, quiet: true });
    const stem = join(tmp, 'level');
    await pythonRunner('/usr/bin/python3')(['--features', feats, '--arch', 'crnn', '--vad', '--norm', 'level', '--holdout', 'ravdess:02', '--epochs', '2', '--hidden', '8', '--threads', '1', '--out', stem, '--report', `${stem}.py.json`]);
    await assertEvalMatchesPython(tmp, data, stem);

    const c = await EmotionClassifier.load(`${stem}.json`);
    try {
      const audio = await decodeAudioFile(join(RAVDESS, 'Actor_02', '03-01-05-01-01-01-02.flac'));
      const frontend = new Frontend(c.model.frontend);
      const [span] = speechSpans(audio.samples, frontend.config);
      const probs: number[][] = [];
      for (const g of [1, 0.25, 2]) {
        frontend.reset();
        const f = frontend.computeAll(Float32Array.from(audio.samples, (v) => v * g));
        probs.push(Array.from((await c.classify(f.subarray(span[0] * c.dim, span[1] * c.dim), span[1] - span[0])).probabilities));
      }
      for (const k of [1, 2]) probs[0].forEach((p, i) => assert.ok(Math.abs(p - probs[k][i]) < 1e-3, `gain ${[1, 0.25, 2][k]}, class ${i}: ${p} vs ${probs[k][i]}`));
    } finally {
      await c.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a CRNN whose extras bypass the convolutions (--side) exports, and earshot eval = earshot_train', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'earshot-side-'));
  try {
    const data = someActors(tmp);
    const feats = join(tmp, 'features');
    await runFeatures([join(data, 'ravdess')], { out: feats, config: new URL('../../training/configs/logmel40-rms-zcr-pitch.json', import.meta.url).pathname, corpus: 'ravdess', vad: true, quiet: true });
    const stem = join(tmp, 'side');
    const run = (side: string, out: string) =>
      pythonRunner('/usr/bin/python3')(['--features', feats, '--arch', 'crnn', '--vad', '--side', side, '--holdout', 'ravdess:02', '--epochs', '2', '--hidden', '8', '--threads', '1', '--out', out, '--report', `${out}.py.json`]);
    await run('4', stem);
    await assertEvalMatchesPython(tmp, data, stem);
    const meta = JSON.parse(readFileSync(`${stem}.json`, 'utf8'));
    assert.is(meta.training.options.side, 4);
    // 40 mel bands through the convolutions (10 after pooling) x 48 channels + 4 side columns into the projection,
    // against 44 columns (11 after pooling) x 48 without --side
    await run('0', join(tmp, 'plain'));
    const plain = JSON.parse(readFileSync(join(tmp, 'plain.json'), 'utf8'));
    assert.is(plain.parameters - meta.parameters, (11 * 48 - (10 * 48 + 4)) * 8);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('every architecture trains, exports to ONNX and runs through the runtime session', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'earshot-archs-'));
  try {
    const data = join(tmp, 'ravdess');
    mkdirSync(join(data, 'Actor_01'), { recursive: true });
    for (let e = 1; e <= 8; e++) {
      const name = `03-01-0${e}-01-01-01-01.flac`;
      symlinkSync(join(RAVDESS, 'Actor_01', name), join(data, 'Actor_01', name));
    }
    const configs: Record<string, string> = { 'lstm-attn': 'default-mfcc20-rms-zcr', bilstm: 'rms-zcr-mfcc20-2048', lstm2x64: 'rms-zcr-mfcc20-2048', rnn: 'default-mfcc20-rms-zcr', cnn1d: 'mfcc80-2048', 'stride-cnn': 'logmel128-db-2048', cnn2d: 'logmel128-db-2048', crnn: 'logmel40-rms-zcr' };
    for (const [arch, cfg] of Object.entries(configs)) {
      const feats = join(tmp, `features-${cfg}`);
      await runFeatures([data], { out: feats, config: new URL(`../../training/configs/${cfg}.json`, import.meta.url).pathname, corpus: 'ravdess', quiet: true });
      await pythonRunner('/usr/bin/python3')(['--features', feats, '--arch', arch, '--epochs', '1', '--hidden', '8', '--threads', '1', '--out', join(tmp, arch)]);
      const c = await EmotionClassifier.load(join(tmp, `${arch}.json`));
      try {
        const f = await fileFeatures(join(RAVDESS, 'Actor_01', '03-01-05-01-01-01-01.flac'), new Frontend(c.model.frontend));
        const r = await c.classify(f.data, f.frames);
        assert.ok(Math.abs(r.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5, arch);
        assert.is(c.meta.architecture, arch);
        assert.is(c.meta.window.fixed, arch === 'stride-cnn', `${arch} window.fixed`);
      } finally {
        await c.close();
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('an --ensemble recipe trains its members as separate runs and merges them into one graph = their mean', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'earshot-ensemble-'));
  try {
    const data = someActors(tmp);
    const logs: string[] = [];
    const opts = {
      data,
      name: 'ci-ens',
      arch: 'crnn',
      protocols: 'folds,final',
      folds: '1;2',
      work: join(tmp, 'work'),
      modelsDir: join(tmp, 'models'),
      python: '/usr/bin/python3',
      trainArgs: '--epochs 2 --hidden 8 --channels 4,4,4 --norm utterance --threads 1 --ensemble 2',
      jobs: 2,
      quiet: true,
    };
    const { metrics, runDir } = await runTrain(opts, undefined, (s) => logs.push(s));
    assert.is(logs.filter((l) => l.startsWith('\n== training ')).length, 6, 'two folds and the final model x two members, trained as six runs');
    assert.equal(readdirSync(opts.modelsDir).sort(), ['ci-ens.json', 'ci-ens.onnx'], 'members stay in the work folder');
    assert.ok(readdirSync(runDir).includes('ci-ens.m2.onnx'));
    assert.is(metrics['ravdess-speaker-independent'].n, 16);
    const fold = JSON.parse(readFileSync(join(runDir, 'fold1.json'), 'utf8'));
    const members = [1, 2].map((k) => JSON.parse(readFileSync(join(runDir, `fold1.m${k}.json`), 'utf8')));
    assert.equal(members.map((m) => m.training.seed), [1, 1001], 'member K trains with seed SEED + 1000 (K - 1)');
    assert.is(fold.parameters, members[0].parameters + members[1].parameters);
    assert.equal(fold.training.options.memberSeeds, [1, 1001]);
    assert.equal(fold.training.heldOutSpeakers, ['ravdess:01']);

    // Through the runtime: the merged graph's probabilities are the mean of its members'.
    const load = (stem: string) => EmotionClassifier.load(join(runDir, `${stem}.json`));
    const [merged, m1, m2] = await Promise.all([load('fold1'), load('fold1.m1'), load('fold1.m2')]);
    try {
      const f = await fileFeatures(join(RAVDESS, 'Actor_01', '03-01-05-01-01-01-01.flac'), new Frontend(merged.model.frontend));
      const [p, p1, p2] = await Promise.all([merged, m1, m2].map(async (c) => Array.from((await c.classify(f.data, f.frames)).probabilities)));
      assert.ok(Math.abs(p1[0] - p2[0]) > 1e-6 || Math.abs(p1[1] - p2[1]) > 1e-6, 'the members differ');
      p.forEach((v, i) => assert.ok(Math.abs(v - (p1[i] + p2[i]) / 2) < 1e-5, `class ${i}: ${v} vs mean ${(p1[i] + p2[i]) / 2}`));
    } finally {
      await Promise.all([merged, m1, m2].map((c) => c.close()));
    }

    // Stored as float16 / int8: fewer bytes (this toy graph is mostly structure), the same answers within rounding.
    for (const [weights, ratio, tol] of [['fp16', 0.9, 1e-3], ['int8', 0.85, 2e-2]] as const) {
      const stem = join(tmp, `fold1-${weights}`);
      await pythonRunner('/usr/bin/python3')(['--merge', join(runDir, 'fold1.m1'), join(runDir, 'fold1.m2'), '--out', stem, '--weights', weights]);
      const small = await EmotionClassifier.load(`${stem}.json`);
      const full = await load('fold1');
      try {
        assert.is(small.meta.onnx.weights, weights);
        assert.ok(small.meta.onnx.bytes < ratio * full.meta.onnx.bytes, `${weights}: ${small.meta.onnx.bytes} vs ${full.meta.onnx.bytes} bytes`);
        const f = await fileFeatures(join(RAVDESS, 'Actor_02', '03-01-03-01-01-01-02.flac'), new Frontend(full.model.frontend));
        const [p, q] = await Promise.all([small, full].map(async (c) => Array.from((await c.classify(f.data, f.frames)).probabilities)));
        p.forEach((v, i) => assert.ok(Math.abs(v - q[i]) < tol, `${weights}, class ${i}: ${v} vs ${q[i]}`));
      } finally {
        await Promise.all([small.close(), full.close()]);
      }
    }

    // A second run finds everything done: nothing retrained, nothing re-merged.
    logs.length = 0;
    await runTrain(opts, undefined, (s) => logs.push(s));
    assert.is(logs.filter((l) => l.startsWith('\n== training ')).length, 6);
    assert.is(logs.filter((l) => l.startsWith('reusing ')).length, 9, 'six members in the parallel phase, then the merged folds and final model');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('--teacher: a fold student learns from the same fold of the teacher run (its probabilities on the student\'s training clips), never from a teacher that heard the student\'s held-out actors', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'earshot-distill-'));
  try {
    const data = someActors(tmp);
    const common = { data, arch: 'lstm-attn', work: join(tmp, 'work'), modelsDir: join(tmp, 'models'), python: '/usr/bin/python3', quiet: true, jobs: 2 };
    await runTrain({ ...common, name: 'ci-teacher', protocols: 'folds,final', folds: '1;2', trainArgs: '--epochs 2 --hidden 8 --layers 1 --threads 1' }, undefined, () => {});
    const logs: string[] = [];
    const student = { ...common, name: 'ci-student', protocols: 'folds,final', teacher: 'ci-teacher', trainArgs: '--epochs 2 --hidden 8 --layers 1 --threads 1 --distill-weight 0.5' };
    const { metrics, runDir } = await runTrain({ ...student, folds: '1;2' }, undefined, (s) => logs.push(s));
    assert.ok(metrics['ravdess-speaker-independent'], 'the student\'s folds were scored');
    for (const [k, actor] of [[1, '02'], [2, '01']] as const) {
      // fold k holds one actor out and trains on the other: the teacher answered for that one's 8 clips
      const t = JSON.parse(readFileSync(join(runDir, `fold${k}.teacher.json`), 'utf8'));
      assert.equal(t.teachers, [join(tmp, 'work', 'ci-teacher', `fold${k}.json`)]);
      assert.equal(Object.keys(t.clips).sort(), readdirSync(join(data, 'ravdess', `Actor_${actor}`)).map((f) => basename(f, '.flac')).sort());
      for (const p of Object.values(t.clips) as number[][]) {
        assert.is(p.length, t.labels.length);
        assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-3, 'probabilities sum to 1');
      }
      const meta = JSON.parse(readFileSync(join(runDir, `fold${k}.json`), 'utf8'));
      assert.equal(meta.training.options.distillation, { teachers: t.teachers, weight: 0.5, temperature: 2 });
    }
    assert.is(logs.filter((l) => l.startsWith('teacher ')).length, 3, 'each fold\'s teacher and the final model\'s asked once');
    const again: string[] = [];
    await runTrain({ ...student, folds: '1;2' }, undefined, (s) => again.push(s));
    assert.not.ok(again.some((l) => l.startsWith('teacher ')), 'the same teachers (same weights) are not asked again');
    const final = JSON.parse(readFileSync(join(runDir, 'final.teacher.json'), 'utf8'));
    assert.equal(final.teachers, [join(tmp, 'models', 'ci-teacher.json')], 'the final student learns from the teacher\'s final model');
    assert.is(Object.keys(final.clips).length, 16);
    // the teacher run's fold models are found by the actors they held out, not by their number
    const swapped = await runTrain({ ...student, name: 'ci-student-swapped', protocols: 'folds', folds: '2;1' }, undefined, () => {});
    assert.equal(JSON.parse(readFileSync(join(swapped.runDir, 'fold1.teacher.json'), 'utf8')).teachers, [join(tmp, 'work', 'ci-teacher', 'fold2.json')]);
    // a fold no teacher model held out (both actors): refused, nothing trained
    await runTrain({ ...student, name: 'ci-student-both', protocols: 'folds', folds: '1,2' }, undefined, () => {}).then(
      () => assert.unreachable('a fold without a teacher is refused'),
      (e) => {
        assert.is(e.code, 'E_USAGE');
        assert.match(e.message, /no fold model there was trained without exactly actors 01,02/);
      },
    );
    await runTrain({ ...student, name: 'ci-student-none', teacher: 'ci-nobody', folds: '1;2' }, undefined, () => {}).then(
      () => assert.unreachable('a missing teacher run is refused'),
      (e) => assert.match(e.message, /ci-nobody is missing; train the teacher's folds first/),
    );
    // the final student's teacher must exist as a model
    await runTrain({ ...student, name: 'ci-student-final', protocols: 'final', teacher: join(tmp, 'nowhere.json') }, undefined, () => {}).then(
      () => assert.unreachable('a missing final teacher is refused'),
      (e) => assert.match(e.message, /nowhere/),
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the shipped CRNN recipe adds its noisy copies (pink and babble) unless --noise, --noise-type or --train-args says otherwise', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'earshot-noise-'));
  try {
    // three actors of one fold: each clip's babble copy needs two fold-mates to talk
    const data = someActors(tmp, ['01', '02', '03']);
    // stands in for earshot_train: records what the first run would be given, and stops there
    const firstRun = async (extra: object): Promise<string[]> => {
      let seen: string[] = [];
      const stop = new Error('stop');
      // RAVDESS only: the data folder has no other corpus (the default recipe trains on all five)
      const opts = { data, name: 'ci-noise', arch: 'crnn', protocols: 'final', corpora: 'ravdess', work: join(tmp, 'work'), modelsDir: join(tmp, 'models'), python: '/usr/bin/python3', quiet: true, ...extra };
      await runTrain(opts, async (args) => {
        seen = args;
        throw stop;
      }, () => {}).then(() => assert.unreachable('the fake earshot_train stops the run'), (e) => assert.is(e, stop));
      return seen;
    };
    /** The folders after --augment-features, up to the next option. */
    const augment = (args: string[]) => {
      const from = args.indexOf('--augment-features') + 1;
      const to = args.findIndex((a, i) => i >= from && a.startsWith('--'));
      return from ? args.slice(from, to < 0 ? undefined : to) : [];
    };
    const shipped = await firstRun({});
    assert.is(SHIPPED_RECIPES.crnn.noise, '10');
    assert.ok(shipped.includes('--augment-features'), shipped.join(' '));
    assert.is(SHIPPED_RECIPES.crnn.noiseType, 'pink,babble');
    // a copy in pink noise (no kind in the folder's name) and one in babble, both at 10 dB
    assert.equal(augment(shipped).map((d) => d.replace(/.*-vadcascade/, '').replace(/babble[0-9a-f]+/, 'babble')), ['-snr10', '-babble-snr10']);
    assert.ok(shipped.join(' ').includes(SHIPPED_RECIPES.crnn.trainArgs), 'and the recipe\'s earshot_train arguments');
    assert.equal(augment(await firstRun({ noise: '20,5' })).map((d) => d.replace(/.*-snr/, '')), ['20', '20', '5', '5']);
    assert.equal(augment(await firstRun({ noise: '20', noiseType: 'brown' })).map((d) => d.replace(/.*-vadcascade/, '')), ['-brown-snr20'], 'own --noise-type');
    assert.not.ok((await firstRun({ noise: 'none' })).includes('--augment-features'), '--noise none');
    assert.not.ok((await firstRun({ trainArgs: '--epochs 2' })).includes('--augment-features'), 'own --train-args: no preset noise');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('--corpora and --protocols loco,loso-emodb: every run trains on every corpus but what it holds out; a left-out corpus gives no features, not even noisy copies', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'earshot-loco-'));
  try {
    const data = someActors(tmp, ['01', '02', '03']);
    mkdirSync(join(data, 'emodb'));
    for (const n of ['03a01Fa', '03a01Nc', '08a01Wa', '08a01Ab']) symlinkSync(join(RAVDESS, '..', 'emodb', `${n}.flac`), join(data, 'emodb', `${n}.flac`));
    const runs: string[][] = [];
    const stop = new Error('stop');
    const opts = { data, name: 'ci-loco', arch: 'crnn', protocols: 'loco,loso-emodb', corpora: 'ravdess,emodb', noise: '10', noiseType: 'pink', work: join(tmp, 'work'), modelsDir: join(tmp, 'models'), python: '/usr/bin/python3', quiet: true, jobs: 2 };
    // stands in for earshot_train: records each run's arguments, then stops the whole run
    await runTrain(opts, async (args) => {
      runs.push(args);
      if (runs.length === 4) throw stop;
      await new Promise((r) => setTimeout(r, 50));
      throw stop;
    }, () => {}).catch((e) => assert.is(e, stop));
    const features = (args: string[]) => args.slice(args.indexOf('--features') + 1, args.findIndex((a, i) => i > args.indexOf('--features') && a.startsWith('--'))).map((d) => basename(d).replace(/-.*/, ''));
    const augment = (args: string[]) => (args.includes('--augment-features') ? [basename(args[args.indexOf('--augment-features') + 1]).replace(/-.*/, '')] : []);
    const named = (n: string) => runs.find((a) => a[a.indexOf('--name') + 1] === n)!;
    const withoutRavdess = named('ci-loco-loco-ravdess');
    assert.equal(features(withoutRavdess), ['emodb'], withoutRavdess.join(' '));
    assert.equal(augment(withoutRavdess), [], 'no noisy RAVDESS copy in the model that is scored on RAVDESS');
    assert.equal(features(named('ci-loco-loco-emodb')), ['ravdess']);
    assert.equal(augment(named('ci-loco-loco-emodb')), ['ravdess']);
    try {
      await runTrain({ ...opts, protocols: 'loco', corpora: 'ravdess,klingon' }, async () => {}, () => {});
      assert.unreachable('unknown corpus accepted');
    } catch (e) {
      assert.match((e as Error).message, /--corpora: "klingon"/);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the ensemble recipe trains its clean-only members beside the noisy ones, merges all into one graph, records its test-time augmentation and fits its functional head', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'earshot-groups-'));
  try {
    const data = someActors(tmp);
    const runs: string[][] = [];
    const heads: string[][] = [];
    const opts = { data, name: 'ci-mix', arch: 'crnn', recipe: 'crnn-ensemble', protocols: 'final', work: join(tmp, 'work'), modelsDir: join(tmp, 'models'), python: '/usr/bin/python3', quiet: true };
    // stands in for earshot_train: records each run; a merge writes the merged model's metadata
    await runTrain(opts, async (args) => {
      runs.push(args);
      const out = args[args.indexOf('--out') + 1];
      writeFileSync(`${out}.json`, '{}');
    }, () => {}, async (args) => {
      heads.push(args);
    });
    const recipe = SHIPPED_RECIPES['crnn-ensemble'];
    // the head: fitted once, on the final model, on every actor (no --holdout), as the recipe says
    assert.is(heads.length, 1);
    const h = heads[0];
    assert.is(h[h.indexOf('--export-head') + 1], join(tmp, 'models', 'ci-mix.json'));
    assert.not.ok(h.includes('--holdout'));
    assert.is(h[h.indexOf('--fusion') + 1], recipe.head!.fusion);
    assert.is(h[h.indexOf('--C') + 1], String(recipe.head!.C));
    const flag = (args: string[], f: string) => (args.includes(f) ? args[args.indexOf(f) + 1] : undefined);
    const members = runs.filter((a) => a[0] !== '--merge');
    const merge = runs.find((a) => a[0] === '--merge');
    assert.ok(merge, 'the members are merged');
    const n = Number(flag(recipe.trainArgs.split(' '), '--ensemble'));
    const m = Number(flag(recipe.extraMembers!.trainArgs.split(' '), '--ensemble'));
    assert.is(members.length, n + m);
    const outs = members.map((a) => basename(flag(a, '--out')!));
    assert.equal(outs, [...Array.from({ length: n }, (_, k) => `ci-mix.m${k + 1}`), ...Array.from({ length: m }, (_, k) => `ci-mix.g2m${k + 1}`)]);
    for (const a of members.slice(0, n)) {
      assert.ok(a.includes('--augment-features'), 'the first members see the noisy copies');
      assert.is(flag(a, '--epochs'), flag(recipe.trainArgs.split(' '), '--epochs'));
    }
    for (const a of members.slice(n)) {
      assert.not.ok(a.includes('--augment-features'), 'the extra members see clean clips only');
      assert.is(flag(a, '--epochs'), flag(recipe.extraMembers!.trainArgs.split(' '), '--epochs'));
    }
    assert.equal(members.map((a) => flag(a, '--member')), [...Array.from({ length: n }, (_, k) => String(k + 1)), ...Array.from({ length: m }, (_, k) => String(k + 1))]);
    // every member stem, in order, then the shipped stem and the first recipe's stored weights
    assert.equal(merge!.slice(1, 1 + n + m).map((s) => basename(s)), outs);
    assert.is(flag(merge!, '--weights'), flag(recipe.trainArgs.split(' '), '--weights'));
    const meta = JSON.parse(readFileSync(join(tmp, 'models', 'ci-mix.json'), 'utf8'));
    assert.equal(meta.tta, recipe.tta);
    // own --train-args: one member recipe, no preset tta
    runs.length = 0;
    heads.length = 0;
    await runTrain({ ...opts, name: 'ci-own', trainArgs: '--epochs 2 --ensemble 2' }, async (args) => {
      runs.push(args);
      writeFileSync(`${args[args.indexOf('--out') + 1]}.json`, '{}');
    }, () => {}, async (args) => {
      heads.push(args);
    });
    assert.is(heads.length, 0, 'own --train-args: no preset head');
    assert.is(runs.filter((a) => a[0] !== '--merge').length, 2);
    assert.is(JSON.parse(readFileSync(join(tmp, 'models', 'ci-own.json'), 'utf8')).tta, undefined);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
