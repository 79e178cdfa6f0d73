// The npm package as a user gets it: `npm pack` (prepack builds dist/), the tarball installed into
// an empty folder from the registry (no checkout, no tsx, no TypeScript), then `earshot --version`,
// `earshot analyze` on the bundled clip, `earshot run --demo` through the embedded broker, and the
// frontend benchmark's clear refusal without its development-only peers. Also the exit statuses
// a supervisor acts on (sysexits), from the installed copy.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emotionEventSchema } from '../../src/runtime/publish/payloads.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-pack-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
// as scripts/setup.sh: node-gyp must not download headers, onnxruntime-node must not fetch CUDA
const npmEnv = { ...process.env, npm_config_nodedir: '/usr', ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const app = join(tmp, 'app');
const installed = join(app, 'node_modules', 'earshot');
let tarball = '';

function run(cmd: string, args: string[], opts: { cwd: string; timeout?: number }): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd: opts.cwd, env: npmEnv, encoding: 'utf8', timeout: opts.timeout ?? 300_000, stdio: ['ignore', 'pipe', 'pipe'] });
}
const earshot = (...args: string[]) => spawnSync(join(app, 'node_modules', '.bin', 'earshot'), args, { cwd: app, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } });

test('npm pack builds and packs what a user needs, and nothing of the development tree', () => {
  const r = run('npm', ['pack', '--pack-destination', tmp], { cwd: ROOT });
  assert.is(r.status, 0, r.stderr);
  tarball = join(tmp, `earshot-${version}.tgz`);
  assert.ok(existsSync(tarball), readdirSync(tmp).join(', '));
  const list = run('tar', ['-tzf', tarball], { cwd: tmp }).stdout.split('\n').filter(Boolean).map((p) => p.replace(/^package\//, ''));
  for (const need of ['bin/earshot.js', 'dist/cli.js', 'dist/runtime/model/session.js', 'dist/wasm/frontend.wasm', 'dist/wasm/frontend-scalar.wasm', 'dist/wasm/resampler.wasm',
    'models/earshot-crnn.onnx', 'models/earshot-crnn.json', 'models/README.md', 'assets/demo-sequence.flac', 'systemd/earshot.service', 'README.md', 'LICENSE', 'package.json',
    // the examples (issue 31); examples/README.md gives commands for them
    'examples/README.md', 'examples/mqtt-websocket.html', 'examples/node-red/flow.json', 'examples/node-red/README.md', 'assets/dashboard/fleet.html', 'assets/dashboard/fleet.js']) {
    assert.ok(list.includes(need), `${need} is in the tarball`);
  }
  const leaked = list.filter((p) => /^(src|test|assembly)\//.test(p) || p.endsWith('.ts') || p.startsWith('training/'));
  assert.equal(leaked, [], 'no TypeScript sources, tests or training scripts');
  console.log(`  tarball: ${(statSync(tarball).size / 1e6).toFixed(2)} MB, ${list.length} files`);
});

test('the tarball installs into an empty folder without the development dependencies', () => {
  run('mkdir', ['-p', app], { cwd: tmp });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'earshot-user', version: '1.0.0', private: true }));
  const r = run('npm', ['install', '--prefer-offline', tarball], { cwd: app, timeout: 600_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.ok(existsSync(join(installed, 'dist', 'cli.js')));
  for (const dev of ['tsx', 'typescript', 'assemblyscript', 'binaryen', 'meyda', 'fft.js', 'uvu']) {
    assert.not.ok(existsSync(join(app, 'node_modules', dev)), `${dev} (a development tool) is not installed`);
  }
});

test('the installed earshot: --version, analyze on the bundled clip, --demo through the embedded broker', () => {
  const v = earshot('--version');
  assert.is(v.status, 0, v.stderr);
  assert.is(v.stdout.trim(), version);

  const a = earshot('analyze', '--json', join(installed, 'assets', 'demo-angry.flac'));
  assert.is(a.status, 0, a.stderr);
  const analysis = JSON.parse(a.stdout) as { file: string; overall: { label: string; confidence: number } | null }[];
  assert.is(analysis.length, 1);
  assert.ok(analysis[0].overall, 'the bundled clip has speech');
  assert.ok(analysis[0].overall!.confidence > 0 && analysis[0].overall!.confidence <= 1);

  const d = earshot('run', '--demo', '--log-level', 'warn');
  assert.is(d.status, 0, d.stderr);
  const events = d.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  assert.ok(events.length >= 3, `the 4-emotion demo gives an event per utterance: ${d.stdout}`);
  for (const e of events) assert.ok(emotionEventSchema.safeParse(e).success, JSON.stringify(e));
  assert.is(new Set(events.map((e) => e.id)).size, events.length);
});

test('the installed earshot says what is missing for the frontend benchmark, and exits with sysexits statuses', () => {
  const b = earshot('bench', '--only', 'frontend', '--seconds', '1', '--rounds', '1');
  assert.is(b.status, 69, b.stderr);
  assert.match(b.stderr, /meyda and fft\.js, development tools/);

  assert.is(earshot('analyze', '--mode', 'sentences', 'x.wav').status, 64, 'a bad flag value: EX_USAGE');
  assert.is(earshot('no-such-command').status, 64, 'an unknown command: EX_USAGE');
  assert.is(earshot('analyze', '--model', 'no-such-model', 'x.wav').status, 66, 'a missing model: EX_NOINPUT');
  writeFileSync(join(tmp, 'bad.yaml'), 'capture: [1, 2\n');
  const c = earshot('run', '--config', join(tmp, 'bad.yaml'));
  assert.is(c.status, 78, c.stderr);
  assert.match(c.stderr, /bad\.yaml is not valid YAML/);
});

test.run();
