// One daemon per state directory (issue 29 item 2): the lock is an abstract unix socket
// (src/daemon/state-lock.ts). A second taker is refused at once with E_STATE_LOCKED (exit 75)
// naming the directory and the PID holding it; a SIGKILLed holder leaves nothing behind; a second
// `earshot run` on one directory exits 75 in under a second; a client-id clash from the broker
// ("Identifier rejected") says it is a clash.
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT_STATUS, isEarshotError } from '../../src/core/errors.ts';
import { lockStateDir } from '../../src/daemon/state-lock.ts';
import { parsePublisherConfig } from '../../src/runtime/publish/config.ts';
import { MqttPublisher, type MqttClientLike } from '../../src/runtime/publish/publisher.ts';
import { killDaemon, spawnDaemon } from '../helpers/daemon.ts';
import { sleep, waitUntil } from '../helpers/harness.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-lock-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('a second lock on one directory is refused at once, naming the directory and the holder; released, it can be taken again', async () => {
  const dir = join(tmp, 'a');
  const first = await lockStateDir(dir);
  const t0 = performance.now();
  const err = await lockStateDir(dir).then(() => null, (e: unknown) => e);
  const ms = performance.now() - t0;
  assert.ok(isEarshotError(err), String(err));
  assert.is(err.code, 'E_STATE_LOCKED');
  assert.is(EXIT_STATUS[err.code], 75);
  assert.match(err.message, dir);
  assert.match(err.message, `process ${process.pid}`);
  assert.ok(ms < 1000, `${ms} ms`);
  // another directory is another lock; the same directory by another path is the same lock
  const other = await lockStateDir(join(tmp, 'b'));
  await other.release();
  assert.ok(isEarshotError(await lockStateDir(`${tmp}/./a/`).catch((e: unknown) => e)));
  await first.release();
  const again = await lockStateDir(dir);
  await again.release();
});

test('a holder killed with SIGKILL leaves no stale lock', async () => {
  const dir = join(tmp, 'killed');
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', `const { lockStateDir } = await import('./src/daemon/state-lock.ts'); await lockStateDir(${JSON.stringify(dir)}); console.log('held'); setInterval(() => {}, 1000);`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const err = await lockStateDir(dir).catch((e: unknown) => e);
  assert.ok(isEarshotError(err) && err.message.includes(`process ${child.pid}`), String(err));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const lock = await lockStateDir(dir);
  await lock.release();
});

test('earshot run: a second daemon on the same state directory exits 75 in under a second, naming the directory and the PID', async () => {
  const state = join(tmp, 'run');
  const broker = ['--set', `embeddedBroker.port=${await freePort()}`, '--set', 'embeddedBroker.wsPort=0'];
  const args = ['--device-id', 'locked', '--state-dir', state, '--http-port', '0', '--model', join(ROOT, 'test/fixtures/models/tiny-lstm.json'), '--source', `file:${join(ROOT, 'assets/demo-angry.flac')}`, '--set', 'capture.loop=true', '--log-format', 'json', ...broker];
  const first = spawnDaemon(args);
  try {
    await waitUntil('the first running', () => first.logs().some((l) => l.msg === 'starting capture'), 30000, () => first.stderr().slice(-2000));
    const t0 = performance.now();
    const second = spawnDaemon(args);
    const { code } = await Promise.race([second.exit, sleep(10000).then(() => ({ code: 'still running after 10 s' }))]);
    killDaemon(second.child);
    const ms = performance.now() - t0;
    assert.is(code, 75, second.stderr().slice(-2000));
    assert.match(second.stderr(), `the state directory ${state} is in use by another earshot daemon: process ${first.child.pid}`);
    assert.ok(ms < 1500, `refused after ${ms.toFixed(0)} ms (process start included)`);
    console.log(`  second daemon refused ${ms.toFixed(0)} ms after spawn (Node start and module load included)`);
  } finally {
    killDaemon(first.child);
  }
});

test('a client-id clash from the broker (CONNACK 2, "Identifier rejected") is named as one, not as a network problem', async () => {
  class FakeClient extends EventEmitter { options = { reconnectPeriod: 0 }; publish() {} subscribe() {} end(_f: boolean, _o: object, cb: () => void) { cb(); } }
  const fake = new FakeClient();
  const errors: string[] = [];
  const log = { info() {}, debug() {}, warn() {}, error: (_o: object, m: string) => errors.push(m), child() { return log; } };
  const pub = new MqttPublisher({
    config: parsePublisherConfig({ url: 'mqtt://127.0.0.1:1', deviceId: 'clash', stateDir: join(tmp, 'clash'), reconnectMinMs: 50, reconnectMaxMs: 200, connectTimeoutMs: 1000, stopTimeoutMs: 500 }),
    log: log as never,
    createClient: () => fake as unknown as MqttClientLike,
  });
  const started = pub.start();
  fake.emit('error', Object.assign(new Error('Connection refused: Identifier rejected'), { code: 2 }));
  fake.emit('close');
  await started;
  assert.match(errors.join('\n'), /refused our client id "earshot-clash-[0-9a-f]{8}": another client is connected with it/);
  assert.not.match(errors.join('\n'), /check mqtt\.url/);
  await pub.stop();
});

test.run();
