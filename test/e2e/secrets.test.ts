// A password in the broker URL (`--broker mqtt://user:secret@host`) never shows: not in the
// start-up log, the E_BROKER error, --print-config, nor the unauthenticated /healthz. The daemon
// runs as a child process (bin/earshot.js, so `npm run build` first) against a closed port.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { redactUrl } from '../../src/core/redact.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const SECRET = 'hunter2-S3cret';
const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');
const DEMO = join(ROOT, 'assets/demo-angry.flac');
const tmp = mkdtempSync(join(tmpdir(), 'earshot-secrets-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('redactUrl masks the password only, whatever it contains', () => {
  assert.is(redactUrl(`mqtt://user:${SECRET}@broker.local:1883`), 'mqtt://user:***@broker.local:1883');
  assert.is(redactUrl('mqtts://u:p@ss:w/rd@h:8883'), 'mqtts://u:***@h:8883');
  assert.is(redactUrl('mqtt://:only@h'), 'mqtt://:***@h');
  assert.is(redactUrl('mqtt://user@h:1883'), 'mqtt://user@h:1883');
  assert.is(redactUrl('mqtt://127.0.0.1:1883'), 'mqtt://127.0.0.1:1883');
});

test('--print-config masks the URL password', () => {
  const r = spawnSync(process.execPath, ['bin/earshot.js', 'run', '--broker', `mqtt://user:${SECRET}@127.0.0.1:1`, '--print-config'], { cwd: ROOT, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stdout + r.stderr, SECRET);
  assert.match(r.stdout, 'mqtt://user:***@127.0.0.1:1');
});

test('start-up log, E_BROKER error and /healthz never show the URL password', async () => {
  const brokerPort = await freePort(); // nothing listens: every connect fails with ECONNREFUSED
  const httpPort = await freePort();
  const child = spawn(process.execPath, ['bin/earshot.js', 'run', '--model', MODEL, '--device-id', 'secrets', '--state-dir', join(tmp, 'state'),
    '--broker', `mqtt://user:${SECRET}@127.0.0.1:${brokerPort}`, '--source', `file:${DEMO}`, '--set', 'capture.loop=true', '--http-port', String(httpPort)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    const t0 = Date.now();
    let health = '';
    while (Date.now() - t0 < 20000) {
      await new Promise((r) => setTimeout(r, 100));
      if (!out.includes('E_BROKER')) continue;
      const r = await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => null);
      if (r) {
        health = await r.text();
        break;
      }
    }
    assert.match(out, 'E_BROKER', `no E_BROKER error logged:\n${out}`);
    assert.match(out, 'starting', 'the start-up log was written');
    assert.ok(health.length > 0, 'healthz answered');
    assert.match(health, `user:***@127.0.0.1:${brokerPort}`);
    assert.not.match(health, SECRET);
    assert.not.match(out, SECRET, `the password leaked into the log:\n${out.split('\n').filter((l) => l.includes(SECRET)).join('\n')}`);
  } finally {
    child.kill('SIGKILL');
  }
});

test.run();
