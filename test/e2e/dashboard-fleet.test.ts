// The fleet view (/fleet) in a real browser (Debian's Chromium through playwright-core) against a
// real daemon (bin/earshot.js) whose embedded broker offers MQTT over WebSockets, with 20 more
// devices simulated by this test: their retained status, emotion and listening published on the
// embedded broker (TCP) before the page opens, their metrics and events after it subscribed.
// The page must list all 21 devices with their state, health and last utterance: online ones ok,
// a paused one (listening OFF) as paused, not as a fault; an offline one as offline; a device
// going offline while the page is open changes row. Screenshot: test-artifacts/dashboard/fleet.png.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import type { Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { launchChromium } from '../helpers/browser.ts';
import { spawnDaemon } from '../helpers/daemon.ts';
import { waitUntil as waitFor } from '../helpers/harness.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';
import { EventIdSource } from '../../src/runtime/publish/event-id.ts';
import { emotionEventSchema, emotionStateSchema, metricsSchema, type EmotionEvent, type EmotionState, type Metrics } from '../../src/runtime/publish/payloads.ts';

const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');
mkdirSync(ARTIFACTS, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), 'earshot-fleet-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const waitUntil = (what: string, done: () => boolean | Promise<boolean>, timeoutMs: number, context: () => string = () => '') => waitFor(what, done, timeoutMs, context, 100);

const LABELS = ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'];
const SIMULATED = 20;

/** A plausible device: probabilities peaked on one label, rounded as the daemon rounds them. */
function simulated(i: number) {
  const id = `sim${String(i).padStart(2, '0')}`;
  const label = LABELS[i % LABELS.length];
  const probabilities = Object.fromEntries(LABELS.map((l) => [l, l === label ? 0.65 : 0.05]));
  const state: EmotionState = { label, confidence: 0.65, probabilities, arousal: Math.round(((i % 7) / 3.5 - 1) * 1000) / 1000, valence: Math.round(((i % 5) / 2.5 - 1) * 1000) / 1000, timestamp: new Date().toISOString(), model: 'earshot-crnn' };
  const said = LABELS[(i + 3) % LABELS.length];
  const event: EmotionEvent = { id: new EventIdSource(id).next(), start: new Date(Date.now() - 2500).toISOString(), durationMs: 1500, label: said, confidence: 0.7, probabilities: Object.fromEntries(LABELS.map((l) => [l, l === said ? 0.7 : 0.043])), arousal: 0.2, valence: -0.1, model: 'earshot-crnn', adapted: true };
  const metrics: Metrics = { uptimeSec: 600 + i, realTimeFactor: 0.04, latencyMs: { p50: 305.2, p99: 330.8 }, droppedFrames: 0, droppedInferences: 0, queueDepth: i === 7 ? 3 : 0, droppedEvents: 0, version: '0.1.0', timestamp: new Date().toISOString() };
  // sim03 is paused (listening off), sim05 offline (its last will)
  return { id, state: emotionStateSchema.parse(state), event: emotionEventSchema.parse(event), metrics: metricsSchema.parse(metrics), status: i === 5 ? 'offline' : 'online', listening: i === 3 ? 'OFF' : 'ON' };
}

async function rows(page: Page) {
  return page.$$eval('#fleet tbody tr', (trs) =>
    trs.map((tr) => {
      const t = tr as HTMLTableRowElement;
      return { device: t.dataset.device!, status: t.dataset.status!, state: t.dataset.state!, last: t.dataset.last!, health: t.dataset.health!, cells: [...t.children].map((c) => c.textContent ?? '') };
    }),
  );
}

test('/fleet: 21 devices over MQTT-WebSockets (the daemon and 20 simulated), each with state, health and last utterance', async () => {
  const [http, tcp, ws] = [await freePort(), await freePort(), await freePort()];
  const daemon = spawnDaemon(['--device-id', 'fleethost', '--state-dir', join(tmp, 'state'), '--http-port', String(http), '--source', `file:${join(ROOT, 'assets/demo-sequence.flac')}`, '--set', 'capture.loop=true',
    '--set', `embeddedBroker.port=${tcp}`, '--set', `embeddedBroker.wsPort=${ws}`, '--set', 'metrics.intervalSec=1']);
  const browser = await launchChromium();
  const { page, errors } = await browser.newPage();
  const sims = Array.from({ length: SIMULATED }, (_, i) => simulated(i + 1));
  const pub = await (async () => {
    await waitUntil('the daemon\'s broker', async () => (await fetch(`http://127.0.0.1:${ws}/`).then((r) => r.status).catch(() => 0)) === 426, 30000, () => daemon.stderr().slice(-2000));
    return connectAsync(`mqtt://127.0.0.1:${tcp}`, { protocolVersion: 4 });
  })();
  try {
    for (const s of sims) {
      await pub.publishAsync(`earshot/${s.id}/status`, s.status, { qos: 1, retain: true });
      await pub.publishAsync(`earshot/${s.id}/listening`, s.listening, { qos: 1, retain: true });
      await pub.publishAsync(`earshot/${s.id}/emotion`, JSON.stringify(s.state), { qos: 1, retain: true });
    }
    const t0 = Date.now();
    await page.goto(`http://127.0.0.1:${http}/fleet`);
    await waitUntil('the page connected', async () => (await page.evaluate(() => document.body.dataset.link)) === 'live', 10000);
    await waitUntil('21 devices from their retained messages', async () => (await rows(page)).length === SIMULATED + 1, 10000);
    const retainedMs = Date.now() - t0;
    // live: metrics and one utterance each (sim05 is offline: nothing)
    for (const s of sims) {
      if (s.status !== 'online') continue;
      await pub.publishAsync(`earshot/${s.id}/metrics`, JSON.stringify(s.metrics), { qos: 0 });
      await pub.publishAsync(`earshot/${s.id}/events`, JSON.stringify(s.event), { qos: 1 });
    }
    await waitUntil('every online simulated device with its last utterance and metrics', async () => {
      const r = await rows(page);
      return sims.every((s) => s.status !== 'online' || r.find((x) => x.device === s.id)?.last === s.event.label);
    }, 10000);
    await waitUntil('the daemon itself with an utterance and metrics', async () => {
      const me = (await rows(page)).find((x) => x.device === 'fleethost');
      return !!me && me.last !== '' && me.health === 'ok' && me.state !== '';
    }, 40000, () => daemon.stderr().slice(-2000));
    const r = await rows(page);
    assert.equal(r.map((x) => x.device), ['fleethost', ...sims.map((s) => s.id)], 'every device on the broker, sorted');
    for (const s of sims) {
      const row = r.find((x) => x.device === s.id)!;
      assert.is(row.status, s.status, s.id);
      assert.is(row.state, s.state.label, `${s.id}: the retained smoothed state`);
      const health = s.status === 'offline' ? 'offline' : s.listening === 'OFF' ? 'paused' : s.metrics.queueDepth > 0 ? 'queueing' : 'ok';
      assert.is(row.health, health, `${s.id}: ${row.cells.join(' | ')}`);
      if (s.status === 'online') assert.match(row.cells[3], new RegExp(`^${s.event.label} 70 %, \\d+ s ago$`));
    }
    assert.match(await page.textContent('#summary') ?? '', /^21 devices: 20 online, 1 paused, 1 offline$/);
    const title = await page.$eval('#fleet tr[data-device="sim03"] td.health', (td) => (td as HTMLElement).title);
    assert.match(title, /not a fault/, 'paused says why on hover');
    await page.screenshot({ path: join(ARTIFACTS, 'fleet.png'), fullPage: true });
    // a device that goes away (its will): its row turns offline while the page is open
    await pub.publishAsync('earshot/sim01/status', 'offline', { qos: 1, retain: true });
    await waitUntil('sim01 offline', async () => (await rows(page)).find((x) => x.device === 'sim01')?.health === 'offline', 5000);
    console.log(`  fleet: ${r.length} devices listed ${retainedMs} ms after opening the page (retained state), live rows after their first messages`);
    assert.equal(errors, [], 'no console errors');
  } finally {
    await pub.endAsync(true);
    await page.close();
    await browser.close();
    daemon.child.kill('SIGTERM');
    await daemon.exit;
  }
});

test.run();
