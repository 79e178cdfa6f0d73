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
import { makeBabble, TALKERS } from '../helpers/crowd-talkers.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-analyze-crowd-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

const BABBLE = join(tmp, 'babble.wav');
const CLEAN = TALKERS[1][1][0];
const TINY = join(ROOT, 'test/fixtures/models/tiny-lstm.json');


const analyze = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'analyze', ...args], { encoding: 'utf8', cwd: ROOT });

function json(...args: string[]): FileAnalysis[] {
  const r = analyze('--json', ...args, BABBLE, CLEAN);
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as FileAnalysis[];
}

test('the babble: six talkers the detector never trained on', () => {
  makeBabble(tmp, BABBLE);
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
