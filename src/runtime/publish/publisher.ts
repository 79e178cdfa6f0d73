/**
 * The MQTT stage of the daemon: status with a last will, retained emotion state, events through
 * the on-disk queue (at least once, in order, across broker and daemon restarts), metrics, and
 * Home Assistant discovery. Topics and payloads: ./payloads.ts.
 *
 * Delivery of events: `publishEvent` appends to the OfflineQueue first, then a pump hands queued
 * entries to the client (up to `maxInFlight` unacknowledged) whenever it is connected; a PUBACK
 * removes the entry. When the connection drops, mqtt.js keeps its unacknowledged QoS 1 packets
 * and resends them on reconnect *before* it emits `connect` (client.js `_onConnect`), so on every
 * `connect` whatever is still queued has never been delivered and is sent from the oldest: order
 * is kept and nothing is skipped. A new process simply starts from the oldest queued entry.
 *
 * Fleet identity (each connect, before anything is published; the judgements are in ./fleet-identity.ts): the publisher subscribes to its
 * own `status` and `instance`, its discovery node and its command topics, then publishes a fence
 * message to itself and waits for the echo, so every retained message on those topics has arrived
 * (one connection keeps its order). On the first connect of the process it then decides:
 * `status` online with another installation's id in `instance` -> a claim to be proven live: a
 * ping with a per-run nonce on `<base>/instance/ping`, LIVENESS_TIMEOUT_MS (2 s) for the pong; a
 * live answer -> refuse (E_DEVICE_ID_TAKEN, exit 69, which systemd retries; a clean DISCONNECT so
 * the other daemon's status is not overwritten by our will), none -> a stale or forged claim,
 * logged with its host and replaced by ours; every running daemon answers the pings of its device
 * id (fleet-identity.ts). Online with its
 * own id -> its previous run, which did not stop cleanly: take over at once (the client id is the
 * installation's, so the broker drops the stale session and its will fires before our `online`).
 * Discovery configs found under the node that this run does not publish are cleared (removed
 * from Home Assistant). While running, an `offline` on its own status (a stale will) is answered
 * with `online`, and a second live run of the same installation (same state directory) that
 * started later than this one is told to stop.
 */
/* eslint-disable max-lines -- to be split: fleet identity, fencing and twins leave publisher.ts (issue 30 item 1) */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../core/mqtt-numbers.ts'; // the codec's 6 MB number cache off before the first packet
import { EarshotError } from '../../core/errors.ts';
import { redactUrl } from '../../core/redact.ts';
import { VERSION } from '../../core/version.ts';
import { hostname } from 'node:os';
import { baseTopicOf, type PublisherConfig } from './config.ts';
import { deviceDiscoveryMessage, MIGRATE_DISCOVERY, planMigration } from './discovery.ts';
import { loadInstallationId } from './installation.ts';
import { OfflineQueue, type Clock, type QueueFs } from './offline-queue.ts';
import { CommandGate } from './command-gate.ts';
import { connectMqttUrl } from './mqtt-connect.ts';
import { judgeClaim, judgeRejoin, earlierTwin, liveAnswer, liveTwinError, livenessTopics, LIVENESS_TIMEOUT_MS, otherClaim, pongFor, PONGS_PER_SECOND } from './fleet-identity.ts';
import { round3, topicsFor, type EmotionEvent, type EmotionState, type InstanceInfo, type Metrics, type Topics } from './payloads.ts';

/** How long the broker gets to echo the fence before the publisher goes on without its retained view. */
const FENCE_TIMEOUT_MS = 3000;
/** Commands from MQTT are acted on at most once per this interval (a flood of them: ./command-gate.ts)... */
const COMMAND_MIN_INTERVAL_MS = 1000;
/** ...and a flood is reported once, until this long passes without one. */
const COMMAND_QUIET_MS = 10_000;

/** What the publisher needs of an MQTT client; mqtt.js's MqttClient fits it. */
export interface MqttClientLike {
  /** mqtt.js reads `reconnectPeriod` each time it schedules a retry; the publisher grows it (backoff). */
  options: { reconnectPeriod?: number };
  publish(topic: string, message: string, opts: { qos: 0 | 1; retain: boolean }, callback?: (err?: Error) => void): unknown;
  subscribe(topic: string | string[], opts: { qos: 0 | 1; rap?: boolean }, callback?: (err: Error | null) => void): unknown;
  unsubscribe?(topic: string | string[]): unknown;
  on(event: 'connect' | 'close' | 'reconnect', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error & { code?: string | number }) => void): unknown;
  on(event: 'message', listener: (topic: string, payload: Buffer, packet?: { retain?: boolean }) => void): unknown;
  end(force: boolean, opts: object, callback: () => void): unknown;
}

/** The subset of mqtt.js IClientOptions the publisher sets. */
export interface MqttConnectOptions {
  clientId: string;
  username?: string;
  password?: string;
  keepalive: number;
  clean: boolean;
  protocolVersion: 4 | 5;
  reconnectPeriod: number;
  connectTimeout: number;
  resubscribe: boolean;
  queueQoSZero: boolean;
  will: { topic: string; payload: Buffer; qos: 1; retain: true };
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
}

export type MqttClientFactory = (url: string, opts: MqttConnectOptions) => MqttClientLike;

/** pino-compatible: `log.info({ fields }, 'message')`. */
export interface PublisherLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface PublisherContext {
  config: PublisherConfig;
  clock?: Clock;
  createClient?: MqttClientFactory;
  log?: PublisherLog;
  /** earshot version for discovery and metrics. Default: this package's (src/core/version.ts). */
  version?: string;
  /** Shown as the device model in Home Assistant. */
  deviceModel?: string;
  /** Called for a (non-retained) message on `topics.resetBaseline`; the publisher subscribes only when given. */
  onResetBaseline?: () => void;
  /** The model's labels: the options of the emotion sensor and the per-label sensors. Default none. */
  labels?: readonly string[];
  /** The event entity's event_types. Default: the labels and `uncertain`. */
  eventTypes?: readonly string[];
  /** The dashboard as other machines reach it (`http://host:port/`): Home Assistant's link to the device. Default none. */
  configurationUrl?: string;
  /** Default: the one kept in `<stateDir>/installation-id` (made on the first start). */
  installationId?: string;
  /** Retained text on `<base>/notice` (signage); '' clears it; undefined leaves the topic alone. */
  notice?: string;
  /** A non-retained `ON`/`OFF` on `<base>/listening/set`; the publisher subscribes only when given. */
  onListeningCommand?: (on: boolean) => void;
  /** A refusal found after start() returned (the broker was down at start): the daemon must stop. */
  onFatal?: (err: EarshotError) => void;
  /** The offline queue's file system calls (tests inject a full disk). Default node:fs. */
  queueFs?: QueueFs;
}

/** Metrics as the pipeline knows them; the publisher fills in its own queue numbers. */
export type MetricsInput = Omit<Metrics, 'queueDepth' | 'droppedEvents'> & Partial<Pick<Metrics, 'queueDepth' | 'droppedEvents'>>;

/** Home Assistant discovery is republished this long after `homeassistant/status` says online... */
const REDISCOVERY_DELAY_MS = 500;
/** ...and at most once per this interval, however many `online` messages arrive. */
const REDISCOVERY_MIN_INTERVAL_MS = 5000;

const silentLog: PublisherLog = { debug() {}, info() {}, warn() {}, error() {} };
const defaultFactory: MqttClientFactory = (url, opts) => connectMqttUrl(url, opts);

export class MqttPublisher {
  readonly topics: Topics;
  private readonly config: PublisherConfig;
  private readonly clock: Clock;
  private readonly log: PublisherLog;
  private readonly createClient: MqttClientFactory;
  private readonly version: string;
  /** mqtt.url with any password masked: what logs and errors show. */
  private readonly shownUrl: string;
  private readonly deviceModel: string;
  private client: MqttClientLike | undefined;
  private queue: OfflineQueue | undefined;
  private online = false;
  private stopping = false;
  private stopped = false;
  /** Bumped on every `connect`; acks from an older connection do not touch current counters. */
  private generation = 0;
  private readonly inFlight = new Set<number>();
  /** Unacknowledged QoS 1 status/emotion/discovery publishes on the current connection. */
  private otherPending = 0;
  private latestEmotion: EmotionState | undefined;
  private outage = { logged: false, attempts: 0, since: 0, lastError: undefined as (Error & { code?: string | number }) | undefined };
  private wakeDrain: (() => void) | undefined;
  private rediscovery: ReturnType<typeof setTimeout> | undefined;
  /** when discovery was last republished for Home Assistant */
  private lastDiscoveryAt = -Infinity;
  /** Events that could not even be queued (larger than the whole queue). */
  private unqueued = 0;
  /** Events the queue dropped when it closed (held in memory only): no longer queued. */
  private droppedAtClose = 0;
  private readonly onResetBaseline: (() => void) | undefined;
  private readonly ctx: PublisherContext;
  private installationId = '';
  private clientId = '';
  private instance: InstanceInfo | undefined;
  /** True once this process checked that no other installation uses its device id. */
  private claimed = false;
  private refused: EarshotError | undefined;
  /** Between subscribing and the fence's echo: retained messages are recorded, not acted on. */
  private collecting = false;
  private seen = { status: undefined as string | undefined, instance: undefined as string | undefined, discovery: new Set<string>(), deviceConfig: undefined as string | undefined };
  private onFence: ((payload: string) => void) | undefined;
  /** while a claim is being proven: the answers on `<base>/instance/pong` */
  private onPong: ((payload: string) => void) | undefined;
  /** pongs sent in the current second (PONGS_PER_SECOND) */
  private pongs = { second: 0, count: 0 };
  /** this connection's fence was never echoed: the retained view cannot be trusted */
  private unfenced = false;
  private firstOutcome: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private listeningState: boolean | undefined;
  /** One per command topic: at most one command acted on per COMMAND_MIN_INTERVAL_MS, one log line per flood. */
  private readonly commandGates = {
    reset: this.commandGate<true>('baseline/reset', () => this.onResetBaseline?.()),
    listening: this.commandGate<boolean>('listening/set', (on) => this.ctx.onListeningCommand?.(on)),
  };

  constructor(ctx: PublisherContext) {
    this.onResetBaseline = ctx.onResetBaseline;
    this.ctx = ctx;
    this.config = ctx.config;
    this.clock = ctx.clock ?? Date;
    this.log = ctx.log ?? silentLog;
    this.createClient = ctx.createClient ?? defaultFactory;
    this.version = ctx.version ?? VERSION;
    this.shownUrl = redactUrl(ctx.config.url);
    this.deviceModel = ctx.deviceModel ?? 'earshot speech emotion recognition';
    this.topics = topicsFor({ baseTopic: baseTopicOf(ctx.config), deviceId: ctx.config.deviceId, discoveryPrefix: ctx.config.discoveryPrefix });
  }

  /** Events persisted on disk and not yet acknowledged by the broker. */
  get queueDepth(): number {
    return Math.max(0, (this.queue?.depth ?? 0) - this.droppedAtClose);
  }

  /** Events finally dropped: the queue was full, the disk refused them until stop, or they could not be queued. */
  get droppedEvents(): number {
    return (this.queue?.droppedCount ?? 0) + this.unqueued;
  }

  /** Why the on-disk queue holds events in memory only (disk full or failing), or null. */
  get queueDegraded(): string | null {
    return this.queue?.degradedReason ?? null;
  }

  /** This installation's id (after start()). */
  get installation(): string {
    return this.installationId;
  }

  /** True between the broker's CONNACK (and the device id check) and the loss of the connection. */
  get connected(): boolean {
    return this.online;
  }

  /**
   * Open the queue and connect. Resolves once connected or after the first failed attempt, which
   * is logged as E_BROKER; retries continue in the background. Throws only for configuration
   * problems (unreadable TLS files, unusable state directory).
   */
  async start(): Promise<void> {
    if (this.client) return;
    const c = this.config;
    const queue = new OfflineQueue({ dir: join(c.stateDir, 'mqtt-queue'), ...c.queue, clock: this.clock, log: this.log, ...(this.ctx.queueFs ? { fs: this.ctx.queueFs } : {}) });
    let tls: Pick<MqttConnectOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
    try {
      tls = this.readTls();
    } catch (err) {
      queue.close();
      throw err;
    }
    try {
      this.installationId = this.ctx.installationId ?? loadInstallationId(c.stateDir, (m) => this.log.warn({ stateDir: c.stateDir }, m));
    } catch (err) {
      queue.close();
      throw err;
    }
    this.queue = queue;
    this.clientId = c.clientId ?? `earshot-${c.deviceId}-${this.installationId.slice(0, 8)}`;
    this.instance = { installationId: this.installationId, clientId: this.clientId, host: hostname(), version: this.version, startedAt: new Date(this.clock.now()).toISOString() };
    const client = this.createClient(c.url, {
      clientId: this.clientId,
      username: c.username,
      password: c.password,
      keepalive: c.keepaliveSec,
      clean: true, // the on-disk queue, not the broker session, is what makes delivery reliable
      protocolVersion: c.protocolVersion,
      reconnectPeriod: c.reconnectMinMs,
      connectTimeout: c.connectTimeoutMs,
      resubscribe: false, // subscribed again in onConnect
      queueQoSZero: false, // metrics while offline are stale; drop them
      will: { topic: this.topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...tls,
    });
    this.client = client;
    const firstOutcome = new Promise<void>((resolve, reject) => {
      this.firstOutcome = { resolve, reject };
      client.on('close', () => this.settleFirst());
    });
    client.on('connect', () => this.onConnect());
    client.on('close', () => this.onClose());
    client.on('error', (err) => {
      this.outage.lastError = err;
    });
    client.on('reconnect', () => {
      // Exponential backoff: mqtt.js uses the new period for the retry after this attempt.
      const next = Math.min((client.options.reconnectPeriod ?? c.reconnectMinMs) * 2, c.reconnectMaxMs);
      client.options.reconnectPeriod = next;
    });
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload.toString(), packet?.retain ?? false));
    await firstOutcome;
  }

  /** Queue one event on disk and deliver it (QoS 1) as soon as the broker is reachable. */
  publishEvent(event: EmotionEvent): void {
    if (this.refused) return;
    const queue = this.requireQueue();
    const payload = JSON.stringify(event);
    try {
      queue.append(payload); // a full or failing disk does not throw: the queue holds it in memory
    } catch (err) {
      this.unqueued++;
      this.log.error({ err, id: event.id, droppedEvents: this.droppedEvents }, 'event dropped: it could not be queued');
      return;
    }
    this.pump();
  }

  /** Retained current state; if offline, the latest one is sent on reconnect. */
  publishEmotion(state: EmotionState): void {
    this.latestEmotion = state;
    if (this.online) this.publishTracked(this.topics.emotion, JSON.stringify(state));
  }

  /** Retained `ON`/`OFF` on `<base>/listening`; sent again on every connect. */
  publishListening(on: boolean): void {
    this.listeningState = on;
    if (this.online) this.publishTracked(this.topics.listening, on ? 'ON' : 'OFF');
  }

  /** Periodic health (QoS 0); skipped while offline, metrics are not worth queueing. */
  publishMetrics(m: MetricsInput): void {
    if (!this.online || !this.client) return;
    const full: Metrics = {
      ...m,
      realTimeFactor: round3(m.realTimeFactor),
      latencyMs: { p50: round3(m.latencyMs.p50), p99: round3(m.latencyMs.p99) },
      queueDepth: m.queueDepth ?? this.queueDepth,
      droppedEvents: m.droppedEvents ?? this.droppedEvents,
    };
    this.client.publish(this.topics.metrics, JSON.stringify(full), { qos: 0, retain: false });
  }

  /**
   * Deliver what can be delivered within `stopTimeoutMs`, publish `offline` (retained), and
   * disconnect. Undelivered events stay on disk for the next start.
   */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return;
    this.stopping = true;
    clearTimeout(this.rediscovery);
    this.rediscovery = undefined;
    this.commandGates.reset.close();
    this.commandGates.listening.close();
    const deadline = this.clock.now() + this.config.stopTimeoutMs;
    if (this.online && this.queueDepth > 0) {
      await this.waitFor(() => !this.online || this.queueDepth === 0, deadline);
    }
    let clean = false;
    if (this.online) {
      const acked = await this.publishAcked(this.topics.status, 'offline', Math.max(deadline - this.clock.now(), 500));
      clean = acked && this.inFlight.size === 0 && this.otherPending === 0;
    }
    // A clean DISCONNECT waits for outstanding acks forever; with any left, drop the socket (the
    // broker then publishes the last will, the same retained `offline`).
    await new Promise<void>((resolve) => {
      const guard = setTimeout(resolve, 1000);
      client.end(!clean, {}, () => {
        clearTimeout(guard);
        resolve();
      });
    });
    this.online = false;
    // closing first: events the disk refused are dropped there (and logged by the queue), so the
    // summary counts only what is really on disk for the next start
    const droppedBefore = this.queue?.droppedCount ?? 0;
    this.queue?.close();
    this.droppedAtClose = (this.queue?.droppedCount ?? 0) - droppedBefore;
    if (this.queueDepth > 0) this.log.warn({ queued: this.queueDepth, dir: this.queue?.dir }, `stopped with ${this.queueDepth} undelivered event${this.queueDepth === 1 ? '' : 's'} on disk; they are sent first on the next start`);
    this.stopped = true;
  }

  private onConnect(): void {
    const client = this.client!;
    this.online = false;
    this.generation++;
    this.inFlight.clear();
    this.otherPending = 0;
    client.options.reconnectPeriod = this.config.reconnectMinMs;
    const t = this.topics;
    const gen = this.generation;
    const nonce = `${this.clientId} ${gen} ${this.instance!.startedAt}`;
    this.collecting = true;
    this.unfenced = false;
    this.seen = { status: undefined, instance: undefined, discovery: new Set(), deviceConfig: undefined };
    let finished = false;
    const finish = () => {
      if (finished || gen !== this.generation) return;
      finished = true;
      clearTimeout(timer);
      if (this.stopping) return; // stop() came first: publish nothing
      this.collecting = false;
      this.onFence = undefined;
      if (this.config.discovery) client.unsubscribe?.([t.discoveryPattern, t.deviceDiscovery, ...t.legacyDiscovery]);
      this.afterFence();
    };
    const timer = setTimeout(() => {
      this.log.warn({ topic: t.fence }, 'the broker did not echo our fence message (an ACL?): going on without checking who else uses this device id');
      this.unfenced = true; // our own messages do not come back: no claim can be judged, nor a ping answered
      finish();
    }, Math.min(FENCE_TIMEOUT_MS, this.config.connectTimeoutMs));
    this.onFence = (payload) => {
      if (payload === nonce) finish();
    };
    const topics = [t.status, t.instance, t.fence, this.liveness.ping, this.liveness.pong];
    if (this.config.discovery) topics.push(t.haStatus, t.discoveryPattern, t.deviceDiscovery, ...t.legacyDiscovery);
    if (this.onResetBaseline) topics.push(t.resetBaseline);
    if (this.ctx.onListeningCommand) topics.push(t.listeningSet);
    // MQTT 5 keeps the retain flag of a command as it was published (retain as published,
    // MQTT-5 section 3.8.3.1), so a retained command is recognised on a live subscription too
    client.subscribe(topics, { qos: 1, ...(this.config.protocolVersion === 5 ? { rap: true } : {}) }, (err) => {
      if (err) this.log.warn({ err: err.message }, 'subscribing to our own topics failed; going on');
      if (gen === this.generation) client.publish(t.fence, nonce, { qos: 1, retain: false });
    });
  }

  /** The retained view is complete: check the device id (first connect), then go online. */
  private afterFence(): void {
    const other = this.claimed || this.unfenced ? undefined : otherClaim(this.seen, this.installationId);
    if (other) {
      this.proveClaim(other);
      return;
    }
    this.goOnline();
  }

  /**
   * Another installation claims the device id: ping it with a fresh nonce and wait
   * LIVENESS_TIMEOUT_MS for its pong. Alive -> refuse (exit 69); silent -> go online over it.
   */
  private proveClaim(other: InstanceInfo): void {
    const client = this.client!;
    const gen = this.generation;
    const nonce = randomUUID();
    const t0 = this.clock.now();
    const done = (live: ReturnType<typeof liveAnswer>) => {
      clearTimeout(timer);
      if (this.onPong === onPong) this.onPong = undefined;
      if (gen !== this.generation || this.stopping) return;
      if (live) {
        this.refuse(liveTwinError(live, this.config));
        return;
      }
      this.log.warn(
        { deviceId: this.config.deviceId, claimedBy: other.installationId, host: other.host, since: other.startedAt, waitedMs: this.clock.now() - t0 },
        `device id "${this.config.deviceId}" was claimed by installation ${other.installationId.slice(0, 8)} on host "${other.host}" (online since ${other.startedAt}), which did not answer a liveness check within ${LIVENESS_TIMEOUT_MS} ms: a stale or forged claim; replacing it with ours`,
      );
      this.goOnline(true);
    };
    const timer = setTimeout(() => done(undefined), LIVENESS_TIMEOUT_MS);
    const onPong = (payload: string) => {
      const live = liveAnswer(payload, nonce, this.installationId);
      if (live) done(live);
    };
    this.onPong = onPong;
    this.log.info({ deviceId: this.config.deviceId, claimedBy: other.installationId, host: other.host }, `device id "${this.config.deviceId}" is shown online by installation ${other.installationId.slice(0, 8)} on host "${other.host}": asking it to answer`);
    client.publish(this.liveness.ping, JSON.stringify({ nonce, installationId: this.installationId }), { qos: 1, retain: false });
  }

  /** A running daemon answers the liveness pings of its device id (at most PONGS_PER_SECOND). */
  private answerPing(payload: string): void {
    if (!this.online || this.stopping || !this.client) return;
    const pong = pongFor(payload, this.instance!);
    if (!pong) return;
    const second = Math.floor(this.clock.now() / 1000);
    if (second !== this.pongs.second) this.pongs = { second, count: 0 };
    if (++this.pongs.count > PONGS_PER_SECOND) return;
    this.client.publish(this.liveness.pong, JSON.stringify(pong), { qos: 1, retain: false });
  }

  /** `<base>/instance/ping` and `/pong` (fleet-identity.ts). */
  private get liveness(): { ping: string; pong: string } {
    return livenessTopics(this.topics.instance);
  }

  /** `disproved`: another installation's claim went unanswered, so judgeClaim is not asked. */
  private goOnline(disproved = false): void {
    const refusal = this.claimed ? this.judgeRejoin() : disproved || this.unfenced ? undefined : this.judgeClaim();
    if (refusal) {
      this.refuse(refusal);
      return;
    }
    this.claimed = true;
    this.online = true;
    const o = this.outage;
    if (o.logged) this.log.info({ url: this.shownUrl, attempts: o.attempts, downMs: this.clock.now() - o.since, queued: this.queueDepth }, 'MQTT broker reachable again; sending queued events');
    else this.log.info({ url: this.shownUrl, clientId: this.clientId, queued: this.queueDepth }, 'connected to the MQTT broker');
    this.outage = { logged: false, attempts: 0, since: 0, lastError: undefined };
    this.publishTracked(this.topics.status, 'online');
    this.publishTracked(this.topics.instance, JSON.stringify(this.instance));
    if (this.ctx.notice !== undefined) this.publishTracked(this.topics.notice, this.ctx.notice);
    if (this.listeningState !== undefined) this.publishTracked(this.topics.listening, this.listeningState ? 'ON' : 'OFF');
    this.publishDiscovery(this.seen.discovery, this.seen.deviceConfig);
    if (this.latestEmotion) this.publishTracked(this.topics.emotion, JSON.stringify(this.latestEmotion));
    this.pump();
    this.settleFirst();
  }

  /** An error when another installation is online under this device id, else undefined (logged when it takes over). */
  private judgeClaim(): EarshotError | undefined {
    return judgeClaim(this.seen, this.installationId, this.config, this.topics.status, this.log);
  }

  private judgeRejoin(): EarshotError | undefined {
    return judgeRejoin(this.seen.instance, this.instance!, this.config);
  }

  /** Leaves without a trace: a clean DISCONNECT (no will, so the other daemon's `online` stays), the queue closed. */
  private refuse(err: EarshotError): void {
    this.refused = err;
    this.stopping = true;
    this.log.error({ code: err.code, deviceId: this.config.deviceId }, err.message);
    this.client?.end(false, {}, () => undefined);
    this.queue?.close();
    this.stopped = true;
    if (this.firstOutcome) {
      this.firstOutcome.reject(err);
      this.firstOutcome = undefined;
    } else this.ctx.onFatal?.(err);
  }

  private settleFirst(): void {
    this.firstOutcome?.resolve();
    this.firstOutcome = undefined;
  }

  private onClose(): void {
    if (this.stopping) {
      this.online = false;
      this.wakeDrain?.();
      return;
    }
    if (this.online) {
      this.online = false;
      this.outage = { logged: false, attempts: 0, since: this.clock.now(), lastError: undefined };
      this.log.warn({ url: this.shownUrl, queued: this.queueDepth }, 'lost the MQTT connection; reconnecting, events are kept on disk meanwhile');
      return;
    }
    const o = this.outage;
    if (o.since === 0) o.since = this.clock.now();
    o.attempts++;
    if (o.logged) {
      this.log.debug({ url: this.shownUrl, attempt: o.attempts, err: o.lastError?.message }, 'MQTT connect attempt failed');
      return;
    }
    o.logged = true;
    const err = new EarshotError('E_BROKER', this.describeFailure(o.lastError), { cause: o.lastError });
    this.log.error({ code: err.code, url: this.shownUrl, queued: this.queueDepth, queueDir: this.queue?.dir, err: o.lastError?.message }, err.message);
  }

  // eslint-disable-next-line complexity -- one branch per command topic, each a line or two
  private onMessage(topic: string, payload: string, retained = false): void {
    const t = this.topics;
    if (topic === t.fence) {
      this.onFence?.(payload);
      return;
    }
    if (topic === this.liveness.ping) {
      if (!retained) this.answerPing(payload);
      return;
    }
    if (topic === this.liveness.pong) {
      if (!retained) this.onPong?.(payload);
      return;
    }
    if (this.collecting) {
      if (topic === t.status) this.seen.status = payload;
      else if (topic === t.instance) this.seen.instance = payload;
      else if (topic === t.deviceDiscovery) this.seen.deviceConfig = payload;
      else if (topic.startsWith(`${this.config.discoveryPrefix}/`) && topic.endsWith('/config') && payload.length > 0) this.seen.discovery.add(topic);
      if (topic === t.status || topic === t.instance || topic.endsWith('/config')) return;
    }
    if (topic === t.status) {
      // a stale will of our own previous session (or a daemon that gave up): we are here
      if (payload === 'offline' && this.online && !this.stopping) {
        this.log.info({ topic }, 'our status was set to offline by someone else (a stale last will?); publishing online again');
        this.publishTracked(t.status, 'online');
      }
      return;
    }
    if (topic === t.instance) {
      this.checkInstance(payload);
      return;
    }
    if (topic === t.listeningSet && this.ctx.onListeningCommand) {
      const cmd = payload.trim().toUpperCase();
      if (retained) this.log.warn({ topic }, 'ignoring a retained listening command (clear it with an empty retained message)');
      else if (cmd === 'ON' || cmd === 'OFF') this.commandGates.listening.offer(cmd === 'ON');
      else if (payload.length > 0) this.log.warn({ topic, payload: payload.slice(0, 40) }, 'listening/set takes ON or OFF');
      return;
    }
    if (topic === this.topics.resetBaseline && this.onResetBaseline) {
      // an empty payload is how a retained message is cleared; that must not reset anything either
      if (retained) this.log.warn({ topic }, 'ignoring a retained baseline reset (clear it with an empty retained message)');
      else if (payload.length > 0) this.commandGates.reset.offer(true); // the daemon logs the reset itself
      return;
    }
    if (topic === this.topics.haStatus && payload === 'online') this.scheduleRediscovery();
  }

  /**
   * Home Assistant restarted and forgot its entities: announce them and their state again, after
   * a short delay and at most once per REDISCOVERY_MIN_INTERVAL_MS. Every `online` meanwhile is
   * folded into the pending republish, so a flood of them (a loop, a hostile client) costs one
   * timer, not three retained QoS 1 publishes each.
   */
  private scheduleRediscovery(): void {
    if (this.rediscovery || this.stopping) return;
    const delay = Math.max(REDISCOVERY_DELAY_MS, this.lastDiscoveryAt + REDISCOVERY_MIN_INTERVAL_MS - this.clock.now());
    this.rediscovery = setTimeout(() => {
      this.rediscovery = undefined;
      if (!this.online) return; // onConnect publishes discovery anyway
      this.lastDiscoveryAt = this.clock.now();
      this.log.debug({ topic: this.topics.haStatus }, 'Home Assistant is online; republishing discovery');
      this.publishDiscovery();
      if (this.latestEmotion) this.publishTracked(this.topics.emotion, JSON.stringify(this.latestEmotion));
    }, delay);
  }

  /** Acts on `topic`'s commands at most once per COMMAND_MIN_INTERVAL_MS; a flood is logged once. */
  private commandGate<T>(topic: string, act: (command: T) => void): CommandGate<T> {
    return new CommandGate<T>({
      minIntervalMs: COMMAND_MIN_INTERVAL_MS,
      quietMs: COMMAND_QUIET_MS,
      act,
      onBurst: () => this.log.warn({ topic: `${baseTopicOf(this.config)}/${topic}` }, `more than one ${topic} command per second: acting on the latest once per second, the rest are ignored (logged once per flood)`),
      clock: { now: () => this.clock.now() },
    });
  }

  /** A live run of this installation that started before us means two daemons share one state directory: the later one leaves. */
  private checkInstance(payload: string): void {
    if (this.stopping) return;
    const twin = earlierTwin(payload, this.instance!, this.config);
    if (twin) this.refuse(twin);
  }

  /**
   * Publishes the one device discovery config of this run. On a connect, `found` holds the
   * per-entity configs of earshot before 0.2 retained under this device's node (and older ones),
   * and `previousDevice` the retained device config: the old configs are migrated or removed
   * around the new one (the order of ./discovery.ts; one connection keeps it), and components of
   * the previous device config that this run lacks are removed.
   */
  private publishDiscovery(found: ReadonlySet<string> = new Set(), previousDevice?: string): void {
    if (!this.config.discovery) return;
    const c = this.config;
    const labels = this.ctx.labels ?? [];
    let previous: Record<string, { p: string }> | undefined;
    try {
      previous = previousDevice ? (JSON.parse(previousDevice) as { cmps?: Record<string, { p: string }> }).cmps : undefined;
    } catch {
      previous = undefined; // not ours to understand; the new config replaces it
    }
    const message = deviceDiscoveryMessage({
      topics: this.topics,
      deviceId: c.deviceId,
      deviceName: c.deviceName ?? `earshot ${c.deviceId}`,
      model: this.deviceModel,
      version: this.version,
      discoveryPrefix: c.discoveryPrefix,
      labels,
      eventTypes: this.ctx.eventTypes ?? [...labels, 'uncertain'],
      configurationUrl: this.ctx.configurationUrl,
      previous,
    });
    const plan = planMigration(found, message, { discoveryPrefix: c.discoveryPrefix, discoveryNode: this.topics.discoveryNode });
    const gone = Object.entries(message.payload.cmps).filter(([, v]) => Object.keys(v).length === 1).map(([k]) => k);
    if (plan.remove.length > 0 || gone.length > 0) this.log.info({ removed: [...plan.remove, ...gone] }, `removing ${plan.remove.length + gone.length} Home Assistant entit${plan.remove.length + gone.length === 1 ? 'y' : 'ies'} this version or model no longer has`);
    if (plan.migrate.length > 0) this.log.info({ topics: plan.migrate }, `moving ${plan.migrate.length} Home Assistant entities to one device discovery config (${message.topic}); they keep their names, areas and history`);
    for (const topic of plan.remove) this.publishTracked(topic, '');
    for (const topic of plan.migrate) this.publishTracked(topic, MIGRATE_DISCOVERY, undefined, false);
    this.publishTracked(message.topic, JSON.stringify(message.payload));
    for (const topic of plan.migrate) this.publishTracked(topic, '');
  }

  /** Retained QoS 1 publish whose ack is counted, so stop() knows whether a clean DISCONNECT can finish. */
  private publishTracked(topic: string, payload: string, done?: (ok: boolean) => void, retain = true): void {
    const client = this.client;
    if (!client || !this.online) {
      done?.(false);
      return;
    }
    const gen = this.generation;
    this.otherPending++;
    client.publish(topic, payload, { qos: 1, retain }, (err) => {
      if (gen === this.generation) this.otherPending--;
      done?.(!err);
    });
  }

  private publishAcked(topic: string, payload: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.publishTracked(topic, payload, (ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
    });
  }

  /** Hand queued events to the client, oldest first, keeping at most maxInFlight unacknowledged. */
  private pump(): void {
    const client = this.client;
    const queue = this.queue;
    if (!client || !queue || !this.online) return;
    const room = this.config.maxInFlight - this.inFlight.size;
    if (room <= 0) return;
    const gen = this.generation;
    for (const entry of queue.peek(room, (seq) => this.inFlight.has(seq))) {
      this.inFlight.add(entry.seq);
      client.publish(this.topics.events, entry.payload, { qos: 1, retain: false }, (err) => {
        if (err) {
          // Stays queued; the next connection sends it again from the oldest entry.
          this.log.debug({ seq: entry.seq, err: err.message }, 'event publish not acknowledged');
          return;
        }
        queue.ack(entry.seq);
        if (gen === this.generation) this.inFlight.delete(entry.seq);
        this.wakeDrain?.();
        this.pump();
      });
    }
  }

  private waitFor(done: () => boolean, deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.wakeDrain = undefined;
        resolve();
      };
      const timer = setTimeout(finish, Math.max(deadline - this.clock.now(), 0));
      this.wakeDrain = () => {
        if (done()) finish();
      };
      this.wakeDrain();
    });
  }

  private requireQueue(): OfflineQueue {
    if (!this.queue) throw new Error('MqttPublisher: call start() before publishing events');
    if (this.stopped) throw new Error('MqttPublisher: publishEvent after stop(); stop the pipeline before the publisher');
    return this.queue;
  }

  private readTls(): Pick<MqttConnectOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'> {
    const t = this.config.tls;
    if (!t) return {};
    const read = (field: 'ca' | 'cert' | 'key'): Buffer | undefined => {
      const path = t[field];
      if (!path) return undefined;
      try {
        return readFileSync(path);
      } catch (err) {
        throw new EarshotError('E_CONFIG', `mqtt.tls.${field}: cannot read ${path} (${(err as Error).message}); point it at a readable PEM file`, { cause: err });
      }
    };
    return { ca: read('ca'), cert: read('cert'), key: read('key'), rejectUnauthorized: t.rejectUnauthorized };
  }

  /** What went wrong and what to check, from the last socket/CONNACK error. */
  private describeFailure(err: (Error & { code?: string | number }) | undefined): string {
    const url = this.shownUrl;
    const why = err ? `${err.message}` : 'no answer';
    const code = err?.code;
    let check: string;
    if (code === 'ECONNREFUSED') check = 'is the broker running, and is the port in mqtt.url right?';
    else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') check = 'the host name in mqtt.url does not resolve; check it and the DNS';
    else if (code === 4 || code === 5 || code === 134 || code === 135) check = 'the broker refused the login; check mqtt.username and mqtt.password and its ACL';
    // CONNACK 2 (3.1.1) / 133 (5): a client-id clash, not a network problem
    else if (code === 2 || code === 133) check = `the broker refused our client id "${this.clientId}": another client is connected with it (another earshot on this state directory, or one with the same mqtt.clientId), or the broker forbids it; run one daemon per state directory, or set mqtt.clientId`;
    else if (typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(code)) check = 'TLS failed; check mqtt.tls.ca (the CA that signed the broker certificate), the host name in the URL, or mqtt.tls.rejectUnauthorized';
    else check = 'check mqtt.url (host, port, mqtt:// vs mqtts://), the network and any firewall';
    return `cannot connect to the MQTT broker at ${url}: ${why}; ${check}. Retrying with backoff (up to ${this.config.reconnectMaxMs} ms); events are kept on disk meanwhile (${this.queueDepth} queued)`;
  }
}
