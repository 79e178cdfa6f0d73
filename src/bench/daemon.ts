/**
 * The whole daemon measured the way it runs: the real composition root (EarshotDaemon) with a
 * file replay standing in for the microphone, the on-disk queue (fsync per event, as shipped), an
 * aedes broker on a free loopback port in the same process (as the embedded default runs), and an
 * MQTT subscriber that timestamps each event when it arrives through the broker. Called by
 * `earshot bench --only pipeline`. Each part runs in its own Node process with the service's V8
 * flags, so the memory figure is the daemon's alone.
 *
 * - unpaced: the clip looped to 60 s, replayed as fast as the pipeline takes it (deep inference
 *   queue: nothing dropped). Real-time factor of capture -> event = wall time from the first chunk
 *   to the last event received / audio time.
 * - paced: the clip looped at real time for `pacedSeconds` after a 2 s warm-up. CPU share of one
 *   core (process.cpuUsage: user + system, so the broker and the subscriber count too), resident
 *   memory, and two latencies per event:
 *     decided -> received: from the moment the end of the utterance is known (the VAD hang-over
 *       has elapsed, or a long utterance is cut) to the event arriving at the subscriber: the
 *       processing cost the target is about.
 *     speech end -> received: from the arrival of the segment's last audio. For a piece cut at
 *       the maximum length it equals the above; an utterance that ends naturally adds the VAD
 *       hang-over (pipeline.vad.hangoverMs, 300 ms) and chunk granularity, by design.
 *   Utterances are cut at 0.5 s here (pipeline.maxUtteranceSeconds) so a 20 s run yields enough
 *   events for percentiles; more, shorter inferences make the CPU figure conservative
 *   (`--set pipeline.maxUtteranceSeconds=6` measures the shipped cut instead).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get as httpGet, type ClientRequest } from 'node:http';
import type { MqttClient } from 'mqtt';
import { connectMqttUrl } from '../runtime/publish/mqtt-connect.ts';
import { decodeAudioFile, type DecodedAudio } from '../runtime/audio/decode.ts';
import { loadDaemonConfigIsolated } from '../daemon/config-isolated.ts';
import { EarshotDaemon } from '../daemon/daemon.ts';
import { createLogger } from '../daemon/logger.ts';
import { DEFAULT_MODEL, listModels, MODELS_DIR } from '../runtime/model/metadata.ts';
import { RollingPercentiles } from '../runtime/pipeline/stats.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../daemon/broker/embedded-broker.ts';
import { DEFAULT_CLIP, ROOT } from '../core/paths.ts';
import { freePort } from '../core/net.ts';

/** Until models/earshot-crnn is trained, the committed test model stands in (said in the output). */
const FALLBACK_MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');

/**
 * How a checkout's systemd/earshot.service starts node: the V8 flags of its NODE_OPTIONS (e.g.
 * `--max-semi-space-size=1`: a 1 MiB young generation keeps ~20 MB of idle heap out of RSS) and
 * its other Environment= lines (GLIBC_TUNABLES: one malloc arena, blocks of 64 KiB or more
 * mmap'ed, the heap top trimmed, so what start-up allocates and frees goes back to the kernel).
 * Each checkout of a side-by-side run is measured as its own unit runs it, so a change to the unit
 * is measured too (the other checkout used to run without its GLIBC_TUNABLES). No unit file: node's
 * defaults.
 */
export function serviceLaunch(dir: string): { nodeFlags: string[]; env: Record<string, string> } {
  let unit: string;
  try {
    unit = readFileSync(join(dir, 'systemd/earshot.service'), 'utf8');
  } catch {
    return { nodeFlags: [], env: {} };
  }
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm)) env[m[1]!] = m[2]!.trim();
  const nodeFlags = (env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
  delete env.NODE_OPTIONS;
  return { nodeFlags, env };
}

/** What the paced daemon should stay under on this 2-core x86-64 box (issue 32: a Pi 4 core is 3-4 times slower). */
export const DAEMON_TARGETS = { cpuPercent: 1.2, p99LatencyMs: 20, rssMb: 100, peakRssMb: 120, privateMb: 35 };

export interface DaemonBenchOptions {
  /** wall seconds of the paced run after warm-up; default 20 */
  pacedSeconds?: number;
  /** audio seconds of the unpaced run; default 60 */
  unpacedSeconds?: number;
  /** model name or path; default earshot-crnn, else the test fixture */
  model?: string;
  clip?: string;
  /** daemon settings for both runs, as `--set path=value` takes them (e.g. pipeline.vad.kind=cascade) */
  set?: string[];
  /** dashboard pages kept open on the measured daemon: SSE streams on its /events, read in the same process (so their cost counts too); default 0 */
  dashboardClients?: number;
}

export interface UnpacedResult {
  audioSeconds: number;
  wallSeconds: number;
  /** wall time first chunk -> last event received, / audio time */
  realTimeFactor: number;
  /** the pipeline's own processing time / audio time */
  pipelineRealTimeFactor: number;
  events: number;
  droppedInferences: number;
}

export interface PacedResult {
  wallSeconds: number;
  audioSeconds: number;
  events: number;
  cpuPercentOfOneCore: number;
  decidedToReceivedMs: { p50: number; p99: number; max: number };
  speechEndToReceivedMs: { p50: number; p99: number };
  rssMb: number;
  peakRssMb: number;
  /** The private (anonymous) part of the resident memory at the end; the rest is file-backed
   *  code (node, libonnxruntime) that the kernel shares and can drop. Linux only, else null. */
  anonRssMb: number | null;
  /** Private_Clean + Private_Dirty of /proc/self/smaps_rollup at the end (MB): the memory this
   *  process alone holds, what another process on the box cannot have. Linux only, else null. */
  privateMb: number | null;
  droppedInferences: number;
  /** pipeline.maxUtteranceSeconds of the run: 0.5 unless a --set changed it */
  cutSeconds: number;
  /** with dashboardClients: the streams that stayed open, and what they received (bytes/s, all together) */
  dashboard?: { clients: number; bytesPerSec: number };
}

export interface DaemonBenchResult {
  model: string;
  modelNote?: string;
  nodeFlags: string[];
  /** the Environment= of systemd/earshot.service the measured processes ran with (NODE_OPTIONS is nodeFlags) */
  serviceEnv?: Record<string, string>;
  unpaced: UnpacedResult;
  paced: PacedResult;
  targets: { cpuPercent: number; p99LatencyMs: number; rssMb: number; peakRssMb: number; privateMb: number };
}

/** RssAnon of /proc/self/status in MB, or null where there is no such file. */
function anonRss(): number | null {
  try {
    const kb = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb ? mb(Number(kb) * 1024) : null;
  } catch {
    return null;
  }
}

/**
 * Rss, Private_Clean + Private_Dirty and Anonymous of /proc/PID/smaps_rollup in MB, or null where
 * there is no such file. Anonymous is the steadier figure: "private" also counts libonnxruntime's
 * file pages while no other process maps them, which moves it by up to 19 MB between rounds.
 */
export function smapsMemory(pid: number | 'self' = 'self'): SmapsMemory | null {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    const rss = kb('Rss');
    const priv = kb('Private_Clean') + kb('Private_Dirty');
    const anon = kb('Anonymous');
    return Number.isFinite(rss) && Number.isFinite(priv) && Number.isFinite(anon) ? { rssMb: mb(rss * 1024), privateMb: mb(priv * 1024), anonMb: mb(anon * 1024) } : null;
  } catch {
    return null;
  }
}

export interface SmapsMemory {
  rssMb: number;
  privateMb: number;
  anonMb: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mb = (b: number) => +(b / (1 << 20)).toFixed(1);

/** The clip repeated to `seconds`, with -70 dBFS noise so pauses are not digital zero (a flat-line to capture). */
function looped(audio: DecodedAudio, seconds: number): DecodedAudio {
  const x = new Float32Array(Math.round(seconds * audio.sampleRate));
  for (let i = 0; i < x.length; i += audio.samples.length) x.set(audio.samples.subarray(0, Math.min(audio.samples.length, x.length - i)), i);
  const amp = 10 ** (-70 / 20) * Math.sqrt(12);
  let s = 1;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] += (s / 2 ** 32 - 0.5) * amp;
  }
  return { ...audio, samples: x, durationSec: x.length / audio.sampleRate };
}

function pickModel(requested?: string): { model: string; note?: string } {
  if (requested) return { model: requested };
  if (listModels(MODELS_DIR).includes(DEFAULT_MODEL)) return { model: DEFAULT_MODEL };
  return { model: FALLBACK_MODEL, note: `models/${DEFAULT_MODEL} is not there yet: measured with the test fixture tiny-lstm (1x24 LSTM)` };
}

/** A broker, a subscriber on it, and a daemon publishing to it (subscribed before any audio flows). */
interface Rig {
  daemon: EarshotDaemon;
  /** performance.now() when each event id arrived at the subscriber */
  received: Map<string, number>;
  /** per event id: when the utterance end was decided, and when its last audio arrived */
  produced: Map<string, { decided: number; audioEnd: number }>;
  ended: Promise<void>;
  /** bytes received so far by the dashboard streams, and how many are open */
  dashboard: { bytes: number; open: number };
  close(): Promise<void>;
}

/** `n` dashboard pages as the daemon sees them: SSE streams on /events, read and discarded. */
async function openDashboards(url: string, n: number, into: { bytes: number; open: number }): Promise<ClientRequest[]> {
  const requests: ClientRequest[] = [];
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) => {
      const req = httpGet(`${url}/events`, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`dashboard stream: HTTP ${res.statusCode}`));
        into.open++;
        res.on('data', (d: Buffer) => (into.bytes += d.length));
        res.on('close', () => into.open--);
        resolve();
      });
      req.on('error', reject);
      requests.push(req);
    });
  }
  return requests;
}

async function rig(model: string, audio: DecodedAudio, paced: boolean, stateDir: string, extra: string[] = [], dashboardClients = 0): Promise<Rig> {
  const broker: EmbeddedBroker = await startEmbeddedBroker({ port: 0 });
  // as `earshot run` does: validated on a worker thread, so the schema is not in the measured memory
  const config = await loadDaemonConfigIsolated({
    flags: {
      source: `file:${DEFAULT_CLIP}`,
      broker: broker.url,
      model,
      stateDir,
      httpPort: String(dashboardClients > 0 ? await freePort() : 0),
      set: ['metrics.intervalSec=0', `capture.realtime=${paced}`, `capture.loop=${paced}`, ...extra],
    },
    env: {},
  });
  const received = new Map<string, number>();
  // connected as the daemon's publisher connects (./publish/mqtt-connect.ts): mqtt.connect() would
  // load the WebSocket transport into the measured process, which the daemon itself does not load
  const client: MqttClient = connectMqttUrl(broker.url, { protocolVersion: 4, clientId: `bench-${process.pid}` });
  client.on('message', (_topic, payload) => {
    const t = performance.now();
    received.set((JSON.parse(payload.toString()) as { id: string }).id, t);
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(`earshot/${config.mqtt.deviceId}/events`, { qos: 1 });

  const daemon = new EarshotDaemon({ config, log: createLogger({ level: 'warn' }), env: {}, decode: async () => audio });
  const produced = new Map<string, { decided: number; audioEnd: number }>();
  daemon.on('result', (r, event) => {
    // emitted right after the result is computed, before it is queued on disk and published
    const now = performance.now();
    produced.set(event.id, { decided: now - r.inferenceLatencyMs, audioEnd: now - r.latencyMs });
  });
  const ended = new Promise<void>((r) => daemon.once('end', () => r()));
  await daemon.start();
  const dashboard = { bytes: 0, open: 0 };
  const pages = dashboardClients > 0 ? await openDashboards(daemon.httpUrl!, dashboardClients, dashboard) : [];
  return {
    daemon,
    received,
    produced,
    ended,
    dashboard,
    close: async () => {
      for (const p of pages) p.destroy();
      await daemon.stop('benchmark done');
      await client.endAsync(true);
      await broker.close();
    },
  };
}

async function measureUnpaced(model: string, clip: DecodedAudio, seconds: number, stateDir: string, set: string[] = []): Promise<UnpacedResult> {
  // a deep inference queue: the file races ahead of the model, and every segment must be classified
  const r = await rig(model, looped(clip, seconds), false, stateDir, ['pipeline.queueDepth=64', ...set]);
  await r.ended;
  const pipelineRtf = r.daemon.snapshot().pipeline.realTimeFactor;
  await r.daemon.stop('end of input'); // flushes the last utterance and delivers every queued event
  const last = Math.max(...r.received.values());
  const s = r.daemon.snapshot().pipeline;
  await r.close();
  if (r.received.size !== r.produced.size) throw new Error(`unpaced bench: ${r.produced.size} events produced but ${r.received.size} received`);
  const wall = (last - r.daemon.firstChunkAt!) / 1000;
  return {
    audioSeconds: +s.audioSeconds.toFixed(2),
    wallSeconds: +wall.toFixed(3),
    realTimeFactor: wall / s.audioSeconds,
    pipelineRealTimeFactor: pipelineRtf,
    events: r.received.size,
    droppedInferences: s.droppedInferences,
  };
}

async function measurePaced(model: string, clip: DecodedAudio, seconds: number, stateDir: string, set: string[] = [], dashboardClients = 0): Promise<PacedResult> {
  const r = await rig(model, looped(clip, clip.durationSec), true, stateDir, ['pipeline.maxUtteranceSeconds=0.5', ...set], dashboardClients);
  await sleep(2000); // warm-up: ONNX Runtime's first runs, JIT
  const warm = new Set(r.produced.keys());
  const a0 = r.daemon.snapshot().pipeline.audioSeconds;
  const bytes0 = r.dashboard.bytes;
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  let peak = process.memoryUsage().rss;
  while (performance.now() - w0 < seconds * 1000) {
    await sleep(250);
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - w0;
  const snap = r.daemon.snapshot();
  const rss = process.memoryUsage().rss;
  const dashboard = dashboardClients > 0 ? { clients: r.dashboard.open, bytesPerSec: Math.round((r.dashboard.bytes - bytes0) / (wallMs / 1000)) } : undefined;
  await sleep(300); // the window's last events reach the subscriber
  await r.close();
  const decided = new RollingPercentiles(100_000);
  const speechEnd = new RollingPercentiles(100_000);
  let max = 0;
  for (const [id, p] of r.produced) {
    const got = r.received.get(id);
    if (warm.has(id) || got === undefined || got > w0 + wallMs + 300) continue;
    decided.add(got - p.decided);
    speechEnd.add(got - p.audioEnd);
    max = Math.max(max, got - p.decided);
  }
  const [d50, d99] = decided.percentiles([50, 99]);
  const [e50, e99] = speechEnd.percentiles([50, 99]);
  return {
    wallSeconds: +(wallMs / 1000).toFixed(2),
    audioSeconds: +(snap.pipeline.audioSeconds - a0).toFixed(2),
    events: decided.count,
    cpuPercentOfOneCore: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    decidedToReceivedMs: { p50: d50, p99: d99, max },
    speechEndToReceivedMs: { p50: e50, p99: e99 },
    rssMb: mb(rss),
    peakRssMb: mb(peak),
    anonRssMb: anonRss(),
    privateMb: smapsMemory()?.privateMb ?? null,
    droppedInferences: snap.pipeline.droppedInferences,
    cutSeconds: r.daemon.config.pipeline.maxUtteranceSeconds,
    ...(dashboard ? { dashboard } : {}),
  };
}

export interface MeasureRequest extends DaemonBenchOptions {
  mode: 'unpaced' | 'paced';
}

/** One measurement in this process (daemon-child.ts runs it in a fresh one). */
export async function measureDaemon(req: MeasureRequest): Promise<UnpacedResult | PacedResult> {
  const { model } = pickModel(req.model);
  const clip = await decodeAudioFile(req.clip ?? DEFAULT_CLIP);
  const stateDir = mkdtempSync(join(tmpdir(), 'earshot-bench-'));
  try {
    return req.mode === 'unpaced' ? await measureUnpaced(model, clip, req.unpacedSeconds ?? 60, stateDir, req.set) : await measurePaced(model, clip, req.pacedSeconds ?? 20, stateDir, req.set, req.dashboardClients);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/**
 * How to start daemon-child beside this module: compiled JavaScript as it is (what an installed
 * earshot runs, so the figures are the service's), TypeScript through tsx (a checkout's tests).
 */
function childEntry(): string[] {
  const self = fileURLToPath(import.meta.url);
  const ext = extname(self);
  const child = join(dirname(self), `daemon-child${ext}`);
  return ext === '.ts' ? ['--import', 'tsx', child] : [child];
}

/**
 * Runs one measurement in a fresh process: this checkout's daemon-child, or `other`'s compiled one
 * (another checkout, for a side-by-side run). `sampled` gets the child's smaps memory as the parent
 * reads it during the paced window, the same way for either checkout.
 */
async function inChild<T>(req: MeasureRequest, other?: string, sampled?: SmapsMemory[]): Promise<T> {
  const entry = other ? [join(other, 'dist/bench/daemon-child.js')] : childEntry();
  // each checkout as its own unit runs it; NODE_OPTIONS of this shell (tsx in development) is not the service's
  const launch = serviceLaunch(other ?? ROOT);
  const env: NodeJS.ProcessEnv = { ...process.env, ...launch.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [...launch.nodeFlags, ...entry, JSON.stringify(req)], { cwd: other ?? ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const t0 = performance.now();
  const window = [3000, 2000 + (req.pacedSeconds ?? 20) * 1000];
  const timer = sampled
    ? setInterval(() => {
        const t = performance.now() - t0;
        const m = t >= window[0] && t <= window[1] && child.pid ? smapsMemory(child.pid) : null;
        if (m) sampled.push(m);
      }, 1000)
    : null;
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (timer) clearInterval(timer);
  if (code !== 0) throw new Error(`the ${req.mode} daemon benchmark${other ? ` of ${other}` : ''} exited with ${code}: ${out.slice(-2000)}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

export interface SideBySideRow {
  checkout: string;
  cpuPercent: number[];
  p99Ms: number[];
  p50Ms: number[];
  events: number[];
  /** the last in-window sample of the parent's reading of /proc/PID/smaps_rollup (MB) */
  rssMb: number[];
  privateMb: number[];
  anonMb: number[];
}

export interface SideBySideResult {
  model: string;
  pacedSeconds: number;
  rounds: number;
  loadAverage: { start: number[]; end: number[] };
  here: SideBySideRow;
  other: SideBySideRow;
}

/**
 * The paced daemon of this checkout and of `other` (another checkout, built: its dist/), alternated
 * `rounds` times (ABBA order) in one run, so both see the same background load. Only ratios of
 * this run mean anything; absolute CPU figures move with the box's load between runs.
 */
export async function benchDaemonSideBySide(opts: DaemonBenchOptions, other: string, rounds: number): Promise<SideBySideResult> {
  const { model } = pickModel(opts.model);
  const row = (checkout: string): SideBySideRow => ({ checkout, cpuPercent: [], p99Ms: [], p50Ms: [], events: [], rssMb: [], privateMb: [], anonMb: [] });
  const here = row(ROOT);
  const there = row(other);
  const start = loadavg();
  for (let i = 0; i < rounds; i++) {
    for (const [r, dir] of i % 2 === 0 ? ([[here, undefined], [there, other]] as const) : ([[there, other], [here, undefined]] as const)) {
      const mem: SmapsMemory[] = [];
      const p = await inChild<PacedResult>({ ...opts, model, mode: 'paced' }, dir, mem);
      r.cpuPercent.push(p.cpuPercentOfOneCore);
      r.p99Ms.push(p.decidedToReceivedMs.p99);
      r.p50Ms.push(p.decidedToReceivedMs.p50);
      r.events.push(p.events);
      r.rssMb.push(mem.at(-1)?.rssMb ?? p.rssMb);
      r.privateMb.push(mem.at(-1)?.privateMb ?? NaN);
      r.anonMb.push(mem.at(-1)?.anonMb ?? NaN);
    }
  }
  const name = model.replace(/^.*\//, '').replace(/\.json$/, '');
  return { model: name, pacedSeconds: opts.pacedSeconds ?? 20, rounds, loadAverage: { start, end: loadavg() }, here, other: there };
}

export function sideBySideReport(r: SideBySideResult): string {
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
  const cols: [string, (x: SideBySideRow) => number[], number][] = [
    ['CPU, % of one core', (x) => x.cpuPercent, 2],
    ['decided -> MQTT p99, ms', (x) => x.p99Ms, 1],
    ['decided -> MQTT p50, ms', (x) => x.p50Ms, 1],
    ['RSS, MB', (x) => x.rssMb, 1],
    ['private, MB', (x) => x.privateMb, 1],
    ['anonymous, MB', (x) => x.anonMb, 1],
    ['events', (x) => x.events, 0],
  ];
  const lines = [
    `pipeline side by side: the paced daemon (model ${r.model}, ${r.pacedSeconds} s each), ${r.rounds} rounds alternating (ABBA), load average ${r.loadAverage.start.map((v) => v.toFixed(1)).join(' ')} -> ${r.loadAverage.end.map((v) => v.toFixed(1)).join(' ')}`,
    `  here:  ${r.here.checkout}`,
    `  other: ${r.other.checkout}`,
    `  ${''.padEnd(26)}${'here (median; rounds)'.padEnd(34)}${'other (median; rounds)'.padEnd(34)}here / other`,
  ];
  for (const [label, get, digits] of cols) {
    const a = get(r.here);
    const b = get(r.other);
    const cell = (v: number[]) => `${med(v).toFixed(digits)}; ${v.map((x) => x.toFixed(digits)).join(' ')}`.padEnd(34);
    lines.push(`  ${label.padEnd(26)}${cell(a)}${cell(b)}${(med(a) / med(b)).toFixed(2)}`);
  }
  return lines.join('\n');
}

/** Both measurements, each in a fresh Node process with the service's V8 flags. */
export async function benchDaemon(opts: DaemonBenchOptions = {}): Promise<DaemonBenchResult> {
  const { model, note } = pickModel(opts.model);
  const unpaced = await inChild<UnpacedResult>({ ...opts, model, mode: 'unpaced' });
  const paced = await inChild<PacedResult>({ ...opts, model, mode: 'paced' });
  const name = model.replace(/^.*\//, '').replace(/\.json$/, '');
  const launch = serviceLaunch(ROOT);
  return { model: name, modelNote: note, nodeFlags: launch.nodeFlags, serviceEnv: launch.env, unpaced, paced, targets: DAEMON_TARGETS };
}

export function daemonBenchReport(r: DaemonBenchResult): string {
  const p = r.paced;
  const u = r.unpaced;
  const ok = (good: boolean) => (good ? 'ok' : 'MISSED');
  return [
    `pipeline: the whole daemon (file replay -> frontend -> VAD -> ONNX -> on-disk queue -> MQTT broker -> subscriber), model ${r.model}`,
    ...(r.modelNote ? [`  note: ${r.modelNote}`] : []),
    `  each run in its own process: node ${r.nodeFlags.join(' ')}, ${Object.entries(r.serviceEnv ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')} (as systemd/earshot.service runs it)`,
    `  unpaced: ${u.audioSeconds} s of audio in ${u.wallSeconds} s: capture->event real-time factor ${u.realTimeFactor.toFixed(4)} (pipeline alone ${u.pipelineRealTimeFactor.toFixed(4)}), ${u.events} events, ${u.droppedInferences} dropped`,
    `  paced at real time for ${p.wallSeconds} s (${p.audioSeconds} s of audio, utterances cut at ${p.cutSeconds} s: ${p.events} events, ${p.droppedInferences} dropped):`,
    `    CPU                              ${p.cpuPercentOfOneCore.toFixed(2)} % of one core      (target < ${r.targets.cpuPercent} %: ${ok(p.cpuPercentOfOneCore < r.targets.cpuPercent)})`,
    `    utterance end decided -> MQTT    p50 ${p.decidedToReceivedMs.p50.toFixed(1)} ms, p99 ${p.decidedToReceivedMs.p99.toFixed(1)} ms, max ${p.decidedToReceivedMs.max.toFixed(1)} ms   (target p99 < ${r.targets.p99LatencyMs} ms: ${ok(p.decidedToReceivedMs.p99 < r.targets.p99LatencyMs)})`,
    `    last speech audio -> MQTT        p50 ${p.speechEndToReceivedMs.p50.toFixed(1)} ms, p99 ${p.speechEndToReceivedMs.p99.toFixed(1)} ms   (pieces cut at ${p.cutSeconds} s; an utterance that ends naturally is decided pipeline.vad.hangoverMs = 300 ms after its last speech)`,
    `    resident memory                  ${p.rssMb} MB, peak ${p.peakRssMb} MB   (targets < ${r.targets.rssMb} MB, peak < ${r.targets.peakRssMb} MB: ${ok(p.rssMb < r.targets.rssMb && p.peakRssMb < r.targets.peakRssMb)})`,
    ...(p.anonRssMb === null ? [] : [`      of which anonymous             ${p.anonRssMb} MB   (the rest is file-backed code: node, libonnxruntime)`]),
    ...(p.privateMb == null ? [] : [`    private memory                   ${p.privateMb} MB   (Private_Clean + Private_Dirty of smaps_rollup: this process's alone; target < ${r.targets.privateMb} MB: ${ok(p.privateMb < r.targets.privateMb)})`]),
    ...(p.dashboard ? [`    dashboard                        ${p.dashboard.clients} page(s) open on /events throughout, ${p.dashboard.bytesPerSec} bytes/s streamed (read in the measured process: included above)`] : []),
  ].join('\n');
}
