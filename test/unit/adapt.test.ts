// Issue 15: arousal/valence from class probabilities, calibration metrics and temperature fitting,
// the speaker baseline (estimator, decay, warm-up, durable snapshot), and the pipeline's
// "uncertain" threshold and adaptation on real corpus audio with the committed tiny model.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AFFECT, affectClassOf, affectOf } from '../../src/core/affect.ts';
import { EMOTIONS } from '../../src/core/labels.ts';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { loadBaseline, removeBaseline, saveBaseline, SpeakerBaseline } from '../../src/runtime/model/baseline.ts';
import { EmotionClassifier, temper } from '../../src/runtime/model/session.ts';
import { analyzeFile } from '../../src/runtime/pipeline/analyze-file.ts';
import { EmotionPipeline } from '../../src/runtime/pipeline/pipeline.ts';
import { parsePipelineConfig } from '../../src/runtime/pipeline/config.ts';
import type { PipelineResult, PipelineState } from '../../src/runtime/pipeline/types.ts';
import { toEmotionEvent } from '../../src/runtime/publish/from-pipeline.ts';
import { emotionEventSchema } from '../../src/runtime/publish/payloads.ts';
import { accuracyAtCoverage, binaryUar, expectedCalibrationError, fitTemperature, tempered } from '../../src/training/calibration.ts';
import { evaluateItems, streamOrder } from '../../src/training/evaluate.ts';
import { runCalibrate } from '../../src/commands/calibrate.ts';
import { loadCorpus } from '../../src/training/corpus/index.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');
const tmp = mkdtempSync(join(tmpdir(), 'earshot-adapt-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** The tiny fixture model with its metadata changed (normalisation mode, calibration), beside a copy of its .onnx. */
function variant(name: string, change: (m: Record<string, unknown>) => void): string {
  const meta = JSON.parse(readFileSync(MODEL, 'utf8'));
  meta.name = name;
  change(meta);
  copyFileSync(join(ROOT, 'test/fixtures/models/tiny-lstm.onnx'), join(tmp, meta.onnx.file));
  const path = join(tmp, `${name}.json`);
  writeFileSync(path, JSON.stringify(meta));
  return path;
}

test('affect: class points in [-1,1]; one-hot gives the point, a mix the weighted mean; binary classes', () => {
  for (const e of EMOTIONS) {
    const [a, v] = AFFECT[e];
    assert.ok(Math.abs(a) <= 1 && Math.abs(v) <= 1);
    assert.equal(affectOf({ [e]: 1 }), { arousal: a, valence: v });
  }
  const mix = affectOf({ angry: 0.5, sad: 0.5, unknown: 3 });
  assert.ok(Math.abs(mix.arousal - 0.1) < 1e-9 && Math.abs(mix.valence + 0.65) < 1e-9, JSON.stringify(mix));
  assert.equal(affectOf({}), { arousal: 0, valence: 0 });
  assert.equal(affectClassOf('angry'), { highArousal: true, negativeValence: true });
  assert.equal(affectClassOf('calm'), { highArousal: false, negativeValence: false });
  assert.equal(affectClassOf('neutral'), { highArousal: false, negativeValence: false });
  assert.is(affectClassOf('bored'), null);
});

test('calibration: ECE by hand, coverage, binary UAR, and a temperature fitted back', () => {
  // two bins used: 0.9 (2 of 2 right -> |1-0.9|) and 0.6 (1 of 2 right -> |0.5-0.6|)
  assert.ok(Math.abs(expectedCalibrationError([0.9, 0.9, 0.6, 0.6], [true, true, true, false]) - 0.1) < 1e-12);
  assert.is(expectedCalibrationError([1, 1], [true, true]), 0);
  assert.equal(accuracyAtCoverage([0.9, 0.8, 0.7, 0.6], [true, true, false, false], [1, 0.5]), { '100': 0.5, '50': 1 });
  assert.is(binaryUar([true, true, false, false], [true, false, false, false]), 0.75);
  // labels drawn from calibrated probabilities, shown sharpened by T = 2: the fit finds about 2
  let s = 7;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const probs: number[][] = [];
  const truth: number[] = [];
  for (let i = 0; i < 4000; i++) {
    const logits = [0, 1, 2].map(() => 2 * (rand() - 0.5) * 2);
    const p = tempered(logits.map(Math.exp), 1);
    const u = rand();
    truth.push(u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2);
    probs.push(tempered(p, 0.5));
  }
  const t = fitTemperature(probs, truth);
  assert.ok(t > 1.8 && t < 2.2, `T = ${t}`);
  const ece = (q: number[][]) => expectedCalibrationError(q.map((p) => Math.max(...p)), q.map((p, i) => p.indexOf(Math.max(...p)) === truth[i]));
  assert.ok(ece(probs.map((p) => tempered(p, t))) < ece(probs) / 2, 'ECE falls with the fitted temperature');
  // the runtime's in-place temper is the same function
  const q = Float32Array.from([0.7, 0.2, 0.1]);
  temper(q, 1 / 2);
  tempered([0.7, 0.2, 0.1], 2).forEach((v, k) => assert.ok(Math.abs(v - q[k]) < 1e-6));
});

test('baseline: pooled mean/std of the frames; decay; warm-up; snapshot round trip, atomic file, foreign file ignored', () => {
  const dim = 3;
  const b = new SpeakerBaseline(dim, 0.01, 'f1', { halfLifeSeconds: 1e6 / 1e3, warmupSeconds: 1 });
  const frames = (n: number, off: number) => Float32Array.from({ length: n * dim }, (_, i) => off + Math.sin(i * 0.37) * (1 + (i % dim)));
  const u1 = frames(60, 0);
  const u2 = frames(80, 2);
  b.add(u1, 60);
  assert.is(b.stats(), null, 'cold below warmupSeconds (0.6 s of speech)');
  b.add(u2, 80);
  const st = b.stats()!;
  assert.ok(st, 'warm at 1.4 s');
  const all = [...u1, ...u2];
  for (let j = 0; j < dim; j++) {
    const col = all.filter((_, i) => i % dim === j);
    const m = col.reduce((a, c) => a + c, 0) / col.length;
    const v = col.reduce((a, c) => a + (c - m) ** 2, 0) / col.length;
    // the half-life is 1000 s against 1.4 s of speech: close to the undecayed pooled statistics
    assert.ok(Math.abs(st.mean[j] - m) < 2e-3 * (1 + Math.abs(m)), `mean ${j}: ${st.mean[j]} vs ${m}`);
    assert.ok(Math.abs(1 / st.invStd[j] - Math.sqrt(v + 1e-6)) < 2e-3, `std ${j}`);
  }
  // a short half-life forgets: after a long stretch at +10, the mean is near 10
  const fast = new SpeakerBaseline(dim, 0.01, 'f1', { halfLifeSeconds: 10, warmupSeconds: 0 });
  fast.add(frames(1000, 0), 1000);
  for (let k = 0; k < 10; k++) fast.add(new Float32Array(1000 * dim).fill(10), 1000);
  assert.ok(fast.stats()!.mean[0] > 9.9, `${fast.stats()!.mean[0]}`);
  // durable: written atomically, read back identically; another frontend's file starts cold
  const path = join(tmp, 'state', 'baseline.json');
  saveBaseline(path, b);
  const back = new SpeakerBaseline(dim, 0.01, 'f1', { warmupSeconds: 1 });
  assert.is(loadBaseline(path, back), null);
  assert.equal(Array.from(back.stats()!.mean), Array.from(st.mean));
  assert.is(back.utterances, 2);
  const other = new SpeakerBaseline(dim, 0.01, 'f2', { warmupSeconds: 1 });
  assert.match(loadBaseline(path, other)!, /other features/);
  assert.is(other.stats(), null);
  writeFileSync(path, '{"version":1,"feat');
  assert.match(loadBaseline(path, other)!, /ignored/);
  removeBaseline(path);
  assert.is(loadBaseline(path, other), null, 'no file: nothing to say');
  b.reset();
  assert.is(b.stats(), null);
});

const clip = (name: string) => join(DATA, 'ravdess', `Actor_${name.slice(-2)}`, `${name}.flac`);

test('pipeline: arousal/valence on every result and state; below uncertainBelow the label is "uncertain" and the state does not move', async () => {
  const classifier = await EmotionClassifier.load(MODEL);
  const a = await decodeAudioFile(clip('03-01-05-02-01-01-05'));
  for (const threshold of [0, 1]) {
    const p = new EmotionPipeline({ classifier, config: parsePipelineConfig({ uncertainBelow: threshold, smoothing: { minConfidence: 0 } }) });
    const results: PipelineResult[] = [];
    const states: PipelineState[] = [];
    p.on('result', (r) => results.push(r));
    p.on('state', (s) => states.push(s));
    for (let i = 0; i < a.samples.length; i += 1600) p.push({ samples: a.samples.subarray(i, i + 1600), sampleRate: a.sampleRate, time: i / a.sampleRate });
    await p.end();
    assert.ok(results.length > 0);
    for (const r of results) {
      assert.equal({ arousal: r.arousal, valence: r.valence }, affectOf(r.probabilities));
      assert.is(r.label, threshold === 1 ? 'uncertain' : classifier.labels[Object.values(r.probabilities).indexOf(r.confidence)]);
      assert.is(r.adapted, false, 'a per-utterance model never adapts');
      const event = emotionEventSchema.parse(toEmotionEvent(r, 'x-1'));
      assert.is(event.adapted, false, 'the event says whether the baseline was warm');
    }
    if (threshold === 1) assert.is(states.length, 0, 'uncertain results leave the state alone');
    else {
      assert.ok(states.length > 0);
      for (const s of states) assert.equal({ arousal: s.arousal, valence: s.valence }, affectOf(s.probabilities));
    }
  }
  await classifier.close();
});

test('adaptation: a "speaker" model is per-utterance until the baseline is warm, then normalised against it; --adapt carries it, resetBaseline forgets', async () => {
  const speakerModel = variant('tiny-speaker', (m) => ((m.normalization as { mode: string }).mode = 'speaker'));
  const utterModel = variant('tiny-utter', (m) => ((m.normalization as { mode: string }).mode = 'utterance'));
  const sc = await EmotionClassifier.load(speakerModel);
  const uc = await EmotionClassifier.load(utterModel);
  const files = ['03-01-05-02-01-01-05', '03-01-03-01-02-02-05', '03-01-04-01-02-01-05', '03-01-01-01-01-01-05', '03-01-06-02-01-02-05'].map(clip);
  const sp = new EmotionPipeline({ classifier: sc, config: parsePipelineConfig({ adaptation: { warmupSeconds: 3 } }) });
  const up = new EmotionPipeline({ classifier: uc });
  assert.ok(sp.baseline && !up.baseline);
  const adapted: boolean[] = [];
  for (const f of files) {
    const a = await analyzeFile(f, sp, { adapt: true });
    const u = await analyzeFile(f, up);
    assert.is(a.segments.length, u.segments.length);
    a.segments.forEach((s, i) => {
      adapted.push(s.adapted);
      const same = sc.labels.every((l) => Math.abs(s.probabilities[l] - u.segments[i].probabilities[l]) < 1e-6);
      // cold: exactly the per-utterance model; warm: something else
      assert.is(same, !s.adapted, `${f} #${i} adapted=${s.adapted}`);
    });
  }
  assert.is(adapted[0], false, 'the first utterance is cold');
  assert.is(adapted.at(-1), true, 'later ones are adapted');
  assert.ok(sp.baseline!.speechSeconds > 3);
  // without --adapt each file starts cold
  const cold = await analyzeFile(files[4], sp);
  assert.ok(cold.segments.every((s) => !s.adapted));
  sp.resetBaseline();
  assert.is(sp.baseline!.stats(), null);
  await sc.close();
  await uc.close();
});

test('calibrated model: the runtime applies the metadata temperature (and --no-calibration ignores it)', async () => {
  const hot = variant('tiny-t2', (m) => (m.calibration = { temperature: 2, fittedOn: 'test' }));
  const x = Float32Array.from({ length: 120 * 28 }, (_, i) => Math.sin(i * 0.013) * 3);
  const plain = await EmotionClassifier.load(MODEL);
  const cal = await EmotionClassifier.load(hot);
  const off = await EmotionClassifier.load(hot, { calibration: false });
  assert.is(cal.temperature, 2);
  assert.is(off.temperature, 1);
  const p = Array.from((await plain.classify(x, 120)).probabilities);
  const q = Array.from((await cal.classify(x, 120)).probabilities);
  const r = Array.from((await off.classify(x, 120)).probabilities);
  tempered(p, 2).forEach((v, k) => assert.ok(Math.abs(v - q[k]) < 1e-5, `${k}: ${v} vs ${q[k]}`));
  p.forEach((v, k) => assert.ok(Math.abs(v - r[k]) < 1e-7));
  for (const c of [plain, cal, off]) await c.close();
});

test('speaker normalisation is bounded to +-SPEAKER_CLIP (as earshot_train): two baselines that both push every value past it agree', async () => {
  const sc = await EmotionClassifier.load(variant('tiny-speaker3', (m) => ((m.normalization as { mode: string }).mode = 'speaker')));
  const x = Float32Array.from({ length: 120 * 28 }, (_, i) => 1 + Math.abs(Math.sin(i * 0.013)));
  const base = (inv: number) => ({ mean: new Float32Array(28), invStd: new Float32Array(28).fill(inv) });
  const a = Array.from((await sc.classify(x, 120, base(100))).probabilities);
  const b = Array.from((await sc.classify(x, 120, base(1000))).probabilities);
  const c = Array.from((await sc.classify(x, 120, base(1))).probabilities);
  a.forEach((v, k) => assert.ok(Math.abs(v - b[k]) < 1e-7));
  assert.ok(a.some((v, k) => Math.abs(v - c[k]) > 1e-4), 'inside the bound the baseline matters');
  await sc.close();
});

test('prosody: log-mel/MFCC columns (and their deltas) per utterance, the others against the baseline', async () => {
  const pc = await EmotionClassifier.load(variant('tiny-prosody', (m) => ((m.normalization as { mode: string }).mode = 'prosody')));
  const uc = await EmotionClassifier.load(variant('tiny-utter2', (m) => ((m.normalization as { mode: string }).mode = 'utterance')));
  const frames = 120;
  const x = Float32Array.from({ length: frames * 28 }, (_, i) => Math.sin(i * 0.013) * 2 + (i % 7));
  // a baseline equal to the utterance's own statistics: the same as per-utterance normalisation
  const mean = new Float32Array(28);
  const invStd = new Float32Array(28);
  for (let j = 0; j < 28; j++) {
    let m = 0;
    for (let t = 0; t < frames; t++) m += x[t * 28 + j] / frames;
    let v = 0;
    for (let t = 0; t < frames; t++) v += (x[t * 28 + j] - m) ** 2 / frames;
    mean[j] = m;
    invStd[j] = 1 / Math.sqrt(v + 1e-6);
  }
  const u = Array.from((await uc.classify(x, frames)).probabilities);
  const same = Array.from((await pc.classify(x, frames, { mean, invStd: invStd.map((v, j) => ([13, 27].includes(j) ? v : 1e-3)) })).probabilities);
  u.forEach((v, k) => assert.ok(Math.abs(v - same[k]) < 1e-5, 'the spectral columns ignore the baseline'));
  const moved = Array.from((await pc.classify(x, frames, { mean: mean.map((v) => v + 1), invStd })).probabilities);
  assert.ok(u.some((v, k) => Math.abs(v - moved[k]) > 1e-5), 'rms and d_rms follow the baseline');
  await pc.close();
  await uc.close();
});

test('earshot calibrate: an overconfident model gets T > 1 from its predictions, written into the metadata and applied at load', async () => {
  let seed = 3;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const files = [1, 2].map((k) => {
    // right 60% of the time at a confidence of about 0.95
    const predictions = Array.from({ length: 300 }, () => {
      const right = rand() < 0.6;
      return { truth: right ? 'angry' : 'sad', probabilities: [0.95, 0.03, 0.02] };
    });
    const path = join(tmp, `fold${k}.eval.json`);
    writeFileSync(path, JSON.stringify({ scoredLabels: ['angry', 'sad', 'happy'], predictions, confidence: { temperature: 1 } }));
    return path;
  });
  const model = variant('tiny-cal', () => undefined);
  const lines: string[] = [];
  const t = runCalibrate(files, { write: [model], test: [files[0]] }, (l) => lines.push(l));
  assert.ok(t > 1.5, `T = ${t}`);
  assert.match(lines.join('\n'), /ECE 3\d\.\d% -> \d\.\d%/);
  assert.match(lines.join('\n'), /at the temperature fitted on the others/);
  const c = await EmotionClassifier.load(model);
  assert.ok(Math.abs(c.temperature - t) < 1e-3);
  await c.close();
});

test('earshot calibrate: fused predictions (a functional head that spoke) get their own temperature, written beside the network\'s', async () => {
  let seed = 5;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const files = [1, 2].map((k) => {
    const predictions = Array.from({ length: 300 }, (_, i) => {
      const fused = i % 3 !== 0;
      // alone: right 60% at 0.95 (overconfident); fused: right 90% at 0.5 (underconfident)
      const right = rand() < (fused ? 0.9 : 0.6);
      return { truth: right ? 'angry' : 'sad', probabilities: fused ? [0.5, 0.3, 0.2] : [0.95, 0.03, 0.02], fused, warmup: !fused };
    });
    const path = join(tmp, `fused${k}.eval.json`);
    writeFileSync(path, JSON.stringify({ scoredLabels: ['angry', 'sad', 'happy'], predictions, confidence: { temperature: 1, fusedTemperature: 1 } }));
    return path;
  });
  const model = variant('tiny-cal2', () => undefined);
  const lines: string[] = [];
  const t = runCalibrate(files, { write: [model] }, (l) => lines.push(l));
  assert.ok(t > 1.5, `network alone T = ${t}`);
  const meta = JSON.parse(readFileSync(model, 'utf8'));
  assert.ok(meta.calibration.fusedTemperature < 0.8, `fused T = ${meta.calibration.fusedTemperature}`);
  assert.match(lines.join('\n'), /alone \(200 clips\), [0-9.]+ fused \(400 clips\)/);
  // a file scored at those temperatures is undone first: fitting it again gives the same two
  const again = JSON.parse(readFileSync(files[0], 'utf8'));
  again.confidence = { temperature: meta.calibration.temperature, fusedTemperature: meta.calibration.fusedTemperature };
  again.predictions = again.predictions.map((p: { probabilities: number[]; fused: boolean }) => ({ ...p, probabilities: tempered(p.probabilities, p.fused ? meta.calibration.fusedTemperature : meta.calibration.temperature) }));
  const path = join(tmp, 'fused-again.eval.json');
  writeFileSync(path, JSON.stringify(again));
  const t2 = runCalibrate([path, files[1]], {}, () => undefined);
  assert.ok(Math.abs(t2 - t) < 0.02, `${t2} vs ${t}`);
  const c = await EmotionClassifier.load(model);
  assert.ok(Math.abs(c.fusedTemperature - meta.calibration.fusedTemperature) < 1e-3);
  await c.close();
});

test('evaluateItems with adapt: per speaker a cold start, warm-up clips counted apart; refused for a per-utterance model', async () => {
  const speakerModel = variant('tiny-speaker2', (m) => ((m.normalization as { mode: string }).mode = 'speaker'));
  const sc = await EmotionClassifier.load(speakerModel);
  const items = loadCorpus('ravdess', join(DATA, 'ravdess')).filter((i) => ['05', '06'].includes(i.speaker) && i.statement?.startsWith('Kids') && Number(i.name.split('-')[2]) <= 5);
  assert.ok(items.length >= 14, `${items.length} clips`);
  const r = await evaluateItems(sc, items, { corpus: 'ravdess', adapt: true, seed: 1 });
  const warm = r.adaptation!;
  assert.is(warm.warmup.n + warm.adapted.n, r.n);
  // 15 s of speech to warm up at about 1.5 s a clip: several warm-up clips per speaker, both speakers cold at first
  for (const spk of ['05', '06']) {
    const mine = r.predictions.filter((p) => p.speaker === spk);
    assert.ok(mine[0].warmup, `speaker ${spk} starts cold`);
  }
  assert.ok(warm.warmup.n >= 2 && warm.adapted.n >= 1, JSON.stringify({ warmup: warm.warmup.n, adapted: warm.adapted.n }));
  assert.ok(r.confidence.ece >= 0 && r.confidence.arousalUar >= 0 && r.confidence.coverage['50'] >= 0);
  const plain = await EmotionClassifier.load(MODEL);
  try {
    await evaluateItems(plain, items.slice(0, 2), { corpus: 'ravdess', adapt: true });
    assert.unreachable('a per-utterance model cannot adapt');
  } catch (e) {
    assert.match((e as Error).message, /--adapt: model tiny-lstm normalises per global/);
  }
  await sc.close();
  await plain.close();
});

test('eval --adapt order: grouped by speaker, shuffled per speaker by the seed, repeatable', () => {
  const items = loadCorpus('emotiontts-kr', join(DATA, 'emotiontts-kr'));
  const a = streamOrder(items, 1);
  const b = streamOrder(items, 1);
  const c = streamOrder(items, 2);
  assert.equal(a.map((i) => i.name), b.map((i) => i.name));
  assert.not.equal(a.map((i) => i.name), c.map((i) => i.name));
  assert.equal([...a.map((i) => i.name)].sort(), items.map((i) => i.name).sort());
  const speakers = a.map((i) => i.speaker);
  assert.equal(speakers, [...speakers].sort(), 'one speaker after another');
  assert.not.equal(a.slice(0, 20).map((i) => i.name), items.filter((i) => i.speaker === a[0].speaker).map((i) => i.name), 'not in file order');
});

test.run();
