// A FIFO with no writer used to block open(2) forever (`earshot analyze f`; `run --source file:f`
// never started and ignored SIGTERM): audio files are opened O_NONBLOCK and a FIFO is refused at
// once (src/runtime/audio/stream.ts). And SIGTERM ends `earshot run` within 5 s whatever it is
// doing: loading, waiting for an unreachable broker, replaying a file as fast as it can.
// The CLI runs from dist/ (`npm run build` first).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isEarshotError } from '../../src/core/errors.ts';
import { openAudioFile } from '../../src/runtime/audio/stream.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-fifo-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');
const FIFO = join(tmp, 'f');
execFileSync('mkfifo', [FIFO]);

test('openAudioFile refuses a FIFO with no writer at once (E_AUDIO_IO), instead of blocking in open', async () => {
  const t0 = Date.now();
  try {
    await openAudioFile(FIFO);
    assert.unreachable('opened');
  } catch (e) {
    assert.ok(isEarshotError(e) && e.code === 'E_AUDIO_IO', String(e));
    assert.match((e as Error).message, /a pipe \(FIFO\)/);
  }
  assert.ok(Date.now() - t0 < 1000);
});

test('earshot analyze FIFO returns within 5 s with the reason; run --source file:FIFO exits 66 within 5 s', () => {
  let t0 = Date.now();
  const a = spawnSync(process.execPath, ['bin/earshot.js', 'analyze', '--model', MODEL, FIFO], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  assert.ok(Date.now() - t0 < 5000, `analyze took ${Date.now() - t0} ms`);
  assert.is(a.status, 1, a.stderr); // analyze: a file that cannot be analysed exits 1 (test/bounded-reads: /dev/zero)
  assert.match(a.stderr, /a pipe \(FIFO\)/);
  t0 = Date.now();
  const r = spawnSync(process.execPath, ['bin/earshot.js', 'run', '--model', MODEL, '--source', `file:${FIFO}`, '--state-dir', join(tmp, 'run'), '--device-id', 'fifo', '--broker', 'mqtt://127.0.0.1:1', '--http-port', '0'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  assert.ok(Date.now() - t0 < 5000, `run took ${Date.now() - t0} ms`);
  assert.is(r.status, 66, r.stderr);
  assert.match(r.stderr, /a pipe \(FIFO\)/);
});

/** `earshot run` replaying the demo clip as fast as it can to an unreachable broker; SIGTERM after `waitFor` in its log (or at once): exit and ms. */
async function sigtermWhen(waitFor: RegExp | null, name: string): Promise<{ code: number | null; ms: number; log: string }> {
  const child = spawn(process.execPath, ['bin/earshot.js', 'run', '--model', MODEL, '--source', `file:${join(ROOT, 'assets/demo-angry.flac')}`, '--set', 'capture.realtime=false', '--set', 'capture.loop=true',
    '--state-dir', join(tmp, name), '--device-id', name, '--broker', 'mqtt://127.0.0.1:1', '--http-port', '0', '--log-format', 'json'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const t1 = Date.now();
  while (waitFor && !waitFor.test(log) && Date.now() - t1 < 20_000) await new Promise((r) => setTimeout(r, 20));
  const t0 = Date.now();
  child.kill('SIGTERM');
  const timeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await exit;
  clearTimeout(timeout);
  return { code, ms: Date.now() - t0, log };
}

test('SIGTERM exits within 5 s: while loading, while the broker is unreachable, while replaying flat out', async () => {
  for (const [name, at] of [['loading', null], ['broker-down', /cannot connect to the MQTT broker/], ['replaying', /capturing from/]] as const) {
    const r = await sigtermWhen(at, name);
    console.log(`    SIGTERM ${name}: exit ${r.code} after ${r.ms} ms`);
    assert.ok(r.ms < 5000, `${name}: ${r.ms} ms\n${r.log.slice(-1500)}`);
    assert.ok(r.code === 0 || r.code === null || r.code === 143, `${name}: exit ${r.code}`);
  }
});

test.run();
