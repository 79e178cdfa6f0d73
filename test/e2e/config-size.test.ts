// Config files over MAX_CONFIG_BYTES (1 MiB) are refused before they are parsed, and an error
// about unknown settings names the first 20 and counts the rest (src/daemon/config.ts). The CLI
// runs from dist/ (`npm run build` first); its peak RSS is measured by GNU time (%M, kB).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileLayer, loadDaemonConfig, MAX_CONFIG_BYTES } from '../../src/daemon/config.ts';
import { EarshotError } from '../../src/core/errors.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-config-size-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, EarshotError);
    assert.is((e as EarshotError).code, 'E_CONFIG');
    return (e as Error).message;
  }
  throw new Error('expected E_CONFIG');
}

/** `earshot run --config FILE --print-config` under GNU time: exit status, ms, peak RSS MB, stderr. */
function runWithConfig(file: string) {
  const t0 = Date.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'peak-kb %M', process.execPath, 'bin/earshot.js', 'run', '--config', file, '--print-config'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  const ms = Date.now() - t0;
  const kb = Number(/peak-kb (\d+)/.exec(r.stderr)?.[1]);
  return { status: r.status, ms, mb: kb / 1024, stderr: r.stderr.replace(/peak-kb \d+\n?/, '') };
}

test('a 50 MB string value and 50 MB of comments: exit 78 naming the size, fast and small', () => {
  const value = join(tmp, 'value.yaml');
  writeFileSync(value, `capture:\n  source: "file:${'x'.repeat(50_000_000)}"\n`);
  const comments = join(tmp, 'comments.yaml');
  writeFileSync(comments, `# ${'c'.repeat(78)}\n`.repeat(625_000));
  for (const file of [value, comments]) {
    const r = runWithConfig(file);
    console.log(`    ${file.split('/').pop()}: exit ${r.status} in ${r.ms} ms (node start included), peak RSS ${r.mb.toFixed(0)} MB`);
    assert.is(r.status, 78, r.stderr);
    assert.match(r.stderr, /over the 1048576 bytes \(1 MiB\) a config file may have/);
    assert.ok(r.mb < 150, `${r.mb} MB`);
    assert.ok(r.stderr.length < 400, r.stderr);
  }
  // in process, without Node's start-up: the refusal itself
  const t0 = performance.now();
  configError(() => fileLayer(value));
  assert.ok(performance.now() - t0 < 50, `${performance.now() - t0} ms`);
});

test('a pipe or device is read up to the cap only: /dev/zero is refused, not read forever', () => {
  const t0 = Date.now();
  assert.match(configError(() => fileLayer('/dev/zero')), /over the 1048576 bytes/);
  assert.ok(Date.now() - t0 < 1000);
});

test('a file of exactly the cap is parsed; one byte more is not', () => {
  const at = join(tmp, 'at.yaml');
  const head = 'stdout: true\n';
  writeFileSync(at, head + '#'.repeat(MAX_CONFIG_BYTES - head.length - 1) + '\n');
  assert.is(fileLayer(at).values.stdout, true);
  const over = join(tmp, 'over.yaml');
  writeFileSync(over, head + '#'.repeat(MAX_CONFIG_BYTES - head.length) + '\n');
  assert.match(configError(() => fileLayer(over)), /is 1048577 bytes/);
});

test('20,000 unknown keys: the first 20 named, the rest counted, a short error', () => {
  const file = join(tmp, 'unknown.yaml');
  writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => `k${i}: 1`).join('\n') + '\ncapture:\n  nope: 1\n');
  const t0 = Date.now();
  const message = configError(() => loadDaemonConfig({ flags: { config: file }, env: {}, uid: 1000 }));
  const ms = Date.now() - t0;
  const lines = message.split('\n');
  assert.ok(lines.length <= 23, `${lines.length} lines`);
  assert.ok(message.length < 5000, `${message.length} characters (was 2.5 MB)`);
  assert.match(message, /^invalid configuration \(20001 errors\)/);
  assert.match(message, /k0: unknown setting/);
  assert.match(message, /\.\.\. and 19981 more unknown settings \(20001 in all; the first 20 are listed\)/);
  assert.ok(ms < 5000, `${ms} ms`);
  const r = runWithConfig(file);
  assert.is(r.status, 78);
  assert.ok(r.stderr.split('\n').length <= 24, r.stderr);
});

test.run();
