// `earshot analyze --crowd suppress|mark|off` (issue 32): the CLI with the default model and the
// shipped crowd detector on real corpus audio of speakers the detector never trained on (its test
// split). Six-talker babble (each talker normalised, summed by sox) is marked under mark (the
// default, as the daemon's pipeline.crowd) with the answers of --crowd off unchanged, and held back
// under suppress; one clean sentence is neither. A bad mode is a usage error; a model with another
// frontend is analysed unmarked under mark (a warning) and refused under suppress.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FileAnalysis } from '../../src/runtime/pipeline/analyze-file.ts';
import { crowdSplit } from '../../src/training/crowd-mixtures.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-analyze-crowd-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

const ravdess = (actor: string, clips: string[]) => clips.map((c) => join(DATA, 'ravdess', `Actor_${actor}`, `03-01-${c}-${actor}.flac`));
const nemo = (speaker: string, clips: string[]) => clips.map((c) => join(DATA, 'nemo', 'samples', `${speaker}_${c}.flac`));
// six talkers of the detector's test split (test/e2e/crowd.test.ts's), three sentences each
const TALKERS: [string, string[]][] = [
  ['ravdess:04', ravdess('04', ['01-01-01-01', '03-02-01-02', '05-01-02-01'])],
  ['ravdess:09', ravdess('09', ['02-01-02-01', '04-02-01-02', '06-01-01-01'])],
  ['ravdess:13', ravdess('13', ['03-01-01-01', '05-02-02-02', '07-01-02-01'])],
  ['ravdess:18', ravdess('18', ['04-01-01-02', '06-02-02-01', '08-01-01-01'])],
  ['nemo:MK0', nemo('MK0', ['anger_1', 'neutral_2', 'sadness_3'])],
  ['nemo:MP0', nemo('MP0', ['happiness_1', 'neutral_4', 'surprised_12'])],
];
const BABBLE = join(tmp, 'babble.wav');
const CLEAN = TALKERS[1][1][0];
const TINY = join(ROOT, 'test/fixtures/models/tiny-lstm.json');

function sox(args: string[]): void {
  const r = spawnSync('sox', args, { encoding: 'utf8' });
  assert.is(r.status, 0, `sox ${args.join(' ')}: ${r.stderr}`);
}

const analyze = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'analyze', ...args], { encoding: 'utf8', cwd: ROOT });

function json(...args: string[]): FileAnalysis[] {
  const r = analyze('--json', ...args, BABBLE, CLEAN);
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as FileAnalysis[];
}

test('the babble: six talkers the detector never trained on', () => {
  for (const [speaker] of TALKERS) assert.is(crowdSplit(speaker), 'test', speaker);
  const tracks = TALKERS.map(([, files], i) => {
    const t = join(tmp, `talker${i}.wav`);
    sox(['--norm=-3', ...files, '-r', '16000', '-c', '1', t]);
    return t;
  });
  sox(['-m', ...tracks, BABBLE, 'pad', '1', '1']);
});

test('mark (the default): babble segments carry crowd: true, the clean sentence does not; every answer as with --crowd off', () => {
  const [babble, clean] = json();
  assert.equal(json('--crowd', 'mark'), [babble, clean], 'the default is mark');
  assert.ok(babble.segments.length >= 1);
  assert.ok(babble.segments.every((s) => s.crowd === true), JSON.stringify(babble.segments));
  assert.equal(babble.crowd, { mode: 'mark', marked: babble.segments.length, suppressed: 0 });
  assert.ok(clean.segments.length >= 1 && clean.segments.every((s) => !('crowd' in s)));
  assert.equal(clean.crowd, { mode: 'mark', marked: 0, suppressed: 0 });
  const off = json('--crowd', 'off');
  assert.not.ok(off.some((a) => 'crowd' in a), 'off: no detector, no crowd fields');
  const strip = (a: FileAnalysis) => ({ ...a, crowd: undefined, segments: a.segments.map(({ crowd: _c, ...s }) => s) });
  // the files are analysed apart (no --adapt), so the marked babble changes no baseline another file sees
  assert.equal([babble, clean].map(strip), off.map(strip));
  const text = analyze('--timeline', BABBLE);
  assert.is(text.status, 0, text.stderr);
  assert.match(text.stdout, / {2}crowd( \*)?$/m);
});

test('suppress: the babble gets no verdict and says why; the clean sentence is answered as before', () => {
  const [babble, clean] = json('--crowd', 'suppress');
  const [, offClean] = json('--crowd', 'off');
  assert.equal(babble.segments, []);
  assert.is(babble.overall, null);
  assert.ok(babble.crowd!.suppressed >= 1);
  assert.equal(clean.segments, offClean.segments);
  const text = analyze('--crowd', 'suppress', BABBLE, CLEAN);
  assert.is(text.status, 0, text.stderr);
  assert.match(text.stdout, /babble\.wav: no verdict: \d+ utterance\(s\) with no dominant talker held back \(--crowd suppress\)/);
  assert.match(text.stdout, /summary: 2 files: .*1 only crowd \(held back\)/);
});

test('a bad mode is a usage error; a model with another frontend: unmarked with a warning (mark), refused (suppress)', () => {
  const bad = analyze('--crowd', 'drop', CLEAN);
  assert.is(bad.status, 64);
  assert.match(bad.stderr, /--crowd drop: use one of suppress, mark, off/);
  const mark = analyze('--model', TINY, '--json', CLEAN);
  assert.is(mark.status, 0, mark.stderr);
  assert.match(mark.stderr, /--crowd mark: .*trained on another frontend/);
  assert.not.ok('crowd' in (JSON.parse(mark.stdout) as FileAnalysis[])[0]);
  const suppress = analyze('--model', TINY, '--crowd', 'suppress', CLEAN);
  assert.is(suppress.status, 78, suppress.stderr);
  assert.match(suppress.stderr, /trained on another frontend/);
});

test.run();
