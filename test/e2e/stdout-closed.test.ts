// A reader that goes away (`| head`) ends earshot's output quietly: exit 0 and no stack trace,
// for a command and for the daemon printing events (which shuts down as on SIGTERM).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/paths.ts';

const CLI = join(ROOT, 'src/cli.ts');

/** Runs earshot with stdout on a pipe whose reader closes after the first chunk (`now`: at once); resolves with the exit status and stderr. */
function firstChunkThenClose(args: string[], now = false): Promise<{ code: number | null; stderr: string; chunk: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let chunk = '';
    child.stderr.on('data', (d) => (stderr += d));
    if (now) child.stdout.destroy();
    child.stdout.once('data', (d) => {
      chunk = String(d);
      child.stdout.destroy(); // as `head -1` does once it has its line
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, chunk });
    });
  });
}

test('a command whose reader goes away exits 0 without a trace', async () => {
  // the reader is gone before the first line: every write meets a closed pipe
  const r = await firstChunkThenClose(['run', '--print-env'], true);
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stderr, /EPIPE|Error/);
});

test('the demo printing events to a reader that goes away shuts down cleanly', async () => {
  const r = await firstChunkThenClose(['run', '--demo', '--stdout', '--log-format', 'json', '--log-level', 'info']);
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stderr, /EPIPE|unhandled|internal error/);
  assert.match(r.stderr, /stdout closed/);
});

test.run();
