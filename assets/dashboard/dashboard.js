// earshot dashboard: live data from the daemon's own /events stream (Server-Sent Events; the
// message types are documented in src/daemon/dashboard/feed.ts). No library, no build step.
// Reconnects by itself: EventSource retries a dropped stream, and a stream the browser gave up
// on, or one that went quiet (the daemon sends health every second), is reopened here.

const RECONNECT_MS = 2000;
const QUIET_MS = 5000;
const MAX_ROWS = 200;

/** One colour per label, stable across reloads; unknown labels get one from a fixed palette. */
const COLOURS = {
  neutral: '#8d99ae', calm: '#2a9d8f', happy: '#f4a261', sad: '#457b9d', angry: '#e63946',
  fearful: '#7b2cbf', fear: '#7b2cbf', disgust: '#6a994e', surprised: '#ff70a6', surprise: '#ff70a6',
  boredom: '#b08968', uncertain: '#cbd5e1',
};
const PALETTE = ['#ef476f', '#06d6a0', '#118ab2', '#ffd166', '#8338ec', '#3a86ff', '#fb5607'];
const colour = (label) => COLOURS[label] ?? PALETTE[[...label].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % PALETTE.length];

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

const model = {
  labels: [],
  /** id -> EmotionEvent, merged across reconnects (ids are unique across restarts) */
  events: new Map(),
  state: null,
  health: null,
  recentMs: 10 * 60_000,
  idleAfterSec: 30,
  /** the VAD hang-over (ms): part of every event's latency, shown apart from the decision */
  hangoverMs: null,
  deviceId: '',
  version: '',
};

let source = null;
let lastMessageAt = 0;
let retryTimer = null;

function connect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = new EventSource('events');
  setLink('connecting');
  source.addEventListener('open', () => setLink('live'));
  source.addEventListener('error', () => {
    setLink('reconnecting');
    if (source.readyState === EventSource.CLOSED) retryTimer = setTimeout(connect, RECONNECT_MS);
  });
  const on = (type, fn) => source.addEventListener(type, (m) => {
    lastMessageAt = Date.now();
    fn(JSON.parse(m.data));
    schedule();
  });
  on('hello', (h) => {
    model.deviceId = h.deviceId;
    model.version = h.version;
    model.idleAfterSec = h.idleAfterSec;
    model.hangoverMs = h.hangoverMs ?? null;
    model.recentMs = h.recentMs;
    for (const l of h.labels) if (!model.labels.includes(l)) model.labels.push(l);
    for (const e of h.events) model.events.set(e.id, e);
    if (h.state) model.state = h.state;
    model.health = h.health;
    setLink('live');
  });
  on('result', (e) => {
    model.events.set(e.id, e);
    if (model.health) model.health.idle = false;
  });
  on('state', (s) => {
    model.state = s;
    if (model.health) model.health.idle = false;
  });
  on('health', (h) => {
    model.health = h;
  });
}

// a stream that went quiet (a half-open connection after the daemon's machine slept) is reopened
setInterval(() => {
  if (source && source.readyState === EventSource.OPEN && Date.now() - lastMessageAt > QUIET_MS) {
    setLink('reconnecting');
    connect();
  }
}, 1000);

function setLink(what) {
  const el = $('link');
  el.textContent = what;
  el.className = `link ${what === 'live' ? 'up' : 'down'}`;
  document.body.dataset.link = what;
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

function render() {
  prune();
  const sorted = [...model.events.values()].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  for (const e of sorted) for (const l of Object.keys(e.probabilities)) if (!model.labels.includes(l)) model.labels.push(l);
  $('device').textContent = `${model.deviceId} · ${model.state?.model ?? sorted.at(-1)?.model ?? ''} · v${model.version}`;
  renderCurrent(sorted.at(-1));
  renderHealth();
  renderLegend();
  renderCircumplex(sorted);
  renderTimeline(sorted);
  renderEvents(sorted);
}

function prune() {
  const oldest = Date.now() - model.recentMs;
  for (const [id, e] of model.events) if (endOf(e) < oldest) model.events.delete(id);
}

/** When an event's audio ended (ms): start + durationMs (`end` in events queued by earshot before 0.2). */
const endOf = (e) => (e.end ? Date.parse(e.end) : Date.parse(e.start) + e.durationMs);

function renderCurrent(last) {
  const el = $('current');
  const idle = model.health?.idle ?? false;
  const s = model.state;
  let label = 'waiting';
  let conf = '';
  if (idle) label = 'idle';
  else if (s) {
    label = s.label;
    conf = pct(s.confidence);
  }
  el.dataset.label = label;
  el.className = `current ${label === 'idle' || label === 'waiting' ? label : ''}`;
  el.style.setProperty('--c', label === 'idle' || label === 'waiting' ? '#94a3b8' : colour(label));
  $('current-label').textContent = label;
  $('current-confidence').textContent = conf;
  const l = $('last');
  l.dataset.label = last?.label ?? '';
  l.style.setProperty('--c', last ? colour(last.label) : '#94a3b8');
  $('last-label').textContent = last ? last.label : '–';
  $('last-confidence').textContent = last ? pct(last.confidence) : '';
  const ago = model.health?.lastUtteranceAgoSec;
  const paused = model.health && !model.health.listening;
  const why = paused ? ' (listening is off)' : idle ? ` (idle after ${model.idleAfterSec} s of silence)` : '';
  $('current-detail').textContent = last
    ? `last utterance ${ago == null ? '' : `${duration(ago)} ago`}${why}`
    : `nothing heard yet${why}`;
}

/** The last utterances on Russell's circumplex: valence across, arousal up; older dots fade (half-life FADE_MS). */
const FADE_MS = 60_000;
const CIRCUMPLEX_MAX = 40;
function renderCircumplex(sorted) {
  const now = Date.now();
  const dots = sorted.slice(-CIRCUMPLEX_MAX).map((e) => {
    const c = document.createElementNS(SVG, 'circle');
    const age = Math.max(0, now - endOf(e));
    const opacity = Math.max(0.08, 0.5 ** (age / FADE_MS));
    c.setAttribute('class', 'pt');
    c.setAttribute('cx', (e.valence * 100).toFixed(1));
    c.setAttribute('cy', (-e.arousal * 100).toFixed(1));
    c.setAttribute('r', '5');
    c.setAttribute('fill', colour(e.label));
    c.setAttribute('fill-opacity', opacity.toFixed(2));
    c.dataset.id = e.id;
    c.dataset.label = e.label;
    const t = document.createElementNS(SVG, 'title');
    t.textContent = `${clock(e.start)} ${e.label} ${pct(e.confidence)}: valence ${signed(e.valence)}, arousal ${signed(e.arousal)}`;
    c.append(t);
    return c;
  });
  const s = model.state;
  if (s && s.label !== 'idle' && !(model.health?.idle ?? false)) {
    const ring = document.createElementNS(SVG, 'circle');
    ring.setAttribute('class', 'state');
    ring.setAttribute('cx', (s.valence * 100).toFixed(1));
    ring.setAttribute('cy', (-s.arousal * 100).toFixed(1));
    ring.setAttribute('r', '8');
    const t = document.createElementNS(SVG, 'title');
    t.textContent = `smoothed state: ${s.label}, valence ${signed(s.valence)}, arousal ${signed(s.arousal)}`;
    ring.append(t);
    dots.push(ring);
  }
  $('circumplex-points').replaceChildren(...dots);
}
const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;

function renderHealth() {
  const h = model.health;
  if (!h) return;
  const src = $('h-source');
  // listening switched off is a choice, not a fault: shown as paused, in grey
  const paused = h.sourceState === 'paused' || !h.listening;
  src.textContent = paused ? 'paused (listening is off)' : `${h.sourceState}${h.sourceDetail ? `: ${h.sourceDetail}` : ''}`;
  src.title = paused ? `${h.source}: no audio is processed until listening is switched on` : h.source;
  src.className = paused ? 'paused' : h.sourceState === 'capturing' ? 'ok' : 'bad';
  const b = $('h-broker');
  b.textContent = `${h.broker.connected ? 'connected' : 'disconnected'} (${h.broker.embedded ? 'embedded ' : ''}${h.broker.url}${h.broker.wsUrl ? `, ${h.broker.wsUrl}` : ''})`;
  b.className = h.broker.connected ? 'ok' : 'bad';
  $('h-queue').textContent = `${h.queueDepth}${h.droppedEvents ? ` (${h.droppedEvents} dropped)` : ''}`;
  $('h-rtf').textContent = h.realTimeFactor.toFixed(3);
  const hang = model.hangoverMs;
  const decision = (ms) => Math.max(0, ms - (hang ?? 0)).toFixed(0);
  $('h-decision').textContent = h.events > 0 || h.latencyMs.p50 > 0 ? `${decision(h.latencyMs.p50)} / ${decision(h.latencyMs.p99)} ms` : '– (no utterance yet)';
  $('h-hangover').textContent = hang == null ? 'included above' : `${hang.toFixed(0)} ms`;
  $('h-dropped').textContent = String(h.droppedInferences);
  $('h-uptime').textContent = duration(h.uptimeSec);
  if (h.listening !== listeningOn) renderListening(h.listening, h.listeningSince);
}

function renderLegend() {
  const el = $('legend');
  if (el.dataset.labels === model.labels.join(',')) return;
  el.dataset.labels = model.labels.join(',');
  el.replaceChildren(...model.labels.map((l) => {
    const s = document.createElement('span');
    s.className = 'key';
    s.style.setProperty('--c', colour(l));
    s.textContent = l;
    return s;
  }));
}

/** One column per utterance (newest on the right), its class probabilities stacked. */
function renderTimeline(sorted) {
  const svg = $('timeline');
  const W = 1000;
  const H = 200;
  const n = sorted.length;
  const step = n === 0 ? 0 : Math.min(40, W / n);
  const children = sorted.map((e, i) => {
    const g = document.createElementNS(SVG, 'g');
    g.setAttribute('class', 'utt');
    g.dataset.id = e.id;
    g.dataset.label = e.label;
    const x = W - (n - i) * step;
    let y = H;
    for (const l of model.labels) {
      const p = e.probabilities[l] ?? 0;
      if (p <= 0) continue;
      const r = document.createElementNS(SVG, 'rect');
      const h = p * H;
      y -= h;
      r.setAttribute('x', (x + step * 0.08).toFixed(1));
      r.setAttribute('width', (step * 0.84).toFixed(1));
      r.setAttribute('y', y.toFixed(1));
      r.setAttribute('height', h.toFixed(1));
      r.setAttribute('fill', colour(l));
      g.append(r);
    }
    const t = document.createElementNS(SVG, 'title');
    t.textContent = `${clock(e.start)} ${e.label} ${pct(e.confidence)}\n${model.labels.map((l) => `${l} ${pct(e.probabilities[l] ?? 0)}`).join('\n')}`;
    g.append(t);
    return g;
  });
  svg.replaceChildren(...children);
  $('axis-from').textContent = n ? clock(sorted[0].start) : '';
  $('axis-to').textContent = n ? clock(new Date(endOf(sorted[n - 1])).toISOString()) : '';
}

function renderEvents(sorted) {
  const rows = sorted.slice(-MAX_ROWS).reverse().map((e) => {
    const tr = document.createElement('tr');
    tr.dataset.id = e.id;
    tr.dataset.label = e.label;
    const cells = [clock(e.start), e.label, pct(e.confidence), `${(e.durationMs / 1000).toFixed(1)} s`];
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    tr.children[1].className = 'label';
    tr.children[1].style.setProperty('--c', colour(e.label));
    return tr;
  });
  document.querySelector('#events tbody').replaceChildren(...rows);
}

const pct = (p) => `${Math.round(p * 100)} %`;
const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour12: false });
function duration(sec) {
  if (sec < 90) return `${Math.round(sec)} s`;
  if (sec < 5400) return `${Math.round(sec / 60)} min`;
  return `${Math.floor(sec / 3600)} h ${Math.round((sec % 3600) / 60)} min`;
}

// The listening switch (issue 18): the state comes with every health message; the button POSTs
// the opposite to /listening (same origin, so the token cookie goes along). The server refuses it
// from another machine unless privacy.remoteListeningControl is set; the page says why.
let listeningOn = null;
let listeningSince = '';
// a health message sent just before a switch can arrive after the POST's answer: keep the newer
function renderListening(on, since) {
  if (since && listeningSince && since < listeningSince) return;
  listeningSince = since || listeningSince;
  listeningOn = on;
  $('listening-state').textContent = on ? 'ON' : 'OFF';
  $('listening').dataset.on = String(on);
  const b = $('listening-toggle');
  b.textContent = on ? 'Switch off' : 'Switch on';
  b.disabled = false;
}
$('listening-toggle').addEventListener('click', async () => {
  if (listeningOn === null) return;
  const b = $('listening-toggle');
  b.disabled = true;
  try {
    // JSON: the server takes a state change only so typed (a cross-site page cannot send it without a preflight)
    const res = await fetch('listening', { method: 'POST', body: JSON.stringify({ listening: listeningOn ? 'OFF' : 'ON' }), headers: { 'content-type': 'application/json' } });
    if (res.ok) {
      const st = await res.json();
      renderListening(st.listening === 'ON', st.since);
    }
    else $('listening-detail').textContent = (await res.text()).trim();
  } finally {
    b.disabled = false;
  }
});

// re-render once a second so ages and idle move with no message (and old events scroll off)
setInterval(schedule, 1000);
connect();
