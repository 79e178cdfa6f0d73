/**
 * The dashboard's live data, as Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html)
 * straight from the daemon, so the page works with no broker at all. One stream per open page:
 *
 *   event: hello    on connect: device, model, labels, idle setting, the VAD hang-over, the
 *                   current emotion state and the events of the last RECENT_MS (a reconnecting
 *                   page merges them by id, so a daemon restart loses nothing it already showed)
 *   event: result   each EmotionEvent as it is published (the same JSON as `<base>/events`)
 *   event: state    each EmotionState as it is published (the same JSON as `<base>/emotion`)
 *   event: health   every HEALTH_EVERY_MS while at least one page is open (DashboardHealth)
 *
 * `retry:` tells EventSource to reconnect after a second; the page also reopens a stream that
 * the browser gave up on. Nothing runs while no page is open: the health timer starts with the
 * first client and stops with the last; events cost one array push.
 *
 * `idle`: no utterance for dashboard.idleAfterSec (default 30 s, the default silence of the
 * `idle` emotion state proposed for the daemon itself), counted from the last result, or from
 * the start when there was none yet.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { eventEndMs } from '../../runtime/publish/from-pipeline.ts';
import type { EmotionEvent, EmotionState } from '../../runtime/publish/payloads.ts';
import type { DaemonSnapshot } from '../metrics.ts';

/** Events kept for a page that opens (or reopens): the timeline shows this much. */
export const RECENT_MS = 10 * 60_000;
/** ...and at most this many (window mode at a 0.5 s hop makes 1200 in 10 minutes). */
export const RECENT_MAX = 2000;
export const HEALTH_EVERY_MS = 1000;
/** A page that reads slower than this much buffered output is dropped (it reconnects and gets a fresh hello). */
const MAX_BUFFERED_BYTES = 1 << 20;

/** What the daemon shows the dashboard: narrow, so tests can drive a feed without a daemon. */
export interface DashboardSource {
  snapshot(): DaemonSnapshot;
  labels(): readonly string[];
  /** `ws://…` of the embedded broker's MQTT over WebSockets, or null */
  brokerWsUrl(): string | null;
  onEvent(listener: (e: EmotionEvent) => void): void;
  onState(listener: (s: EmotionState) => void): void;
}

/** `paused`: listening is switched off (the privacy switch), which is not a fault. */
export type SourceState = 'capturing' | 'paused' | 'waiting for audio' | 'no data' | 'flat line' | 'device lost';

export interface DashboardHealth {
  source: string;
  sourceState: SourceState;
  /** the capture condition's detail (device lost: why), else null */
  sourceDetail: string | null;
  broker: { connected: boolean; url: string; embedded: boolean; wsUrl: string | null };
  queueDepth: number;
  droppedEvents: number;
  realTimeFactor: number;
  latencyMs: { p50: number; p99: number };
  droppedInferences: number;
  uptimeSec: number;
  events: number;
  idle: boolean;
  /** the privacy switch (src/daemon/listening.ts): false = no audio is processed */
  listening: boolean;
  /** when it was last set (ISO 8601; null: no switch), so the page keeps the newer of this and a POST's answer */
  listeningSince: string | null;
  /** seconds since the last utterance; null before the first */
  lastUtteranceAgoSec: number | null;
  stopping: boolean;
}

function sourceStateOf(s: DaemonSnapshot): SourceState {
  if (s.capture.listening === false) return 'paused';
  switch (s.capture.condition) {
    case 'flatline':
      return 'flat line';
    case 'device-lost':
      return 'device lost';
    case 'no-data':
      return 'no data';
    default:
      return s.capture.delivering ? 'capturing' : s.capture.lastChunkAgoMs === null ? 'waiting for audio' : 'no data';
  }
}

export class DashboardFeed {
  private readonly clients = new Set<ServerResponse>();
  private readonly recent: EmotionEvent[] = [];
  private state: EmotionState | null = null;
  private lastUtteranceAt: number | null = null;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly wallNow: () => number;

  constructor(
    private readonly source: DashboardSource,
    private readonly opts: { deviceId: string; version: string; idleAfterSec: number; hangoverMs?: number; now?: () => number; wallNow?: () => number },
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.wallNow = opts.wallNow ?? (() => Date.now());
    this.startedAt = this.now();
    source.onEvent((e) => this.onEvent(e));
    source.onState((s) => {
      this.state = s;
      this.broadcast('state', s);
    });
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Serves one SSE stream until the page goes away (or close()). */
  open(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    req.socket.setNoDelay(true);
    this.prune();
    const hello = {
      deviceId: this.opts.deviceId,
      version: this.opts.version,
      labels: this.source.labels(),
      idleAfterSec: this.opts.idleAfterSec,
      hangoverMs: this.opts.hangoverMs ?? null,
      recentMs: RECENT_MS,
      state: this.state,
      events: this.recent,
      health: this.health(),
    };
    res.write(`retry: 1000\n${frame('hello', hello)}`);
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimer();
    });
    this.timer ??= setInterval(() => this.broadcast('health', this.health()), HEALTH_EVERY_MS).unref();
  }

  health(): DashboardHealth {
    const s = this.source.snapshot();
    const sinceUtterance = this.now() - (this.lastUtteranceAt ?? this.startedAt);
    return {
      source: s.source,
      sourceState: sourceStateOf(s),
      sourceDetail: s.capture.condition ? s.capture.conditionDetail : null,
      broker: { connected: s.mqtt.connected, url: s.mqtt.url, embedded: s.mqtt.embedded, wsUrl: this.source.brokerWsUrl() },
      queueDepth: s.mqtt.queueDepth,
      droppedEvents: s.mqtt.droppedEvents,
      realTimeFactor: s.pipeline.realTimeFactor,
      latencyMs: s.pipeline.latencyMs,
      droppedInferences: s.pipeline.droppedInferences,
      uptimeSec: Math.round(s.uptimeSec),
      events: s.mqtt.events,
      idle: sinceUtterance >= this.opts.idleAfterSec * 1000 || s.capture.listening === false,
      listening: s.capture.listening !== false,
      listeningSince: s.capture.listeningSince ?? null,
      lastUtteranceAgoSec: this.lastUtteranceAt === null ? null : Math.round(sinceUtterance / 100) / 10,
      stopping: s.stopping,
    };
  }

  /** Ends every stream (the daemon is stopping; pages reconnect to the next one). */
  close(): void {
    this.stopTimer();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private onEvent(e: EmotionEvent): void {
    this.lastUtteranceAt = this.now();
    this.recent.push(e);
    this.prune();
    this.broadcast('result', e);
  }

  private prune(): void {
    const oldest = this.wallNow() - RECENT_MS;
    let drop = Math.max(0, this.recent.length - RECENT_MAX);
    while (drop < this.recent.length && eventEndMs(this.recent[drop]) < oldest) drop++;
    if (drop > 0) this.recent.splice(0, drop);
  }

  private broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const text = frame(event, data);
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** One SSE message; JSON never contains a raw newline, so one `data:` line suffices. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
