// `npm run fuzz`: the seeded decode -> analyze fuzzer (src/bench/fuzz.ts) runs for a bounded time
// with no exception, hang, crash or memory overrun; and its watchdog does catch a hang (with a 1 ms
// limit every input "hangs"), saving the input and its reason and exiting 1.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-fuzz-test-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const fuzz = (...args: string[]) => spawnSync('npm', ['run', '--silent', 'fuzz', '--', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });

test('a bounded run over mutated WAV, AIFF and FLAC: only results and coded errors, under 300 MB', () => {
  const out = join(tmp, 'clean');
  const r = fuzz('--seconds', '10', '--seed', '7', '--out', out);
  assert.is(r.status, 0, `${r.stderr.slice(-2000)}`);
  const s = JSON.parse(r.stdout) as { inputs: number; ok: number; coded: Record<string, number>; exceptions: number; hangs: number; crashes: number; memory: number; peakRssMb: number };
  assert.ok(s.inputs >= 50, `only ${s.inputs} inputs in 10 s`);
  assert.ok(s.ok > 0 && (s.coded.E_AUDIO_FORMAT ?? 0) > 0, 'both good and refused inputs were produced');
  assert.is(s.exceptions + s.hangs + s.crashes + s.memory, 0);
  assert.ok(s.peakRssMb < 300, `peak RSS ${s.peakRssMb} MB`);
  assert.not.ok(existsSync(out), 'nothing was saved');
});

test('the hang watchdog catches a stuck input, saves it with its reason and fails the run', () => {
  const out = join(tmp, 'hangs');
  const r = fuzz('--inputs', '2', '--hang-ms', '1', '--seed', '3', '--out', out);
  assert.is(r.status, 1, r.stderr.slice(-2000));
  const s = JSON.parse(r.stdout) as { hangs: number };
  assert.is(s.hangs, 2);
  const saved = readdirSync(out);
  assert.is(saved.filter((f) => f.endsWith('.txt')).length, 2);
  assert.match(readFileSync(join(out, saved.find((f) => f.endsWith('.txt'))!), 'utf8'), /mutations .*\nno answer in 1 ms/);
});

test.run();
