// A run writes nothing outside its state directory and talks to nobody but loopback, watched under
// strace (issue 29 item 1): `earshot analyze`, `earshot run --demo` and a library user who imports
// the runtime, each with an empty temporary HOME and ORT_DISABLE_TELEMETRY=0 inherited (the code
// must force it). Fails on any DNS query (connect/sendto to port 53), any connection off the
// machine, any file created, written or renamed outside the allowed directories, and a HOME that is
// not empty afterwards. Before the fix onnxruntime-node 1.30 looked up
// mobile.events.data.microsoft.com and wrote ~/.cache/Microsoft/DeveloperTools/.onnxruntime/.
// Needs strace (scripts/setup.sh installs it) and a build (bin/earshot.js runs dist/).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// @ts-expect-error plain JavaScript shared with scripts/verify-deb.sh
import { violations } from '../../scripts/strace-check.mjs';
import { freePort } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-privacy-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const TRACED = 'connect,sendto,openat,creat,mkdir,mkdirat,rename,renameat,renameat2';

function hasStrace(): boolean {
  return spawnSync('strace', ['-V']).status === 0;
}

/** Runs node ARGS under strace in a fresh HOME; returns the trace, the output, the status and the HOME's entries. */
async function traced(name: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ trace: string; out: string; code: number | null; home: string[]; dir: string }> {
  const dir = join(tmp, name);
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  mkdirSync(join(dir, 'tmp'));
  const log = join(dir, 'strace.log');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, TMPDIR: join(dir, 'tmp'), ORT_DISABLE_TELEMETRY: '0', ...extraEnv };
  const child = spawn('strace', ['-f', '-y', '-qq', '-e', `trace=${TRACED}`, '-o', log, process.execPath, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { trace: readFileSync(log, 'utf8'), out, code, home: readdirSync(home, { recursive: true }) as string[], dir };
}

function check(r: { trace: string; out: string; code: number | null; home: string[] }, allow: string[]): void {
  assert.is(r.code, 0, r.out.slice(-2000));
  const found: string[] = violations(r.trace, { allow, cwd: ROOT });
  assert.equal(found, [], `violations:\n${found.join('\n')}`);
  assert.equal(r.home, [], 'HOME must stay empty');
  assert.not.match(r.trace, /mobile\.events\.data/);
}

test('strace is installed (scripts/setup.sh lists it)', () => {
  assert.ok(hasStrace(), 'strace is missing: run scripts/setup.sh (or apt-get install strace)');
});

test('earshot analyze: no DNS, no connection, nothing written, HOME empty', async () => {
  const r = await traced('analyze', ['bin/earshot.js', 'analyze', 'assets/demo-angry.flac']);
  assert.match(r.out, /angry/);
  check(r, [join(r.dir, 'tmp')]);
});

test('earshot run --demo: loopback only, writes only in its state directory, HOME empty', async () => {
  const state = join(tmp, 'demo-state');
  const [port, wsPort] = [await freePort(), await freePort()];
  const r = await traced('demo', ['bin/earshot.js', 'run', '--demo', '--state-dir', state, '--log-format', 'json', '--set', `embeddedBroker.port=${port}`, '--set', `embeddedBroker.wsPort=${wsPort}`]);
  assert.match(r.out, /"label":"angry"/, 'the demo printed its events');
  check(r, [state, join(r.dir, 'tmp')]);
});

test('a library user who imports the runtime (dist/runtime/model/session.js) loads a model without telemetry', async () => {
  const script = "const { EmotionClassifier } = await import('./dist/runtime/model/session.js'); const c = await EmotionClassifier.load('earshot-crnn'); await c.close(); console.log('loaded', process.env.ORT_DISABLE_TELEMETRY);";
  const r = await traced('library', ['--input-type=module', '-e', script]);
  assert.match(r.out, /loaded 1/);
  check(r, [join(r.dir, 'tmp')]);
});

test('worker threads: a model loaded in a worker whose parent turned telemetry off stays private; without that, the worker refuses to load the runtime', async () => {
  const worker = "const { EmotionClassifier } = await import('./dist/runtime/model/session.js'); const c = await EmotionClassifier.load('earshot-crnn'); await c.close(); console.log('loaded in worker')";
  const start = (parentImport: string) => `${parentImport} const { Worker } = await import('node:worker_threads'); const w = new Worker(${JSON.stringify(worker)}, { eval: true, type: 'module' }); w.on('error', (e) => { console.log('worker error: ' + e.message); });`;
  const guarded = await traced('worker', ['--input-type=module', '-e', start("await import('./dist/core/ort-env.js');")]);
  assert.match(guarded.out, /loaded in worker/);
  check(guarded, [join(guarded.dir, 'tmp')]);
  const bare = await traced('worker-bare', ['--input-type=module', '-e', start('')]);
  assert.match(bare.out, /worker error: earshot: ONNX Runtime's telemetry cannot be turned off from inside a worker thread/);
  check(bare, [join(bare.dir, 'tmp')]);
});

test.run();
