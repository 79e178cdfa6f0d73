// `earshot analyze` as a user runs it (the CLI in a child process) against the pipeline fed the
// same audio in other ways: random chunk sizes in-process, and a real file-replay capture source.
// Same segments, same labels, probabilities within 1e-6. Bad files are named and skipped. One verdict
// per file (the timeline with --timeline), a tone stays "no speech", folders are walked (600 clips:
// 600 verdicts and a summary), and eval warns when the model trained on the speakers it scores.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runEval, speakersSeenInTraining } from '../../src/commands/eval.ts';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { FileReplaySource } from '../../src/runtime/capture/file-replay.ts';
import { CAPTURE_DEFAULTS } from '../../src/runtime/capture/config.ts';
import { analyzeFile, type AnalyzedSegment, type FileAnalysis } from '../../src/runtime/pipeline/analyze-file.ts';
import { fileFeatures } from '../../src/runtime/frontend/file-features.ts';
import { Frontend } from '../../src/runtime/frontend/frontend.ts';
import { EmotionClassifier } from '../../src/runtime/model/session.ts';
import { EmotionPipeline } from '../../src/runtime/pipeline/pipeline.ts';
import { parsePipelineConfig } from '../../src/runtime/pipeline/config.ts';
import type { PipelineResult } from '../../src/runtime/pipeline/types.ts';
import { speechSpans } from '../../src/runtime/vad/speech-spans.ts';
import { parseVadConfig } from '../../src/runtime/vad/config.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');
const tmp = mkdtempSync(join(tmpdir(), 'earshot-analyze-'));
const classifier = await EmotionClassifier.load(MODEL);

// a RAVDESS clip as it is (16 kHz FLAC), and two EmoDB clips joined with a pause, as 44.1 kHz WAV
const RAVDESS = join(DATA, 'ravdess/Actor_05/03-01-05-02-01-01-05.flac');
const WAV44 = join(tmp, 'two-sentences-44k.wav');
const emodb = ['03a01Fa.flac', '08a01Wa.flac'].map((f) => join(DATA, 'emodb', f));
{
  const r = spawnSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', join(tmp, 'pause.wav'), 'synth', '0.7', 'whitenoise', 'vol', '0.0005']); // a pause of low noise
  assert.is(r.status, 0, String(r.stderr));
  const s = spawnSync('sox', [emodb[0], join(tmp, 'pause.wav'), emodb[1], '-r', '44100', WAV44]);
  assert.is(s.status, 0, String(s.stderr));
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'analyze', '--model', MODEL, ...args], { encoding: 'utf8', cwd: ROOT });
}

/** The file through a fresh pipeline in random-sized chunks (1..5000 samples), as a capture might deliver it. */
async function randomChunks(path: string, mode: 'utterance' | 'window'): Promise<PipelineResult[]> {
  const audio = await decodeAudioFile(path);
  const p = new EmotionPipeline({ classifier, config: parsePipelineConfig({ mode }) });
  const out: PipelineResult[] = [];
  p.on('result', (r) => out.push(r));
  let seed = 99;
  for (let i = 0; i < audio.samples.length; ) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const n = 1 + (seed % 5000);
    p.push({ samples: audio.samples.subarray(i, i + n), sampleRate: audio.sampleRate, time: i / audio.sampleRate });
    i += n;
    if (p.busy) await p.drain();
  }
  await p.end();
  return out;
}

function assertSame(cliSegs: AnalyzedSegment[], other: { startSec?: number; start: number | string; endSec?: number; label: string; probabilities: Record<string, number> }[], what: string): void {
  assert.is(other.length, cliSegs.length, what);
  cliSegs.forEach((s, i) => {
    const o = other[i];
    const start = typeof o.start === 'number' ? o.start : o.startSec!;
    assert.ok(Math.abs(start - s.start) < 1e-9, `${what} #${i} start ${start} vs ${s.start}`);
    assert.is(o.label, s.label, `${what} #${i}`);
    for (const l of classifier.labels) {
      if (Math.abs(o.probabilities[l] - s.probabilities[l]) > 1e-6) assert.unreachable(`${what} #${i} ${l}: ${o.probabilities[l]} vs ${s.probabilities[l]}`);
    }
  });
}

for (const mode of ['utterance', 'window'] as const) {
  test(`${mode}: earshot analyze --json and the pipeline fed random chunks agree per segment`, async () => {
    const r = cli('--json', '--mode', mode, RAVDESS, WAV44);
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as FileAnalysis[];
    assert.equal(out.map((a) => a.file), [RAVDESS, WAV44]);
    assert.is(out[1].sampleRate, 44100);
    assert.ok(out[1].segments.length >= 2, `two sentences: ${JSON.stringify(out[1].segments)}`);
    for (const a of out) {
      assert.ok(a.segments.length > 0 && a.segments.every((s) => s.kind === mode));
      assertSame(a.segments, await randomChunks(a.file, mode), `${mode} ${a.file}`);
      // the overall label is the duration-weighted mean of the segments
      const total = a.segments.reduce((t, s) => t + (s.end - s.start), 0);
      for (const l of classifier.labels) {
        const mean = a.segments.reduce((t, s) => t + (s.end - s.start) * s.probabilities[l], 0) / total;
        assert.ok(Math.abs(mean - a.overall!.probabilities[l]) < 1e-9);
      }
      const best = classifier.labels.reduce((b, l) => (a.overall!.probabilities[l] > a.overall!.probabilities[b] ? l : b));
      assert.is(a.overall!.label, best);
    }
  });
}

test('a real file-replay capture source into the pipeline gives what analyze gives', async () => {
  const cliOut = JSON.parse(cli('--json', WAV44).stdout) as FileAnalysis[];
  const source = await FileReplaySource.fromFile(WAV44, { ...CAPTURE_DEFAULTS, realtime: false, chunkSamples: 4410 });
  // as fast as the file can be read: a queue long enough that nothing is dropped
  const p = new EmotionPipeline({ classifier, config: parsePipelineConfig({ queueDepth: 64 }) });
  const got: PipelineResult[] = [];
  p.on('result', (r) => got.push(r));
  const ended = new Promise<void>((resolve) => source.once('end', () => resolve()));
  source.on('chunk', (c) => p.push(c));
  await source.start();
  await ended;
  await p.end();
  await source.stop();
  assert.is(p.stats().droppedInferences, 0);
  assertSame(cliOut[0].segments, got, 'file replay');
});

test('wholeFile is the model on the features `earshot features` computes for the file', async () => {
  const p = new EmotionPipeline({ classifier });
  const a = await analyzeFile(RAVDESS, p);
  const f = await fileFeatures(RAVDESS, new Frontend(classifier.model.frontend));
  const c = await classifier.classify(f.data, f.frames);
  assert.is(a.wholeFile!.label, c.label);
  classifier.labels.forEach((l, k) => assert.ok(Math.abs(a.wholeFile!.probabilities[l] - c.probabilities[k]) < 1e-6));
  assert.ok(Math.abs(a.durationSec - f.durationSec) < 1e-9);
});

const esc = (p: string) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('text output: one verdict line per file, saying which score it is; the timeline only with --timeline', () => {
  const r = cli(RAVDESS);
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], new RegExp(`^${esc(RAVDESS)}: \\w+ \\d+% over 1 utterance \\(1\\.6 s of speech in 3\\.4 s\\); arousal [-+]\\d\\.\\d\\d, valence [-+]\\d\\.\\d\\d$`));
  assert.ok(lines.length <= 2, r.stdout); // the verdict, and for an adaptive model the warm-up note
  assert.not.match(r.stdout, /whole file/);

  const t = cli('--timeline', RAVDESS);
  assert.is(t.status, 0, t.stderr);
  const tl = t.stdout.trim().split('\n');
  assert.is(tl[0], lines[0]);
  // the speech starts at 0.96 s for the energy VAD, 1.02 s for the default cascade (Silero)
  assert.match(tl[1], /^\s+(0\.9\d|1\.0\d) -\s+2\.[56]\d s {2}\w+\s+\d+% {2}arousal [-+]\d\.\d\d valence [-+]\d\.\d\d( \*)?$/);

  const w = cli('--verdict', 'whole-file', RAVDESS);
  assert.is(w.status, 0, w.stderr);
  const json = JSON.parse(cli('--json', RAVDESS).stdout) as FileAnalysis[];
  assert.match(w.stdout, new RegExp(`^${esc(RAVDESS)}: ${json[0].wholeFile!.label} \\d+% on the whole file \\(3\\.4 s, 1\\.6 s of it speech in 1 utterance\\)`));
  assert.is(cli('--verdict', 'best', RAVDESS).status, 64);
});

test('a tone is "no speech", with no whole-file guess, under either verdict', () => {
  const tone = join(tmp, 'tone.wav');
  assert.is(spawnSync('sox', ['-n', '-r', '16000', '-b', '16', tone, 'synth', '3', 'sine', '440', 'vol', '0.5']).status, 0);
  for (const verdict of ['utterances', 'whole-file']) {
    const r = cli('--verdict', verdict, tone);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), `${tone}: no speech detected in 3.0 s`);
  }
});

test('a folder of 600 clips: 600 verdicts in sorted order, the warm-up said once, and a summary', () => {
  // symlinks to RAVDESS clips (actors 1-10), in two sub-folders, beside a file that is not audio
  const dir = join(tmp, 'six-hundred');
  const clips = [...Array(10).keys()].flatMap((a) => {
    const actor = `Actor_${String(a + 1).padStart(2, '0')}`;
    return readdirSync(join(DATA, 'ravdess', actor)).filter((f) => f.endsWith('.flac')).map((f) => join(DATA, 'ravdess', actor, f));
  }).slice(0, 600);
  assert.is(clips.length, 600);
  for (const sub of ['a', 'b']) mkdirSync(join(dir, sub), { recursive: true });
  clips.forEach((c, i) => symlinkSync(c, join(dir, i < 300 ? 'a' : 'b', c.slice(c.lastIndexOf('/') + 1))));
  writeFileSync(join(dir, 'notes.txt'), 'not audio\n');
  const started = Date.now();
  const r = cli('--vad', 'energy', dir);
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const verdicts = lines.filter((l) => l.startsWith(dir));
  assert.is(verdicts.length, 600);
  const files = verdicts.map((l) => l.slice(0, l.indexOf(': ')));
  assert.equal(files, [...files].sort(), 'sorted by path');
  assert.ok(verdicts.every((l) => / over \d+ utterances? \(|: no speech detected in /.test(l)), 'each line is one verdict');
  assert.ok(lines.filter((l) => /warming up/.test(l)).length <= 1, 'the warm-up note at most once');
  const summary = lines.at(-1)!;
  const m = /^summary: 600 files: (.*); (\d+) no speech; 0 failed$/.exec(summary);
  assert.ok(m, summary);
  const labelled = m![1].split(', ').reduce((t, part) => t + Number(part.split(' ')[0]), 0);
  assert.is(labelled + Number(m![2]), 600, summary);
  assert.is(Number(m![2]), verdicts.filter((l) => l.includes('no speech')).length);
  console.log(`  600 files in ${((Date.now() - started) / 1000).toFixed(1)} s; ${summary}`);
});

test('a folder without audio files is named as a failure, the other inputs still analysed', () => {
  const empty = join(tmp, 'empty');
  mkdirSync(empty, { recursive: true });
  const r = cli(empty, RAVDESS);
  assert.is(r.status, 1);
  assert.match(r.stderr, new RegExp(`${esc(empty)}: no audio files`));
  assert.match(r.stdout, /summary: 2 files: 1 \w+; 0 no speech; 1 failed/);
});

test('bad files are named on stderr, the good ones still analysed, exit code 1', () => {
  const text = join(tmp, 'notes.wav');
  writeFileSync(text, 'this is not audio\n');
  const truncated = join(tmp, 'truncated.flac');
  writeFileSync(truncated, readFileSync(RAVDESS).subarray(0, 3000));
  const silence = join(tmp, 'silence.wav');
  assert.is(spawnSync('sox', ['-n', '-r', '16000', '-b', '16', silence, 'trim', '0', '2']).status, 0);
  const missing = join(tmp, 'missing.flac');
  const r = cli(text, RAVDESS, truncated, missing, silence);
  assert.is(r.status, 1, r.stderr);
  for (const bad of [text, truncated, missing]) assert.ok(r.stderr.includes(bad), `stderr names ${bad}: ${r.stderr}`);
  assert.match(r.stderr, /3 of 5 input\(s\) could not be analysed/);
  assert.match(r.stdout, /summary: 5 files: 1 \w+; 1 no speech; 3 failed/);
  assert.ok(r.stdout.includes(`${RAVDESS}: `), r.stdout);
  assert.ok(r.stdout.includes(`${silence}: no speech detected in 2.0 s`), r.stdout);
});

test('eval warns when the model trained on the speakers it scores (metadata training.corpora / heldOutSpeakers)', async () => {
  const training = { corpora: ['ravdess'], heldOutSpeakers: ['ravdess:03', 'ravdess:04'] };
  assert.equal(speakersSeenInTraining(training, 'ravdess', ['01', '03', '04']), ['01']);
  assert.equal(speakersSeenInTraining(training, 'ravdess', ['03', '04']), []);
  assert.equal(speakersSeenInTraining(training, 'emodb', ['03', '08']), [], 'another corpus: unseen speakers');
  // the fixture model trained on all of RAVDESS (heldOutSpeakers []): scoring its actor 1 is warned about
  const dir = join(tmp, 'ravdess-few', 'Actor_01');
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(join(DATA, 'ravdess/Actor_01')).filter((f) => f.endsWith('.flac')).slice(0, 4)) symlinkSync(join(DATA, 'ravdess/Actor_01', f), join(dir, f));
  const lines: string[] = [];
  const json = join(tmp, 'eval.json');
  await runEval(join(tmp, 'ravdess-few'), { corpus: 'ravdess', model: MODEL, vad: 'energy', json }, (l) => lines.push(l));
  const warning = lines.find((l) => l.startsWith('warning: '));
  assert.ok(warning, lines.join('\n'));
  assert.match(warning!, /trained on the one speaker scored here \(01\) .*not accuracy on unseen speakers/);
  assert.equal((JSON.parse(readFileSync(json, 'utf8')) as { speakersSeenInTraining: string[] }).speakersSeenInTraining, ['01']);
});

test('bad flags and a missing model are clear errors', () => {
  const m = cli('--mode', 'sentences', RAVDESS);
  assert.is(m.status, 64, 'EX_USAGE');
  assert.match(m.stderr, /--mode sentences: use one of utterance, window/);
  const n = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'analyze', '--model', 'no-such-model', RAVDESS], { encoding: 'utf8', cwd: ROOT });
  assert.is(n.status, 66, 'EX_NOINPUT');
  assert.match(n.stderr, /model "no-such-model" not found/);
});

test.after(async () => {
  await classifier.close();
  rmSync(tmp, { recursive: true, force: true });
});

for (const kind of ['energy', 'cascade', 'silero'] as const) test(`the speech spans training uses (earshot features --vad) are the segments the daemon classifies (vad ${kind})`, async () => {
  const pipeline = new EmotionPipeline({ classifier, config: parsePipelineConfig({ mode: 'utterance', vad: { kind } }) });
  const fc = classifier.model.frontend;
  const frontend = new Frontend(fc);
  let compared = 0;
  for (const path of [RAVDESS, WAV44, join(DATA, 'ravdess/Actor_12/03-01-08-01-02-02-12.flac'), join(DATA, 'tess/OAF_angry/OAF_bar_angry.flac'), join(ROOT, 'assets/demo-sequence.flac')]) {
    const a = await analyzeFile(path, pipeline);
    const f = await fileFeatures(path, frontend);
    const spans = speechSpans(f.samples, fc, parseVadConfig({ kind })).filter(([s, e]) => e - s >= classifier.meta.window.minFrames);
    const seconds = spans.map(([s, e]) => [(s * fc.hopLength) / fc.sampleRate, ((e - 1) * fc.hopLength + fc.frameLength) / fc.sampleRate]);
    assert.is(seconds.length, a.segments.length, `${path}: ${JSON.stringify(seconds)} vs ${JSON.stringify(a.segments.map((s) => [s.start, s.end]))}`);
    seconds.forEach(([s, e], i) => {
      assert.ok(Math.abs(s - a.segments[i].start) < 1e-9 && Math.abs(e - a.segments[i].end) < 1e-9, `${path} segment ${i}`);
      compared++;
    });
  }
  assert.ok(compared >= 5, `compared ${compared} segments`);
});
test.run();
