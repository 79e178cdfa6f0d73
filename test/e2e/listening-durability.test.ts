// Listening OFF is on disk before it is acknowledged (issue 29 item 7, src/daemon/listening.ts):
// temp file, fsync, rename, fsync of the directory; a write that fails (a full tmpfs, or injected
// failures where mounting is not allowed) answers 503 and keeps the microphone closed (OFF holds,
// ON is refused); stale `listening.json.*.tmp` files are removed at start.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startHttpServer } from '../../src/daemon/http.ts';
import { ListeningSwitch, type ListeningFs } from '../../src/daemon/listening.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-listening-'));
const mounts: string[] = [];
process.once('exit', () => {
  for (const m of mounts) spawnSync('umount', [m]);
  rmSync(tmp, { recursive: true, force: true });
});

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
/** node:fs with writeSync failing while `full.on` is set, and every call recorded. */
function failingFs(full: { on: boolean }, calls: string[] = []): ListeningFs {
  return {
    ...fs,
    openSync: ((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => (calls.push(`open ${String(p).split('/').pop()}`), fs.openSync(p, flags, mode))) as typeof fs.openSync,
    writeSync: ((fd: number, text: string) => {
      calls.push('write');
      if (full.on) throw enospc();
      return fs.writeSync(fd, text);
    }) as typeof fs.writeSync,
    fsyncSync: (fd: number) => (calls.push('fsync'), fs.fsyncSync(fd)),
    renameSync: (a: fs.PathLike, b: fs.PathLike) => (calls.push('rename'), fs.renameSync(a, b)),
  };
}

const post = (port: number, body: string) => fetch(`http://127.0.0.1:${port}/listening`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

async function withHttp(sw: ListeningSwitch, fn: (port: number) => Promise<void>): Promise<void> {
  const http = await startHttpServer({ host: '127.0.0.1', port: 0 }, { health: () => ({ healthy: true, body: {} }), metricsText: () => '', listening: sw });
  try {
    await fn(http.port);
  } finally {
    await http.close();
  }
}

test('the write order: temp file written and fsynced, renamed, then the directory fsynced', () => {
  const calls: string[] = [];
  const dir = join(tmp, 'order');
  const sw = new ListeningSwitch(dir, 'last', undefined, failingFs({ on: false }, calls));
  assert.ok(sw.set(false, 'HTTP'));
  assert.equal(calls, [`open listening.json.${process.pid}.tmp`, 'write', 'fsync', 'rename', 'open order', 'fsync']);
  assert.equal(readdirSync(dir), ['listening.json']);
});

test('a failed write (injected ENOSPC): POST OFF answers 503 and holds OFF; ON is refused (503) and the microphone stays closed; no temp file stays', async () => {
  const dir = join(tmp, 'injected');
  const full = { on: true };
  const sw = new ListeningSwitch(dir, 'last', undefined, failingFs(full));
  assert.ok(sw.isOn);
  await withHttp(sw, async (port) => {
    const off = await post(port, '{"listening":"OFF"}');
    assert.is(off.status, 503);
    const body = (await off.json()) as { listening: string; persisted: boolean; error: string };
    assert.equal([body.listening, body.persisted], ['OFF', false]);
    assert.match(body.error, /could not be saved/);
    assert.not.ok(sw.isOn, 'OFF holds in memory: the microphone is closed');
    assert.equal(readdirSync(dir), [], 'no temp file left behind');
    const on = await post(port, '{"listening":"ON"}');
    assert.is(on.status, 503);
    assert.not.ok(sw.isOn, 'ON is not applied while it cannot be saved');
    full.on = false;
    assert.is((await post(port, '{"listening":"ON"}')).status, 200);
    assert.is((await post(port, '{"listening":"OFF"}')).status, 200);
  });
  assert.not.ok(new ListeningSwitch(dir, 'last').isOn, 'an acknowledged OFF is OFF after a restart');
});

test('a full tmpfs (64 KiB): OFF is refused with 503, never acknowledged and then lost; after space is freed, OFF is 200 and survives a restart', async () => {
  const dir = join(tmp, 'tmpfs');
  mkdirSync(dir);
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status !== 0) {
    console.log('  skipped: cannot mount a tmpfs here (not root?); the injected failure above covers the logic');
    return;
  }
  mounts.push(dir);
  const sw = new ListeningSwitch(dir, 'last');
  // fill it
  const filler = join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096, 1));
  } catch (e) {
    assert.is((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  await withHttp(sw, async (port) => {
    assert.is((await post(port, '{"listening":"OFF"}')).status, 503);
    assert.not.ok(sw.isOn);
    assert.equal(readdirSync(dir).sort(), ['filler'], 'no 0-byte temp file stays');
    rmSync(filler);
    // the restart a full disk used to turn back ON: now the user was told (503); once freed, OFF is saved
    assert.ok(new ListeningSwitch(dir, 'last').isOn, 'unsaved, as the 503 said');
    const sw2 = new ListeningSwitch(dir, 'last');
    await withHttp(sw2, async (port2) => {
      assert.is((await post(port2, '{"listening":"OFF"}')).status, 200);
    });
  });
  assert.not.ok(new ListeningSwitch(dir, 'last').isOn, 'OFF after the restart');
});

test('stale listening.json.*.tmp files are removed at start; others are left alone', () => {
  const dir = join(tmp, 'stale');
  mkdirSync(dir);
  writeFileSync(join(dir, 'listening.json.4242.tmp'), '');
  writeFileSync(join(dir, 'listening.json'), '{"on":false,"by":"HTTP","since":"2026-12-01T00:00:00.000Z"}\n');
  writeFileSync(join(dir, 'other.tmp'), '');
  const sw = new ListeningSwitch(dir, 'last');
  assert.not.ok(sw.isOn);
  assert.not.ok(existsSync(join(dir, 'listening.json.4242.tmp')));
  assert.ok(existsSync(join(dir, 'other.tmp')));
});

test.run();
