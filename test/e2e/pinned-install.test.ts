// Pinned, honest installs (issue 31): the npm tarball carries npm-shrinkwrap.json (package-lock.json,
// copied by prepack), and the installs a user makes from it resolve the versions the tests ran on,
// even on a box where no native addon can be built (no libsystemd-dev, no PortAudio headers).
//
// Building is made to fail for every addon with npm_config_nodedir=/nonexistent (node-gyp finds no
// Node headers), which is what a missing systemd/sd-daemon.h does to sd-notify: the optional
// dependencies (sd-notify, naudiodon and its segfault-handler) are dropped and the install succeeds.
//
// npm (7 to 11 at least) ignores a shrinkwrap inside a tarball installed by path: pacote strips the
// `_hasShrinkwrap` flag that only a registry's manifest carries (npm/cli#5349). So the pinned route
// for a tarball is `npm ci --omit=dev` in the unpacked package (docs/install.md), checked here path by
// path against the lock; `npm install -g ./earshot-*.tgz` is checked for what package.json pins
// exactly (every direct dependency, onnxruntime-node with its onnxruntime-common among them), and the
// transitive versions it resolves differently are printed.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/paths.ts';

interface LockEntry { version?: string; dev?: boolean; optional?: boolean; devOptional?: boolean; link?: boolean }
interface Lock { packages: Record<string, LockEntry> }

const tmp = mkdtempSync(join(tmpdir(), 'earshot-pinned-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const npmEnv = {
  ...process.env, npm_config_nodedir: '/nonexistent', ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_audit: 'false', npm_config_fund: 'false',
  npm_config_update_notifier: 'false', npm_config_loglevel: 'warn',
};
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; optionalDependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
const tarball = join(tmp, `earshot-${pkg.version}.tgz`);

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: npmEnv, encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every installed package under `base`/node_modules, as lock-style paths ("node_modules/a/node_modules/b") with versions. */
function installed(base: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.')) continue;
      const dirs = name.startsWith('@') ? readdirSync(join(dir, name)).map((n) => join(dir, name, n)) : [join(dir, name)];
      for (const d of dirs) {
        const pj = join(d, 'package.json');
        if (!existsSync(pj)) continue;
        out.set(relative(base, d), (JSON.parse(readFileSync(pj, 'utf8')) as { version: string }).version);
        walk(join(d, 'node_modules'));
      }
    }
  };
  walk(join(base, 'node_modules'));
  return out;
}

test('npm pack ships npm-shrinkwrap.json, the same tree as package-lock.json, and leaves no copy behind', () => {
  const r = spawnSync('npm', ['pack', '--pack-destination', tmp], { cwd: ROOT, env: { ...npmEnv, npm_config_nodedir: '/usr' }, encoding: 'utf8', timeout: 600_000 });
  assert.is(r.status, 0, r.stderr);
  assert.not.ok(existsSync(join(ROOT, 'npm-shrinkwrap.json')), 'postpack removed the copy');
  const x = join(tmp, 'unpacked');
  mkdirSync(x);
  assert.is(run('tar', ['xzf', tarball, '-C', x, '--strip-components=1'], tmp).status, 0);
  assert.ok(existsSync(join(x, 'npm-shrinkwrap.json')), 'npm-shrinkwrap.json is in the tarball');
  assert.equal(JSON.parse(readFileSync(join(x, 'npm-shrinkwrap.json'), 'utf8')), lock);
  for (const [name, spec] of Object.entries({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
    assert.is(spec, lock.packages[`node_modules/${name}`].version, `${name} is pinned exactly in package.json`);
  }
  for (const name of ['sd-notify', 'naudiodon']) assert.ok(pkg.optionalDependencies[name], `${name} is optional`);
});

test('npm ci --omit=dev in the unpacked tarball: exactly the locked tree, though no addon builds', () => {
  const x = join(tmp, 'unpacked');
  const r = run('npm', ['ci', '--omit=dev'], x);
  assert.is(r.status, 0, r.stdout + r.stderr);
  const got = installed(x);
  const wrong = [...got].filter(([path, v]) => lock.packages[path]?.version !== v).map(([p, v]) => `${p}@${v} (lock: ${lock.packages[p]?.version ?? 'absent'})`);
  assert.equal(wrong, [], 'every installed package is where the lock puts it, at its version');
  const missing = Object.entries(lock.packages).filter(([p, e]) => p && !e.dev && !e.optional && !e.devOptional && !e.link && !got.has(p)).map(([p]) => p);
  assert.equal(missing, [], 'every locked production package is installed');
  // the build failed, so npm dropped the optional addons
  assert.not.ok(existsSync(join(x, 'node_modules/sd-notify/build/Release/notify.node')));
  assert.not.ok(existsSync(join(x, 'node_modules/naudiodon/build/Release/naudiodon.node')));
  console.log(`  npm ci --omit=dev: ${got.size} packages, all as locked; optional addons dropped: ${['sd-notify', 'naudiodon', 'segfault-handler'].filter((n) => !got.has(`node_modules/${n}`)).join(', ')}`);
  const v = spawnSync(process.execPath, ['bin/earshot.js', 'analyze', '--json', 'assets/demo-angry.flac'], { cwd: x, encoding: 'utf8', timeout: 120_000 });
  assert.is(v.status, 0, v.stderr);
});

test('npm install -g --prefix of the tarball: succeeds without addons, direct dependencies as locked', () => {
  const prefix = join(tmp, 'global');
  const r = run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', tarball], tmp);
  assert.is(r.status, 0, r.stdout + r.stderr);
  const base = join(prefix, 'lib/node_modules/earshot');
  const got = installed(base);
  for (const name of [...Object.keys(pkg.dependencies), 'onnxruntime-common']) {
    assert.is(got.get(`node_modules/${name}`), lock.packages[`node_modules/${name}`].version, name);
  }
  const lockVersions = new Map<string, Set<string>>();
  for (const [p, e] of Object.entries(lock.packages)) {
    const name = p.slice(p.lastIndexOf('node_modules/') + 13);
    if (p && e.version) lockVersions.set(name, (lockVersions.get(name) ?? new Set()).add(e.version));
  }
  const drift = [...got].map(([p, v]) => [p.slice(p.lastIndexOf('node_modules/') + 13), v]).filter(([n, v]) => !lockVersions.get(n)?.has(v)).map(([n, v]) => `${n}@${v}`);
  console.log(`  npm install -g: ${got.size} packages; ${drift.length} transitive versions not in the lock (npm ignores a tarball's shrinkwrap): ${drift.join(', ') || 'none'}`);
  const v = spawnSync(join(prefix, 'bin/earshot'), ['--version'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(v.status, 0, v.stderr);
  assert.is(v.stdout.trim(), pkg.version);
});

test.run();
