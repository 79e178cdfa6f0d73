// The dashboard and the MQTT-WebSockets example in a real browser (Debian's Chromium through
// playwright-core), against the real daemon (bin/earshot.js) replaying assets/demo-sequence.flac
// (with quiet room noise before and after) at real time, publishing to a real Mosquitto:
// - the page has no console errors, shows every utterance the daemon published (MQTT) in the
//   timeline and the events list with the same labels, the health block, `idle` afterwards
//   (dashboard.idleAfterSec=3 here), and comes back by itself after the daemon is restarted;
// - it explains itself (issue 31): the smoothed state and the last utterance side by side under
//   captions with hover texts, the latency split into the decision after speech ends and the
//   hang-over (both with titles), a dot per utterance on the arousal/valence circumplex, and
//   listening off shown as "paused", not as a red fault;
// - off loopback, the page and its stream answer 401 without the token and 200 with it;
// - examples/mqtt-websocket.html, opened from a file:// copy beside MQTT.js's browser bundle,
//   subscribes over MQTT-WebSockets to the embedded broker and shows the same labels.
// Screenshots go to test-artifacts/dashboard/ (gitignored; docs/dashboard.png is one of them).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect } from 'mqtt';
import type { Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import type { EmotionEvent } from '../../src/runtime/publish/payloads.ts';
import { launchChromium, type Browser } from '../helpers/browser.ts';
import { spawnDaemon, type Daemon } from '../helpers/daemon.ts';
import { waitUntil as waitFor } from '../helpers/harness.ts';
import { freePort, startMosquitto } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');
mkdirSync(ARTIFACTS, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), 'earshot-dashboard-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** The page's state is read through the browser: every 100 ms is often enough. */
const waitUntil = (what: string, done: () => boolean | Promise<boolean>, timeoutMs: number, context: () => string = () => '') => waitFor(what, done, timeoutMs, context, 100);

/** The demo sequence with `before` and `after` seconds of -70 dBFS noise (a quiet room, not a flat line), as 16-bit WAV. */
async function demoInARoom(before: number, after: number): Promise<string> {
  const demo = await decodeAudioFile(join(ROOT, 'assets/demo-sequence.flac'));
  const rate = demo.sampleRate;
  const x = new Float32Array(Math.round((before + after) * rate) + demo.samples.length);
  x.set(demo.samples, Math.round(before * rate));
  let s = 7;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] += (s / 2 ** 32 - 0.5) * 10 ** (-70 / 20) * Math.sqrt(12);
  }
  const data = Buffer.alloc(x.length * 2);
  for (let i = 0; i < x.length; i++) data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x[i] * 32767))), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  const path = join(tmp, `demo-room-${before}-${after}.wav`);
  writeFileSync(path, Buffer.concat([h, data]));
  return path;
}

/** `earshot run` with the default model, events on stdout, plus `args`. */
function runDaemon(args: string[]): Daemon {
  // a state directory per device id: the listening switch is kept there, so one test's switch must not reach the next
  const stateDir = join(tmp, `state-${args[args.indexOf('--device-id') + 1] ?? 'default'}`);
  return spawnDaemon(['--state-dir', stateDir, ...args]);
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
  await d.exit;
}

async function status(url: string, init?: RequestInit): Promise<number> {
  try {
    return (await fetch(url, { redirect: 'manual', ...init })).status;
  } catch {
    return 0;
  }
}

/** What the page shows: rows of the events list and columns of the timeline, by event id. */
async function shown(page: Page) {
  return page.evaluate(() => ({
    current: document.getElementById('current')!.dataset.label ?? '',
    link: document.body.dataset.link ?? '',
    rows: [...document.querySelectorAll<HTMLTableRowElement>('#events tbody tr')].map((tr) => ({ id: tr.dataset.id!, label: tr.dataset.label!, text: tr.children[1].textContent! })),
    columns: [...document.querySelectorAll<SVGGElement>('#timeline g.utt')].map((g) => ({
      id: g.dataset.id!,
      label: g.dataset.label!,
      height: [...g.querySelectorAll('rect')].reduce((a, r) => a + Number(r.getAttribute('height')), 0),
    })),
    legend: [...document.querySelectorAll('#legend .key')].map((k) => k.textContent),
    source: document.getElementById('h-source')!.textContent,
    sourceClass: document.getElementById('h-source')!.className,
    broker: document.getElementById('h-broker')!.textContent,
    last: document.getElementById('last')!.dataset.label ?? '',
    decision: document.getElementById('h-decision')!.textContent,
    hangover: document.getElementById('h-hangover')!.textContent,
    points: [...document.querySelectorAll<SVGCircleElement>('#circumplex circle.pt')].map((c) => ({
      id: c.dataset.id!,
      x: Number(c.getAttribute('cx')),
      y: Number(c.getAttribute('cy')),
      opacity: Number(c.getAttribute('fill-opacity')),
    })),
  }));
}

/** The hover text (title) of the Now captions and of the two latency rows. */
async function explanations(page: Page) {
  return page.evaluate(() => ({
    captions: [...document.querySelectorAll<HTMLElement>('#now .caption')].map((c) => [c.textContent, c.title]),
    latency: ['h-decision', 'h-hangover'].map((id) => {
      const dd = document.getElementById(id)!;
      return [dd.previousElementSibling!.textContent, (dd.previousElementSibling as HTMLElement).title, dd.title];
    }),
  }));
}

let browser: Browser;
test.before(async () => {
  browser = await launchChromium();
});
test.after(async () => {
  await browser.close();
});

// eslint-disable-next-line max-lines-per-function -- one browser scenario across a daemon restart; each step depends on the one before
test('the dashboard shows every published utterance, then idle, and comes back after a daemon restart', async () => {
  const mosquitto = await startMosquitto();
  const sub = connect(mosquitto.url, { protocolVersion: 4 });
  const published: EmotionEvent[] = [];
  const states: string[] = [];
  sub.on('message', (topic, payload) => {
    if (topic.endsWith('/events')) published.push(JSON.parse(payload.toString()));
    else states.push(JSON.parse(payload.toString()).label);
  });
  await new Promise<void>((r) => sub.once('connect', () => r()));
  await sub.subscribeAsync(['earshot/dash/events', 'earshot/dash/emotion'], { qos: 1 });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const wav = await demoInARoom(2, 12);
  const args = ['--device-id', 'dash', '--broker', mosquitto.url, '--http-port', String(port), '--source', `file:${wav}`, '--set', 'dashboard.idleAfterSec=3'];
  let daemon = runDaemon(args);
  const { page, errors } = await browser.newPage();
  try {
    await waitUntil('the dashboard to answer', async () => (await status(url)) === 200, 20000, () => daemon.stderr().slice(-2000));
    await page.goto(url);
    await waitUntil('the page to go live', async () => (await shown(page)).link === 'live', 10000);

    // during the demo: each published event appears; the current label follows the published state
    const seenCurrent = new Set<string>();
    let midShot = false;
    await waitUntil(
      'idle after the last utterance',
      async () => {
        const s = await shown(page);
        seenCurrent.add(s.current);
        if (!midShot && s.rows.length >= 3 && s.current !== 'idle' && s.current !== 'waiting') {
          midShot = true;
          await page.screenshot({ path: join(ARTIFACTS, 'dashboard-demo.png'), fullPage: true });
        }
        return published.length >= 4 && s.rows.length === published.length && s.current === 'idle';
      },
      45000,
      () => `published ${published.map((e) => e.label)}\n${daemon.stderr().slice(-1500)}`,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-idle.png'), fullPage: true });
    const s = await shown(page);
    assert.equal(published.map((e) => e.id), daemon.events.map((e) => e.id), 'MQTT and stdout carry the same events');
    // newest first in the list, oldest first (left to right) in the timeline
    assert.equal(s.rows.map((r) => [r.id, r.label, r.text]), published.map((e) => [e.id, e.label, e.label]).reverse());
    assert.equal(s.columns.map((c) => [c.id, c.label]), published.map((e) => [e.id, e.label]));
    for (const c of s.columns) assert.ok(Math.abs(c.height - 200) < 2, `a column stacks every class probability (sum 1): ${c.height}`);
    assert.equal(s.legend, Object.keys(published[0].probabilities));
    assert.ok(states.length > 0 && states.some((l) => seenCurrent.has(l)), `the current emotion showed a published state (${states}) : saw ${[...seenCurrent]}`);
    assert.ok(seenCurrent.has('idle'));
    assert.is(s.source, 'capturing', 'the room noise is still being captured');
    // Now: the smoothed state, labelled as such, beside the last utterance on its own
    assert.is(s.last, published.at(-1)!.label, 'the last utterance is the last published event');
    const ex = await explanations(page);
    assert.equal(ex.captions.map((c) => c[0]), ['smoothed state', 'last utterance']);
    for (const [, title] of ex.captions) assert.ok(title.length > 40, 'each explained on hover');
    // latency: the decision after speech ends, apart from the hang-over, each explained on hover
    assert.equal(ex.latency.map((l) => l[0]), ['decision after speech ends', 'hang-over']);
    for (const [, dt, dd] of ex.latency) assert.ok(dt.length > 40 && dd === dt, 'a title on the term and its value');
    assert.is(s.hangover, '300 ms', 'pipeline.vad.hangoverMs');
    const decided = /^(\d+) \/ (\d+) ms$/.exec(s.decision!);
    assert.ok(decided && Number(decided[1]) < 300, `the decision alone is well under the hang-over: ${s.decision}`);
    // the circumplex: one dot per utterance at (valence, -arousal) x 100, older ones fainter
    assert.equal(s.points.map((p) => p.id), published.map((e) => e.id));
    for (const [i, p] of s.points.entries()) {
      assert.ok(Math.abs(p.x - published[i].valence * 100) < 0.06 && Math.abs(p.y + published[i].arousal * 100) < 0.06, `dot ${i} at valence/arousal`);
      assert.ok(p.opacity > 0 && p.opacity <= 1);
    }
    assert.ok(s.points[0].opacity <= s.points.at(-1)!.opacity, 'the oldest is the faintest');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    assert.match(s.broker!, /^connected \(mqtt:\/\/127\.0\.0\.1:\d+\)$/);
    assert.equal(errors, [], 'no console errors during the demo');

    // the listening switch on the page: off (the daemon says so on GET /listening and in health), then on again
    const listening = async () => ((await (await fetch(`${url}listening`)).json()) as { listening: string }).listening;
    const toggle = async (to: 'ON' | 'OFF') => {
      await page.click('#listening-toggle:not([disabled])');
      await waitUntil(`listening ${to} on the daemon`, async () => (await listening()) === to, 15000, () => daemon.stderr().slice(-1500));
      await waitUntil(`the page to show listening ${to}`, async () => (await page.textContent('#listening-state')) === to, 15000);
    };
    await waitUntil('the page to show listening ON', async () => (await page.textContent('#listening-state')) === 'ON', 15000);
    await toggle('OFF');
    // listening off is a pause, not a fault: grey "paused", not a red "no data"
    await waitUntil('the source shown as paused', async () => (await shown(page)).source === 'paused (listening is off)', 5000);
    assert.is((await shown(page)).sourceClass, 'paused');
    assert.is((await shown(page)).current, 'idle');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-paused.png'), fullPage: true });
    await toggle('ON');

    // restart: the page notices, reconnects by itself, keeps what it showed, and adds the new run's events
    const before = new Set(published.map((e) => e.id));
    await stopDaemon(daemon);
    await waitUntil('the page to notice the daemon went away', async () => (await shown(page)).link !== 'live', 10000);
    daemon = runDaemon(args);
    await waitUntil(
      'a new event from the restarted daemon on the page',
      async () => {
        const now = await shown(page);
        return now.link === 'live' && now.rows.some((r) => !before.has(r.id)) && [...before].every((id) => now.rows.some((r) => r.id === id));
      },
      40000,
      () => daemon.stderr().slice(-1500),
    );
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-after-restart.png'), fullPage: true });
    const after = await shown(page);
    const fresh = after.rows.filter((r) => !before.has(r.id));
    for (const r of fresh) assert.is(r.label, published.find((e) => e.id === r.id)?.label, 'a new row carries its published label');
    // while the daemon was down, the browser logged its refused reconnection attempts; nothing else
    assert.equal(errors.filter((e) => !/\/events\b.*|ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET/.test(e)), []);
  } finally {
    await page.close();
    await stopDaemon(daemon);
    await sub.endAsync(true);
    await mosquitto.stop();
  }
});

/** A non-loopback address of this machine (the dashboard would be reachable from the network on it), else 0.0.0.0. */
function lanAddress(): { bind: string; reach: string } {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return { bind: a.address, reach: a.address };
  return { bind: '0.0.0.0', reach: '127.0.0.1' };
}

test('off loopback the dashboard needs its token: 401 without it, 200 with it', async () => {
  const { bind, reach } = lanAddress();
  const port = await freePort();
  const token = 'c0ffee'.repeat(6);
  const base = `http://${reach}:${port}`;
  const daemon = runDaemon(['--device-id', 'dashlan', '--http-port', String(port), '--set', `http.host=${bind}`, '--set', `dashboard.token=${token}`,
    '--set', 'embeddedBroker.port=0', '--set', 'embeddedBroker.wsPort=0', '--source', `file:${join(ROOT, 'assets/demo-angry.flac')}`, '--set', 'capture.loop=true']);
  const { page, errors } = await browser.newPage();
  try {
    await waitUntil('the HTTP server', async () => (await status(`${base}/healthz`)) !== 0, 20000, () => daemon.stderr().slice(-2000));
    for (const path of ['/', '/index.html', '/dashboard.js', '/dashboard.css', '/events']) {
      assert.is(await status(`${base}${path}`), 401, `${path} without a token`);
      assert.is(await status(`${base}${path}?token=wrong-${token}`), 401, `${path} with a wrong token`);
      assert.is(await status(`${base}${path}`, { headers: { authorization: `Bearer ${token.slice(1)}` } }), 401, `${path} with a wrong bearer`);
    }
    const denied = await fetch(`${base}/`);
    assert.is(await denied.text(), '401 unauthorized\n', 'a refusal says nothing else');
    assert.is(await status(`${base}/`, { headers: { authorization: `Bearer ${token}` } }), 200);
    assert.is(await status(`${base}/dashboard.js`, { headers: { authorization: `Bearer ${token}` } }), 200);

    const refused = await page.goto(`${base}/`);
    assert.is(refused!.status(), 401, 'the browser without the token');
    const opened = await page.goto(`${base}/?token=${token}`);
    assert.is(opened!.status(), 200, 'with the token (then kept in a cookie)');
    assert.is(new URL(page.url()).search, '', 'the token left the address bar');
    await waitUntil('live data with the token', async () => {
      const s = await shown(page);
      return s.link === 'live' && s.source === 'capturing';
    }, 15000, () => daemon.stderr().slice(-1500));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-token.png') });
    assert.equal(errors.filter((e) => !/401/.test(e)), [], 'no console errors but the first, refused load');
  } finally {
    await page.close();
    await stopDaemon(daemon);
  }
});

test('examples/mqtt-websocket.html shows the labels the daemon published, over MQTT-WebSockets from the embedded broker', async () => {
  const tcp = await freePort();
  const ws = await freePort();
  const wav = await demoInARoom(3, 2);
  const daemon = runDaemon(['--device-id', 'dashws', '--http-port', '0', '--source', `file:${wav}`, '--set', `embeddedBroker.port=${tcp}`, '--set', `embeddedBroker.wsPort=${ws}`]);
  // the example as a user runs it: a copy beside MQTT.js's browser bundle, opened from disk
  const dir = join(tmp, 'example');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, 'examples/mqtt-websocket.html'), join(dir, 'mqtt-websocket.html'));
  copyFileSync(join(ROOT, 'node_modules/mqtt/dist/mqtt.min.js'), join(dir, 'mqtt.min.js'));
  const { page, errors } = await browser.newPage();
  try {
    await waitUntil('the WebSocket listener', async () => (await status(`http://127.0.0.1:${ws}/`)) === 426, 20000, () => daemon.stderr().slice(-2000));
    // a Node client (as Node-RED's) subscribes to earshot/# over the same WebSocket
    const node = connect(`ws://127.0.0.1:${ws}`, { protocolVersion: 4 });
    const overWs: string[] = [];
    node.on('message', (topic, payload) => topic.endsWith('/events') && overWs.push(JSON.parse(payload.toString()).id));
    await new Promise<void>((r) => node.once('connect', () => r()));
    await node.subscribeAsync('earshot/#', { qos: 1 });
    await page.goto(`${pathToFileURL(join(dir, 'mqtt-websocket.html'))}?broker=ws://127.0.0.1:${ws}&base=earshot/dashws`);
    await waitUntil('the example to connect', async () => (await page.textContent('#conn'))!.startsWith('connected'), 10000);
    const { code: exit } = await daemon.exit;
    assert.is(exit, 0, daemon.stderr().slice(-1500));
    assert.ok(daemon.events.length >= 4, `the demo gives its utterances: ${daemon.events.map((e) => e.label)}`);
    const items = await page.$$eval('#events li', (lis) => lis.map((li) => [(li as HTMLElement).dataset.id, (li as HTMLElement).dataset.label]));
    assert.equal(items, daemon.events.map((e) => [e.id, e.label]).reverse(), 'every published event, newest first, with its label');
    const current = await page.textContent('#label');
    assert.ok(daemon.events.some((e) => e.label === current), `the current emotion (${current}) is a published label`);
    assert.equal(overWs, daemon.events.map((e) => e.id), 'a Node client over WebSockets got them too');
    await page.screenshot({ path: join(ARTIFACTS, 'example-mqtt-websocket.png') });
    await node.endAsync(true);
    assert.equal(errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e)), [], 'no console errors (after the daemon ends, only the refused reconnects)');
  } finally {
    await page.close();
    await stopDaemon(daemon);
  }
});

test.run();
