/**
 * The dashboard feed's own CPU cost, timed directly (the end-to-end figure of
 * `earshot bench --only pipeline --dashboard-clients 1` is within the noise of a loaded machine):
 * N health messages and N event broadcasts to one SSE client over real loopback HTTP, the client
 * reading in this same process. Run: node --import tsx experiments/bench-dashboard-feed.ts
 */
import { EventEmitter } from 'node:events';
import { get } from 'node:http';
import { createDashboard } from '../src/daemon/dashboard/index.ts';
import { startHttpServer } from '../src/daemon/http.ts';
import { createLogger } from '../src/daemon/logger.ts';
import { RollingPercentiles } from '../src/runtime/pipeline/stats.ts';
const bus = new EventEmitter();
// the daemon's snapshot sorts two full latency windows (pipeline.latencyWindow) per call (default 256 each): do the same
const windows = [new RollingPercentiles(256), new RollingPercentiles(256)];
for (const w of windows) for (let i = 0; i < 256; i++) w.add(Math.random() * 50);
const snap = () => {
  const mem = process.memoryUsage(); const cpu = process.cpuUsage();
  for (const w of windows) w.percentiles([50, 99]);
  return { version: '0.1.0', model: 'earshot-crnn', source: 'portaudio', deviceId: 'd', uptimeSec: 100, stopping: false,
    pipeline: { realTimeFactor: 0.03, latencyMs: { p50: 10, p99: 20 }, droppedInferences: 0, alive: true },
    capture: { delivering: true, lastChunkAgoMs: 5, chunks: 1, condition: null, conditionDetail: null, conditions: {}, restarts: 0 },
    mqtt: { connected: true, url: 'mqtt://127.0.0.1:1883', embedded: true, queueDepth: 0, droppedEvents: 0, events: 3 },
    process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, cpuUserSec: cpu.user, cpuSystemSec: cpu.system } } as any;
};
const dash = createDashboard({ snapshot: snap, labels: () => ['a'], brokerWsUrl: () => null, onEvent: (l) => bus.on('e', l), onState: (l) => bus.on('s', l) },
  { host: '127.0.0.1', idleAfterSec: 30, deviceId: 'd', version: '0', log: createLogger({ level: 'silent' }) });
const http = await startHttpServer({ host: '127.0.0.1', port: 0 }, { health: () => ({ healthy: true, body: {} }), metricsText: () => '' }, dash.handle);
let bytes = 0;
await new Promise<void>((r) => get(`${http.url}/events`, (res) => { res.on('data', (d) => (bytes += d.length)); r(); }));
await new Promise((r) => setTimeout(r, 200));
const ev = { id: 'x', deviceId: 'd', start: new Date().toISOString(), end: new Date().toISOString(), durationMs: 1500, label: 'happy', confidence: 0.9,
  probabilities: { neutral: 0.01, calm: 0.01, happy: 0.9, sad: 0.02, angry: 0.02, fearful: 0.02, disgust: 0.01, surprised: 0.01 }, arousal: 0.4, valence: 0.5, model: 'earshot-crnn', kind: 'utterance' };
for (const [what, fn] of [['health tick', () => (dash.feed as any).broadcast('health', dash.feed.health())], ['event', () => bus.emit('e', { ...ev, id: String(Math.random()) })]] as const) {
  const N = 5000;
  const c0 = process.cpuUsage(); const b0 = bytes;
  for (let i = 0; i < N; i++) { fn(); if (i % 50 === 0) await new Promise((r) => setImmediate(r)); }
  await new Promise((r) => setTimeout(r, 300));
  const c = process.cpuUsage(c0);
  console.log(`${what}: ${((c.user + c.system) / N).toFixed(1)} us CPU each (server + in-process client), ${((bytes - b0) / N).toFixed(0)} bytes each`);
}
dash.close(); await http.close();
