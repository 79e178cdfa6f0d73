// The daemon's edges (issue 20). `--stdout` is a clean JSON-lines stream with the PortAudio source
// (naudiodon's native code prints "PortAudio V19..." to fd 1 when a stream opens; the stream runs in
// a worker whose fd 1 is logged), captured from a real ALSA device: the `file` plugin (helpers/alsa.ts).
// And no stray files: a daemon run leaves its working directory as it found it, and a segfault in a
// process that loaded naudiodon reports on stderr instead of writing crash.log into the cwd.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAlsaFixture } from '../helpers/alsa.ts';
import { ROOT } from '../helpers/paths.ts';

const alsa = makeAlsaFixture();
const tmp = mkdtempSync(join(tmpdir(), 'earshot-edges-'));
process.once('exit', () => {
  alsa.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

test('--stdout with --source portaudio: every stdout line is a JSON event; PortAudio chatter goes to the log; the cwd is untouched', async () => {
  const cwd = mkdtempSync(join(tmp, 'cwd-'));
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/earshot.js'), 'run', '--source', 'portaudio:wavcap', '--stdout', '--model', join(ROOT, 'test/fixtures/models/tiny-lstm.json'),
      '--state-dir', join(tmp, 'state'), '--http-port', '0', '--set', 'embeddedBroker.port=0', '--log-level', 'info'],
    { cwd, env: { ...process.env, ALSA_CONFIG_PATH: alsa.alsaConfigPath }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const firstLine = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no event on stdout within 20 s; stderr:\n${stderr.slice(-3000)}`)), 20000);
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (stdout.includes('\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  try {
    await firstLine;
  } finally {
    child.kill('SIGTERM');
  }
  const code = await exit;
  assert.is(code, 0, stderr.slice(-3000));
  const lines = stdout.split('\n');
  assert.is(lines.pop(), '', 'stdout ends with a newline');
  assert.ok(lines.length >= 1);
  for (const line of lines) {
    let event: { id?: string; label?: string };
    try {
      event = JSON.parse(line);
    } catch {
      assert.unreachable(`stdout line is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
      return;
    }
    assert.type(event.id, 'string');
    assert.type(event.label, 'string');
  }
  // the chatter still exists, in the log (so this test would see it if it went back to stdout)
  assert.match(stderr, /portaudio:wavcap: PortAudio V19/);
  assert.equal(readdirSync(cwd), [], 'the daemon left files in its working directory');
});

/** Loads naudiodon the way earshot does (the compiled dist/, as the daemon runs) or plainly with `require`, then dereferences a bad pointer through segfault-handler. */
function segfaultIn(cwd: string, how: 'earshot' | 'plain') {
  const load = how === 'earshot'
    ? `const { loadNaudiodon } = await import(${JSON.stringify(join(ROOT, 'dist/runtime/capture/portaudio.js'))}); await loadNaudiodon();`
    : `createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('naudiodon');`;
  const script = `import { createRequire } from 'node:module'; ${load}
    createRequire(createRequire(${JSON.stringify(join(ROOT, 'package.json'))}).resolve('naudiodon'))('segfault-handler').causeSegfault();`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8', env: { ...process.env, ALSA_CONFIG_PATH: alsa.alsaConfigPath } });
}

test('a segfault after naudiodon loads reports on stderr and writes no crash.log into the cwd', () => {
  // control: naudiodon as shipped writes crash.log into the working directory
  const plain = mkdtempSync(join(tmp, 'plain-'));
  const p = segfaultIn(plain, 'plain');
  assert.ok(p.signal === 'SIGSEGV' || p.status !== 0, `the control did not crash: ${p.stderr}`);
  assert.equal(readdirSync(plain), ['crash.log'], 'the control should show naudiodon writing crash.log (else this test proves nothing)');

  const cwd = mkdtempSync(join(tmp, 'crash-'));
  const r = segfaultIn(cwd, 'earshot');
  assert.ok(r.signal === 'SIGSEGV' || r.status !== 0, `did not crash: ${r.stderr}`);
  assert.match(r.stderr, /received SIGSEGV for address/);
  assert.equal(readdirSync(cwd), [], 'crash report written into the working directory');
});

test.run();
