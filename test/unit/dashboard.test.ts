// The dashboard's server side without a browser (test/dashboard-browser.test.ts has the page):
// who gets in (loopback, token by header, cookie or query; locked off loopback without a token),
// the SSE feed over a real HTTP server (hello with the recent events, results and states as they
// come, health with `idle` after dashboard.idleAfterSec on an injected clock, events older than
// 10 minutes dropped, no timer once the last page left), and the routes it leaves to http.ts.
import { EventEmitter } from 'node:events';
import { get, type IncomingMessage } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DashboardAccess, isLoopbackHost } from '../../src/daemon/dashboard/access.ts';
import { createDashboard, type DashboardSource } from '../../src/daemon/dashboard/index.ts';
import { RECENT_MS } from '../../src/daemon/dashboard/feed.ts';
import { startHttpServer } from '../../src/daemon/http.ts';
import { createLogger } from '../../src/daemon/logger.ts';
import type { DaemonSnapshot } from '../../src/daemon/metrics.ts';
import type { EmotionEvent, EmotionState } from '../../src/runtime/publish/payloads.ts';

test('loopback addresses', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.20', '10.0.0.1', '::ffff:10.0.0.1', 'kitchen.local', '128.0.0.1']) assert.not.ok(isLoopbackHost(h), h);
});

test('access: open on loopback without a token, locked off loopback without one, else the token', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  const u = (q = '') => new URL(`http://x/${q}`);
  assert.ok(new DashboardAccess({ host: '127.0.0.1' }).allows(null));
  const locked = new DashboardAccess({ host: '0.0.0.0' });
  assert.not.ok(locked.possible);
  assert.not.ok(locked.allows(null));
  assert.not.ok(locked.allows(''));
  const token = 'a'.repeat(32);
  for (const host of ['0.0.0.0', '127.0.0.1']) {
    const a = new DashboardAccess({ host, token });
    assert.not.ok(a.open, 'a configured token is required on loopback too');
    assert.not.ok(a.allows(null));
    assert.not.ok(a.allows(token.slice(1)));
    assert.not.ok(a.allows(`${token}a`));
    assert.ok(a.allows(DashboardAccess.offered(req({ authorization: `Bearer ${token}` }), u())));
    assert.ok(a.allows(DashboardAccess.offered(req({ cookie: `x=1; earshot_token=${token}; y=2` }), u())));
    assert.ok(a.allows(DashboardAccess.offered(req({}), u(`?token=${token}`))));
    assert.not.ok(a.allows(DashboardAccess.offered(req({ cookie: 'earshot_token=%E0%A4%A' }), u())));
  }
});

function snapshot(over: { condition?: DaemonSnapshot['capture']['condition']; delivering?: boolean } = {}): DaemonSnapshot {
  return {
    version: '0.0.0', model: 'm', source: 'file:x', deviceId: 'd', uptimeSec: 12.3, stopping: false,
    pipeline: { realTimeFactor: 0.05, latencyMs: { p50: 10, p99: 20 }, droppedInferences: 1 } as DaemonSnapshot['pipeline'],
    capture: { delivering: over.delivering ?? true, lastChunkAgoMs: 5, chunks: 1, condition: over.condition ?? null, conditionDetail: over.condition ? 'gone' : null, conditions: { 'no-data': 0, 'device-lost': 0, flatline: 0 }, restarts: 0 },
    mqtt: { connected: true, url: 'mqtt://b', embedded: true, queueDepth: 2, droppedEvents: 0, events: 3 },
    process: { rssBytes: 0, heapUsedBytes: 0, cpuUserSec: 0, cpuSystemSec: 0 },
  };
}

const event = (id: string, end: Date, label = 'happy'): EmotionEvent => ({
  id, deviceId: 'd', start: new Date(end.getTime() - 1000).toISOString(), end: end.toISOString(), durationMs: 1000, label, confidence: 0.9,
  probabilities: { happy: 0.9, sad: 0.1 }, arousal: 0, valence: 0, model: 'm', kind: 'utterance',
});

/** Reads SSE messages from a stream into `out` as {event, data}. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- SSE messages of several shapes (hello, result, state, health), read field by field in the asserts
function stream(url: string, out: { event: string; data: any }[], headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev && data) out.push({ event: ev, data: JSON.parse(data) });
        }
      });
      resolve(res);
    }).on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, done: () => boolean, ms = 3000) {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('the feed: hello with recent events, results and states live, health with idle, nothing kept past 10 minutes', async () => {
  const bus = new EventEmitter();
  let clock = 1000;
  let snap = snapshot();
  const source: DashboardSource = {
    snapshot: () => snap,
    labels: () => ['happy', 'sad'],
    brokerWsUrl: () => 'ws://127.0.0.1:9001',
    onEvent: (l) => bus.on('event', l),
    onState: (l) => bus.on('state', l),
  };
  const dash = createDashboard(source, { host: '127.0.0.1', idleAfterSec: 30, deviceId: 'd', version: '0.0.0', log: createLogger({ level: 'silent' }), now: () => clock });
  const http = await startHttpServer({ host: '127.0.0.1', port: 0 }, { health: () => ({ healthy: true, body: {} }), metricsText: () => '' }, dash.handle);
  try {
    const old = event('old', new Date(Date.now() - RECENT_MS - 5000));
    bus.emit('event', old);
    bus.emit('event', event('e1', new Date()));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- SSE messages of several shapes (hello, result, state, health), read field by field in the asserts
    const got: { event: string; data: any }[] = [];
    const res = await stream(`${http.url}/events`, got);
    assert.is(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    await until('hello', () => got.length >= 1);
    const hello = got[0];
    assert.is(hello.event, 'hello');
    assert.equal(hello.data.events.map((e: EmotionEvent) => e.id), ['e1'], 'an event older than 10 minutes is gone');
    assert.equal(hello.data.labels, ['happy', 'sad']);
    assert.is(hello.data.health.idle, false, 'an utterance just now');
    assert.is(hello.data.health.sourceState, 'capturing');
    assert.is(hello.data.health.broker.wsUrl, 'ws://127.0.0.1:9001');
    assert.is(dash.feed.clientCount, 1);

    bus.emit('event', event('e2', new Date(), 'sad'));
    const state: EmotionState = { label: 'sad', confidence: 0.8, probabilities: { happy: 0.2, sad: 0.8 }, arousal: 0, valence: 0, timestamp: new Date().toISOString(), model: 'm' };
    bus.emit('state', state);
    await until('result and state', () => got.some((m) => m.event === 'state'));
    assert.equal(got.filter((m) => m.event !== 'health').slice(1).map((m) => [m.event, m.data.id ?? m.data.label]), [['result', 'e2'], ['state', 'sad']]);

    clock += 29_000;
    snap = snapshot({ condition: 'device-lost', delivering: false });
    const n = got.length;
    await until('a health message', () => got.slice(n).some((m) => m.event === 'health'), 2500);
    let h = got.slice(n).find((m) => m.event === 'health')!.data;
    assert.is(h.idle, false, '29 s of silence');
    assert.is(h.sourceState, 'device lost');
    assert.is(h.sourceDetail, 'gone');
    clock += 1000;
    const m = got.length;
    await until('the next health message', () => got.slice(m).some((x) => x.event === 'health'), 2500);
    h = got.slice(m).find((x) => x.event === 'health')!.data;
    assert.is(h.idle, true, '30 s of silence');
    assert.is(h.lastUtteranceAgoSec, 30);

    res.destroy();
    await until('the page to be gone', () => dash.feed.clientCount === 0);
    assert.is(await status(`${http.url}/healthz`), 200, 'other paths are left to http.ts');
    assert.is(await status(`${http.url}/nothing`), 404);
    assert.is(await status(`${http.url}/dashboard.js`), 200);
  } finally {
    dash.close();
    await http.close();
  }
});

test('authorized(): the token rule for the page\'s other routes (the listening switch)', () => {
  const quiet = createLogger({ level: 'silent' });
  const source: DashboardSource = { snapshot: () => snapshot(), labels: () => [], brokerWsUrl: () => null, onEvent: () => undefined, onState: () => undefined };
  const token = 'b'.repeat(20);
  const off = createDashboard(source, { host: '0.0.0.0', token, idleAfterSec: 30, deviceId: 'd', version: '0', log: quiet });
  const req = (url: string, headers: Record<string, string> = {}) => ({ url, headers }) as unknown as IncomingMessage;
  assert.not.ok(off.authorized(req('/listening')));
  assert.not.ok(off.authorized(req('/listening', { authorization: 'Bearer nope' })));
  assert.ok(off.authorized(req('/listening', { authorization: `Bearer ${token}` })));
  assert.ok(off.authorized(req('/listening', { cookie: `earshot_token=${token}` })));
  const local = createDashboard(source, { host: '127.0.0.1', idleAfterSec: 30, deviceId: 'd', version: '0', log: quiet });
  assert.ok(local.authorized(req('/listening')));
});

async function status(url: string): Promise<number> {
  return (await fetch(url)).status;
}

test.run();
