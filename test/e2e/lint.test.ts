// Style kept by tools (issue 30 item 4): eslint (eslint.config.js: typescript-eslint's recommended
// rules, complexity <= 25, functions <= 80 lines, files <= 400 lines) over src/, scripts/ and test/
// with no error; every exception written where it is with its reason; prettier --check on the files
// it formats (.prettierignore lists them); no import cycle (scripts/import-cycles.ts).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importCycles } from '../../scripts/import-cycles.ts';
import { ROOT } from '../helpers/paths.ts';

const bin = (name: string) => join(ROOT, 'node_modules/.bin', name);

test('eslint: no error in src/, scripts/ and test/', () => {
  const r = spawnSync(bin('eslint'), ['--max-warnings', '0', 'src', 'scripts', 'test'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.is(r.status, 0, `eslint exited ${r.status} ${r.signal ?? ''}:\n${r.stdout}${r.stderr}`);
});

test('every eslint-disable says why (`-- reason`)', () => {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? (n === 'fixtures' ? [] : walk(p)) : /\.(ts|js|mjs)$/.test(n) ? [p] : [];
    });
  const bare: string[] = [];
  for (const file of ['src', 'scripts', 'test'].flatMap((d) => walk(join(ROOT, d)))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/(\/\/|\/\*)\s*eslint-disable/.test(line) && !/ -- \S/.test(line)) bare.push(`${relative(ROOT, file)}:${i + 1}`);
      });
  }
  assert.equal(bare, []);
});

test('prettier: the formatted files stay formatted', () => {
  const r = spawnSync(bin('prettier'), ['--check', '.'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.is(r.status, 0, `prettier --check exited ${r.status}:\n${r.stdout}${r.stderr}`);
});

test('no import cycle in src/, scripts/ or test/; the check finds one, and ignores type-only imports', () => {
  assert.equal(importCycles(ROOT), []);
  const dir = mkdtempSync(join(tmpdir(), 'earshot-cycles-'));
  try {
    mkdirSync(join(dir, 'src/a'), { recursive: true });
    writeFileSync(join(dir, 'src/a/x.ts'), "import { y } from './y.ts';\nexport const x = () => y;\n");
    writeFileSync(join(dir, 'src/a/y.ts'), "import { z } from '../z.ts';\nexport const y = z;\n");
    writeFileSync(join(dir, 'src/z.ts'), "export { x } from './a/x.ts';\nexport const z = 1;\n");
    writeFileSync(join(dir, 'src/t1.ts'), "import type { T2 } from './t2.ts';\nexport type T1 = T2 | 1;\n");
    writeFileSync(join(dir, 'src/t2.ts'), "import { type T1 } from './t1.ts';\nexport type T2 = T1 | 2;\n");
    assert.equal(importCycles(dir, ['src']), [['src/a/x.ts', 'src/a/y.ts', 'src/z.ts']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
