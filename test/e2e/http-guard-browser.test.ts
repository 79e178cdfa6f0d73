// The HTTP guards of issue 29 item 6 in a real browser (Debian's Chromium via playwright-core),
// against the real daemon (bin/earshot.js, tiny model, the clip looped):
// - a page on another origin (another port of 127.0.0.1) POSTs to /listening with `mode: 'no-cors'`
//   (plain text, as in the issue) and with a JSON type (which needs a preflight): listening stays ON;
//   the daemon's own page switches it with its JSON request;
// - DNS rebinding: Chromium resolves attacker.example to 127.0.0.1 (--host-resolver-rules), so a
//   page of attacker.example is same-origin with the daemon: the page, /healthz and /events
//   answer 403 and no event reaches an EventSource; the same with a raw `Host: attacker.example`.
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/browser.ts';
import { killDaemon, spawnDaemon, type Daemon } from '../helpers/daemon.ts';
import { waitUntil } from '../helpers/harness.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-http-browser-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

let daemon: Daemon;
let port = 0;
let attacker: Server;
let attackerPort = 0;
let context: BrowserContext;
const listening = async () => ((await (await fetch(`http://127.0.0.1:${port}/listening`)).json()) as { listening: string }).listening;

test.before(async () => {
  port = await freePort();
  daemon = spawnDaemon(['--state-dir', join(tmp, 'state'), '--device-id', 'guard', '--http-port', String(port), '--model', join(ROOT, 'test/fixtures/models/tiny-lstm.json'),
    '--source', `file:${join(ROOT, 'assets/demo-angry.flac')}`, '--set', 'capture.loop=true', '--log-format', 'json', '--set', `embeddedBroker.port=${await freePort()}`, '--set', 'embeddedBroker.wsPort=0']);
  await waitUntil('the daemon serving HTTP', async () => (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0)) !== 0, 30000, () => daemon.stderr().slice(-2000));
  attackerPort = await freePort();
  // the other site: its page does what the page did
  attacker = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>another site</title><script>
      window.results = (async () => {
        const target = 'http://127.0.0.1:${port}/listening';
        const out = [];
        for (const body of ['OFF', '{"listening":"OFF"}']) out.push(await fetch(target, { method: 'POST', mode: 'no-cors', body }).then((r) => 'sent ' + r.type, (e) => 'error ' + e.name));
        out.push(await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"listening":"OFF"}' }).then((r) => 'status ' + r.status, (e) => 'blocked ' + e.name));
        return out;
      })();
    </script>`);
  });
  await new Promise<void>((r) => attacker.listen(attackerPort, '127.0.0.1', r));
  const profile = mkdtempSync(join(tmp, 'chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP attacker.example 127.0.0.1'] });
});

test.after(async () => {
  await context?.close().catch(() => undefined);
  attacker?.close();
  if (daemon) killDaemon(daemon.child);
});

test('a page on another origin cannot switch listening (no-cors text, no-cors JSON, a JSON request needing a preflight); the daemon\'s own page can', async () => {
  assert.is(await listening(), 'ON');
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${attackerPort}/`);
  const results = (await page.evaluate('window.results')) as string[];
  console.log(`  the other site's requests: ${results.join('; ')}`);
  // each fetch above resolved, so the server had answered it; a request that got through would have switched already
  assert.is(await listening(), 'ON', 'listening unchanged');
  assert.not.ok(daemon.logs().some((l) => /listening switched OFF/.test(l.msg)), 'no switch in the log');
  // same origin: the dashboard's own request form
  await page.goto(`http://127.0.0.1:${port}/`);
  const status = await page.evaluate(async () => (await fetch('listening', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ listening: 'OFF' }) })).status);
  assert.is(status, 200);
  assert.is(await listening(), 'OFF');
  await page.evaluate(async () => (await fetch('listening', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"listening":"ON"}' })).status);
  assert.is(await listening(), 'ON');
  await page.close();
});

test('DNS rebinding: a page of attacker.example (resolved to 127.0.0.1) gets 403 for the page, /healthz and /events, and no event', async () => {
  const page = await context.newPage();
  const nav = await page.goto(`http://attacker.example:${port}/`);
  assert.is(nav?.status(), 403);
  const seen = await page.evaluate(async () => {
    const health = (await fetch('/healthz')).status;
    const events = await fetch('/events');
    const messages: string[] = [];
    const es = new EventSource('/events');
    es.onmessage = (m) => messages.push(m.data);
    await new Promise((r) => setTimeout(r, 1500));
    es.close();
    return { health, events: events.status, type: events.headers.get('content-type'), messages: messages.length };
  });
  assert.equal(seen, { health: 403, events: 403, type: 'text/plain', messages: 0 });
  await page.close();
  // and the curl of the issue: Host: attacker.example
  const r = await new Promise<{ status: number; type: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/events', headers: { host: 'attacker.example' }, setHost: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']) });
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(r, { status: 403, type: 'text/plain' });
  // the daemon's own names still get the stream
  const own = await fetch(`http://localhost:${port}/events`);
  assert.match(own.headers.get('content-type') ?? '', /event-stream/);
  await own.body?.cancel();
});

test.run();
