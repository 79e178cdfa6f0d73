// Who may talk to the daemon's HTTP server (issue 29 item 6, issue 33 item 6; src/daemon/http.ts,
// src/daemon/dashboard/access.ts), at the socket level: a foreign Host is refused (403) on every
// route, POST /listening needs a JSON content type and no or its own Origin, the old plain body
// still works under the JSON type, http.allowedHosts adds names, and /healthz answers within 1 s
// while 1,100 idle connections are open. The same rules in Chromium: http-guard-browser.test.ts.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allowedHostNames, hostAllowed } from '../../src/daemon/dashboard/access.ts';
import { MAX_IDLE_CONNECTIONS, startHttpServer, type HttpEndpoint } from '../../src/daemon/http.ts';
import { ListeningSwitch, parseListeningCommand } from '../../src/daemon/listening.ts';
import { sleep } from '../helpers/harness.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-http-guard-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** A raw request with exactly these headers (fetch would set Host and Origin itself). */
function raw(port: number, method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function serve(sw: ListeningSwitch, extra: { allowedHosts?: string[] } = {}): Promise<HttpEndpoint> {
  return startHttpServer({ host: '127.0.0.1', port: 0, ...extra }, { health: () => ({ healthy: true, body: { ok: true } }), metricsText: () => 'x 1\n', listening: sw });
}

test('Host: the bind address, localhost and loopback with the port pass; other names, other ports fail', () => {
  const names = allowedHostNames('127.0.0.1', ['earshot.lan']);
  const ok = ['127.0.0.1:9464', 'localhost:9464', '[::1]:9464', 'LOCALHOST:9464', 'earshot.lan:9464'];
  const bad = ['attacker.example:9464', '127.0.0.1:80', 'localhost', '127.0.0.1.attacker.example:9464', 'earshot.lan.evil:9464', '[::1]', ''];
  for (const h of ok) assert.ok(hostAllowed(h, names, 9464), h);
  for (const h of bad) assert.not.ok(hostAllowed(h, names, 9464), h);
  assert.ok(hostAllowed(undefined, names, 9464), 'no Host (not a browser) passes');
  const wild = allowedHostNames('0.0.0.0', [], () => ['192.168.1.20', 'pi']);
  assert.ok(hostAllowed('192.168.1.20:9464', wild, 9464) && hostAllowed('pi:9464', wild, 9464));
  assert.not.ok(hostAllowed('attacker.example:9464', wild, 9464));
  assert.equal(['"OFF"', '{"listening":"OFF"}', '{"on":true}', 'OFF', '"perhaps"'].map(parseListeningCommand), [false, false, true, false, null]);
});

test('a foreign Host gets 403 on every route and no event stream; POST /listening wants JSON and its own origin', async () => {
  const sw = new ListeningSwitch(join(tmp, 'routes'), 'on');
  const http = await serve(sw);
  const p = http.port;
  const host = `127.0.0.1:${p}`;
  try {
    for (const path of ['/healthz', '/metrics', '/listening', '/events', '/']) {
      const r = await raw(p, 'GET', path, { host: `attacker.example:${p}` });
      assert.is(r.status, 403, path);
      assert.not.match(r.type, /event-stream/);
    }
    assert.is((await raw(p, 'POST', '/listening', { host: `attacker.example:${p}`, 'content-type': 'application/json' }, '{"listening":"OFF"}')).status, 403);
    assert.is((await raw(p, 'GET', '/healthz', { host })).status, 200);
    // the cross-site form of the issue: text/plain, any origin
    assert.is((await raw(p, 'POST', '/listening', { host, 'content-type': 'text/plain;charset=UTF-8', origin: 'http://evil.example' }, 'OFF')).status, 415);
    assert.is((await raw(p, 'POST', '/listening', { host }, 'OFF')).status, 415, 'no content type');
    assert.is((await raw(p, 'POST', '/listening', { host, 'content-type': 'application/json', origin: 'http://evil.example' }, '{"listening":"OFF"}')).status, 403);
    assert.is((await raw(p, 'POST', '/listening', { host, 'content-type': 'application/json', origin: 'null' }, '{"listening":"OFF"}')).status, 403);
    assert.is((await raw(p, 'POST', '/listening', { host, 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, '{"listening":"OFF"}')).status, 403);
    assert.ok(sw.isOn, 'nothing of the above switched it');
    assert.is((await raw(p, 'POST', '/listening', { host, 'content-type': 'application/json', origin: `http://${host}` }, '{"listening":"OFF"}')).status, 200, 'the same origin');
    assert.not.ok(sw.isOn);
    assert.is((await raw(p, 'POST', '/listening', { host, 'content-type': 'application/json' }, 'ON')).status, 200, 'curl with the old plain body under the JSON type');
    assert.ok(sw.isOn);
    assert.is((await raw(p, 'POST', '/listening', { host: `localhost:${p}`, 'content-type': 'application/json; charset=utf-8' }, '"OFF"')).status, 200);
    assert.not.ok(sw.isOn);
  } finally {
    await http.close();
  }
});

test('http.allowedHosts: a configured name is answered', async () => {
  const http = await serve(new ListeningSwitch(join(tmp, 'named'), 'on'), { allowedHosts: ['earshot.lan'] });
  try {
    assert.is((await raw(http.port, 'GET', '/healthz', { host: `earshot.lan:${http.port}` })).status, 200);
    assert.is((await raw(http.port, 'GET', '/healthz', { host: `other.lan:${http.port}` })).status, 403);
  } finally {
    await http.close();
  }
});

test('/healthz answers within 1 s while 1,100 idle connections are open, in a server process limited to 1024 open files', async () => {
  // the server in its own process under `ulimit -n 1024` (systemd's default soft limit; the unit's
  // SystemCallFilter keeps Node from raising it): without the connection cap, 1,100 idle sockets
  // exhaust its descriptors and /healthz cannot even be accepted
  const script = `const { startHttpServer } = await import('./src/daemon/http.ts'); const h = await startHttpServer({ host: '127.0.0.1', port: 0 }, { health: () => ({ healthy: true, body: {} }), metricsText: () => '' }); console.log(h.port);`;
  const child = spawn('bash', ['-c', `ulimit -n 1024 && exec ${JSON.stringify(process.execPath)} --import tsx --input-type=module -e ${JSON.stringify(script)}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  const socks: Socket[] = [];
  let closedByServer = 0;
  try {
    for (let i = 0; i < 1100; i++) {
      await new Promise<void>((resolve) => {
        const s = connect(port, '127.0.0.1', () => resolve());
        s.on('error', () => resolve());
        s.on('close', () => closedByServer++);
        socks.push(s);
      });
    }
    const t0 = performance.now();
    const r = await Promise.race([raw(port, 'GET', '/healthz', { host: `127.0.0.1:${port}` }), sleep(5000).then(() => ({ status: 0 }))]);
    const ms = performance.now() - t0;
    assert.is(r.status, 200, `after ${ms.toFixed(0)} ms`);
    assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
    console.log(`  /healthz in ${ms.toFixed(1)} ms with 1,100 idle connections opened (server: 1024 open files); ${closedByServer} closed by the server (keeps ${MAX_IDLE_CONNECTIONS})`);
    // the server's closes reach this process as events: give the last few a moment to arrive
    for (let i = 0; i < 100 && closedByServer < 1100 - MAX_IDLE_CONNECTIONS; i++) await sleep(20);
    assert.ok(closedByServer >= 1100 - MAX_IDLE_CONNECTIONS, `${closedByServer} closed`);
  } finally {
    for (const s of socks) s.destroy();
    child.kill('SIGKILL');
  }
});

test.run();
