// The training package's own tests (pytest: splits, label masks, corpus balance, normalisation) and
// its style (flake8 with training/python/.flake8; ruff is not packaged in Debian 12), run from here so
// `bash scripts/test.sh` covers the Python too.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/paths.ts';

const PY = join(ROOT, 'training', 'python');

function run(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('/usr/bin/python3', args, { cwd: PY, encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('pytest training/python/tests passes', () => {
  const r = run(['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests']);
  assert.is(r.status, 0, r.out);
  assert.match(r.out, /\d+ passed/);
});

test('flake8 finds nothing in earshot_train and its tests', () => {
  const r = run(['-m', 'flake8', 'earshot_train', 'tests']);
  assert.is(r.status, 0, r.out);
});

test.run();
