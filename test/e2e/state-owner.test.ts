// A state directory with files left by a run as another user (issue 29 item 4): the daemon stops
// before touching anything, naming the file, its owner and the one command that fixes it (exit 78);
// a root run on a directory that belongs to another user warns that it will leave root-owned state.
// The e2e part needs root (to make a root-owned file and run the daemon as `nobody`); it is skipped otherwise.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkStateOwnership } from '../../src/daemon/state-owner.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-owner-'));
chmodSync(tmp, 0o755);
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const root = process.getuid?.() === 0;
const NOBODY = 65534;

test('a root run on a directory that belongs to another user warns, naming the owner and the fix', () => {
  const dir = join(tmp, 'warn');
  mkdirSync(dir);
  if (root) chownSync(dir, NOBODY, NOBODY);
  const warnings: string[] = [];
  checkStateOwnership(dir, { warn: (_o, m) => warnings.push(m) }, 0);
  assert.is(warnings.length, 1);
  assert.match(warnings[0], /running as root on .*the files this run creates there will be owned by root/);
  assert.match(warnings[0], /sudo chown -R \S+: /);
  const none: string[] = [];
  checkStateOwnership(join(tmp, 'missing'), { warn: (_o, m) => none.push(m) }, 0);
  assert.equal(none, []);
});

test('the daemon as `nobody` on a state directory with a root-owned queue: exit 78 naming the file and `sudo chown -R nobody: DIR`', async () => {
  if (!root) {
    console.log('  skipped: needs root to make a root-owned file and run as nobody');
    return;
  }
  const dir = join(tmp, 'state');
  mkdirSync(join(dir, 'mqtt-queue'), { recursive: true });
  writeFileSync(join(dir, 'mqtt-queue', 'queue.jsonl'), '');
  chownSync(dir, NOBODY, NOBODY); // the directory is nobody's, what a root run left inside is root's
  const args = ['bin/earshot.js', 'run', '--state-dir', dir, '--http-port', '0', '--device-id', 'owner', '--log-format', 'json', '--source', `file:${join(ROOT, 'assets/demo-angry.flac')}`,
    '--set', `embeddedBroker.port=${await freePort()}`, '--set', 'embeddedBroker.wsPort=0'];
  const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, ...args], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: '/nonexistent' }, timeout: 60_000 });
  assert.is(r.status, 78, r.stderr.slice(-2000));
  assert.match(r.stderr, `the state directory holds ${join(dir, 'mqtt-queue')}, owned by root`);
  assert.match(r.stderr, `Fix it with: sudo chown -R nobody: ${dir}`);
});

test.run();
