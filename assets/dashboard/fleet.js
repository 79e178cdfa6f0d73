// earshot fleet view: every device on the broker, from its retained status, emotion and listening
// topics and its live metrics and events, over MQTT-WebSockets (MQTT.js's browser bundle, served by
// the daemon at mqtt.min.js). The broker: ?broker=ws://host:port, else the embedded broker's
// WebSocket port (fleet.json) on this page's host. Topics: ?prefix= (default earshot), i.e.
// earshot/+/status, earshot/+/emotion, earshot/+/metrics, earshot/+/listening, earshot/+/events.

const $ = (id) => document.getElementById(id);
const COLOURS = {
  neutral: '#8d99ae', calm: '#2a9d8f', happy: '#f4a261', sad: '#457b9d', angry: '#e63946',
  fearful: '#7b2cbf', fear: '#7b2cbf', disgust: '#6a994e', surprised: '#ff70a6', surprise: '#ff70a6',
  boredom: '#b08968', uncertain: '#cbd5e1', idle: '#94a3b8',
};
const colour = (label) => COLOURS[label] ?? '#64748b';
/** Metrics older than this many intervals (or 5 minutes, whichever is longer) are called stale. */
const STALE_MS = 5 * 60_000;

const q = new URLSearchParams(location.search);
const prefix = q.get('prefix') ?? 'earshot';
/** device id -> what the broker said about it */
const devices = new Map();

function device(id) {
  let d = devices.get(id);
  if (!d) {
    d = { id, status: null, emotion: null, metrics: null, metricsAt: 0, listening: null, last: null };
    devices.set(id, d);
  }
  return d;
}

async function brokerUrl() {
  if (q.get('broker')) return q.get('broker');
  try {
    const cfg = await (await fetch('fleet.json')).json();
    if (cfg.brokerWsPort) return `ws://${location.hostname}:${cfg.brokerWsPort}`;
  } catch {
    /* not served by a daemon: fall through */
  }
  return `ws://${location.hostname || '127.0.0.1'}:9001`;
}

function setLink(what) {
  $('link').textContent = what;
  $('link').className = `link ${what === 'live' ? 'up' : 'down'}`;
  document.body.dataset.link = what;
}

function onMessage(topic, payload) {
  const parts = topic.split('/');
  if (parts.length !== 3 || parts[0] !== prefix) return;
  const [, id, kind] = parts;
  const text = new TextDecoder().decode(payload);
  if (text === '') return; // a cleared retained message
  const d = device(id);
  try {
    if (kind === 'status') d.status = text;
    else if (kind === 'listening') d.listening = text;
    else if (kind === 'emotion') d.emotion = JSON.parse(text);
    else if (kind === 'metrics') {
      d.metrics = JSON.parse(text);
      d.metricsAt = Date.now();
    } else if (kind === 'events') d.last = JSON.parse(text);
  } catch {
    /* not an earshot payload: ignored */
  }
  schedule();
}

/** ok, paused, behind, queueing, stale, waiting, offline: one word, and why. */
function healthOf(d) {
  if (d.status !== 'online') return ['offline', d.status === 'offline' ? 'stopped, or its broker connection was lost (last will)' : 'no status yet'];
  if (d.listening === 'OFF') return ['paused', 'listening is switched off: no audio is processed (not a fault)'];
  const m = d.metrics;
  if (!m) return ['waiting', 'online; no metrics since this page opened (they come every metrics.intervalSec)'];
  const detail = `real-time factor ${m.realTimeFactor.toFixed(3)}, latency p50 ${Math.round(m.latencyMs.p50)} ms, ${m.queueDepth} queued, ${m.droppedEvents} dropped, up ${Math.round(m.uptimeSec / 60)} min`;
  if (Date.now() - d.metricsAt > STALE_MS) return ['stale', `no metrics for ${Math.round((Date.now() - d.metricsAt) / 60000)} min; ${detail}`];
  if (m.realTimeFactor >= 1) return ['behind', detail];
  if (m.queueDepth > 0 || m.droppedEvents > 0) return ['queueing', detail];
  return ['ok', detail];
}

function cell(text, cls, title) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  if (title) td.title = title;
  return td;
}

const pct = (p) => `${Math.round(p * 100)} %`;
function ago(ms) {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  return s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

function render() {
  const rows = [...devices.values()].sort((a, b) => a.id.localeCompare(b.id)).map((d) => {
    const tr = document.createElement('tr');
    tr.dataset.device = d.id;
    const [health, why] = healthOf(d);
    tr.dataset.health = health;
    tr.dataset.status = d.status ?? '';
    tr.append(cell(d.id, 'device'));
    tr.append(cell(d.status ?? '–', d.status === 'online' ? 'ok' : 'bad'));
    const e = d.emotion;
    const state = cell(e ? (e.label === 'idle' ? 'idle' : `${e.label} ${pct(e.confidence)}`) : '–', 'label', e ? `smoothed, ${new Date(e.timestamp).toLocaleTimeString([], { hour12: false })}; arousal ${e.arousal}, valence ${e.valence}` : '');
    state.style.setProperty('--c', e ? colour(e.label) : 'inherit');
    tr.dataset.state = e?.label ?? '';
    tr.append(state);
    const l = d.last;
    const lastAt = l ? (l.end ? Date.parse(l.end) : Date.parse(l.start) + l.durationMs) : 0;
    const last = cell(l ? `${l.label} ${pct(l.confidence)}, ${ago(lastAt)}` : '–', 'label');
    last.style.setProperty('--c', l ? colour(l.label) : 'inherit');
    tr.dataset.last = l?.label ?? '';
    tr.append(last);
    tr.append(cell(health, `health ${health}`, why));
    return tr;
  });
  document.querySelector('#fleet tbody').replaceChildren(...rows);
  const all = [...devices.values()];
  const count = (h) => all.filter((d) => healthOf(d)[0] === h).length;
  const online = all.filter((d) => d.status === 'online').length;
  $('summary').textContent = `${all.length} devices: ${online} online, ${count('paused')} paused, ${all.length - online} offline`;
}

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    render();
  });
}

const url = await brokerUrl();
$('broker').textContent = `(${url}, ${prefix}/+/…)`;
// MQTT.js reconnects by itself (every reconnectPeriod ms) and resubscribes; its native timers, as
// its worker timers would start a Worker from a blob: URL, which the page's CSP forbids
const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 2000, timerVariant: 'native', clientId: `earshot-fleet-${Math.random().toString(16).slice(2, 10)}` });
client.on('connect', () => {
  setLink('live');
  client.subscribe(['status', 'emotion', 'metrics', 'listening', 'events'].map((t) => `${prefix}/+/${t}`), { qos: 0 });
});
client.on('close', () => setLink('reconnecting'));
client.on('message', onMessage);
// ages and staleness move with no message
setInterval(schedule, 1000);
render();
