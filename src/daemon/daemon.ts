/**
 * The composition root of `earshot run`: builds every stage from one context object and wires
 *
 *   capture (SupervisedSource | file | stdin) --chunk--> EmotionPipeline --result/state--> MqttPublisher
 *                                                                         \--> stdout (JSON lines)
 *
 * plus the broker choice (local-broker.ts), the listening switch (listening.ts), the idle timer of
 * the emotion state, the HTTP endpoints, periodic MQTT metrics and sd_notify. Each stage
 * keeps its own start()/stop(); this class only decides the order:
 *
 *   start: the state directory's lock (a second daemon on it: E_STATE_LOCKED, exit 75; state-lock.ts) ->
 *          model (E_MODEL) -> speaker baseline restored from the state directory (models with
 *          normalisation "speaker" or "prosody") -> listening state (listening.ts) -> source (a file is
 *          decoded here: E_AUDIO_FORMAT) -> HTTP -> broker (mqtt.url, else the one answering on
 *          embeddedBroker.host:port, else the embedded one) -> publisher (refuses a device id another
 *          installation is online under: E_CONFIG) -> capture (a device is not opened while
 *          listening is OFF); READY=1 on the first audio.
 *   stop:  STOPPING=1 -> capture -> pipeline.end() (open speech is classified and published) ->
 *          publisher.stop() (queued events delivered within mqtt.stopTimeoutMs, retained offline,
 *          the rest stays on disk) -> speaker baseline saved -> broker -> HTTP -> model -> the lock.
 *
 * Process concerns (signals, the hard deadline, exit codes) live in src/commands/run.ts.
 */
/* eslint-disable max-lines -- the composition root; its counters, idle timer and baseline saving are to move out (issue 30, "two classes do too much") */
import { EventEmitter } from 'node:events';
import type { DecodedAudio } from '../runtime/audio/decode.ts';
import { openAudioFile, piecesOf } from '../runtime/audio/stream.ts';
import { createSource as realCreateSource, type CaptureContext } from '../runtime/capture/create-source.ts';
import { runCommand as realRunCommand, type RunCommand } from '../runtime/capture/devices.ts';
import { formatSource, parseSource, type SourceDescriptor } from '../runtime/capture/parse-source.ts';
import type { CaptureCondition, CaptureSource, CaptureTiming } from '../runtime/capture/source.ts';
import { SupervisedSource } from '../runtime/capture/supervisor.ts';
import { EarshotError } from '../core/errors.ts';
import { redactUrl } from '../core/redact.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { openCrowdDetector, type CrowdDetector } from '../runtime/model/crowd.ts';
import { loadBaseline, removeBaseline, saveBaseline } from '../runtime/model/baseline.ts';
import { join } from 'node:path';
import { EmotionPipeline } from '../runtime/pipeline/pipeline.ts';
import { UNCERTAIN, type PipelineResult } from '../runtime/pipeline/types.ts';
import { toEmotionEvent, toEmotionState } from '../runtime/publish/from-pipeline.ts';
import { IDLE, type EmotionEvent, type EmotionState } from '../runtime/publish/payloads.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker/embedded-broker.ts';
import { chooseLocalBroker, type probeMqttBroker } from './broker/local-broker.ts';
import { guardForPublisher, withGuard, type BrokerCredentials, type BrokerGuard } from './broker/broker-guard.ts';
import { EventIdSource } from '../runtime/publish/event-id.ts';
import { MqttPublisher, type MqttClientFactory } from '../runtime/publish/publisher.ts';
import { DEMO_CLIP } from '../core/paths.ts';
import { VERSION } from '../core/version.ts';
import type { DaemonConfig } from './config.ts';
import { DEMO_SOURCE } from './config-constants.ts';
import type { HttpEndpoint } from './http.ts';
import { ListeningSwitch, type ListeningState } from './listening.ts';
import type { createDashboard, Dashboard } from './dashboard/index.ts';
import type { Logger } from './logger.ts';
import { formatEventLine } from './text-output.ts';
import { CONDITION_KINDS, healthOf, prometheusText, type DaemonSnapshot, type HealthVerdict } from './metrics.ts';
import { SdNotifier } from './sd-notify.ts';
import { lockStateDir, type StateLock } from './state-lock.ts';
import { checkStateOwnership } from './state-owner.ts';

/** An inference running this long without a result means ONNX Runtime is wedged. */
const STUCK_INFERENCE_MS = 10_000;

/** Everything the daemon touches, as one object; tests replace the parts they need. */
export interface DaemonContext {
  config: DaemonConfig;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** where `stdout: true` writes events; default process.stdout */
  stdout?: { write(line: string): unknown };
  loadClassifier?: (model: string, threads: number, tta: boolean, arithmetic?: 'f32' | 'q15') => Promise<EmotionClassifier>;
  decode?: (path: string) => Promise<DecodedAudio>;
  createSource?: (d: SourceDescriptor, ctx: CaptureContext, timing: CaptureTiming) => Promise<CaptureSource>;
  createClient?: MqttClientFactory;
  startBroker?: typeof startEmbeddedBroker;
  /** asks whether an MQTT broker answers on the local port (local-broker.ts) */
  probeBroker?: typeof probeMqttBroker;
  /** `text`: --stdout events as readable lines; default `json` */
  stdoutFormat?: 'text' | 'json';
  notifier?: SdNotifier;
  runCommand?: RunCommand;
  /** monotonic ms */
  now?: () => number;
  /** takes the state directory's lock (state-lock.ts) */
  lockStateDir?: (stateDir: string) => Promise<StateLock>;
}

export type DaemonEvents = {
  /** every result, with the event it became, just before it is queued for MQTT (benchmarks time the publish from here) */
  result: [PipelineResult, EmotionEvent];
  /** every new emotion state, as it is published (the dashboard listens) */
  state: [EmotionState];
  /** a file or stdin source ran out: the daemon has nothing more to do */
  end: [];
  /** a failure the daemon cannot retry (a file source broke) */
  fatal: [EarshotError];
};

/** `demo` and the other --source forms as a descriptor. */
export function describeSource(c: DaemonConfig): SourceDescriptor {
  if (c.capture.source === DEMO_SOURCE) return { kind: 'file', path: DEMO_CLIP, realtime: true, loop: false };
  return parseSource(c.capture.source, c.capture);
}

export class EarshotDaemon extends EventEmitter<DaemonEvents> {
  readonly config: DaemonConfig;
  readonly version = VERSION;
  readonly notifier: SdNotifier;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly startedAt: number;
  private classifier: EmotionClassifier | null = null;
  private crowd: CrowdDetector | null = null;
  private pipeline: EmotionPipeline | null = null;
  private source: CaptureSource | null = null;
  private sourceName = '';
  private publisher: MqttPublisher | null = null;
  private broker: EmbeddedBroker | null = null;
  /** the local broker chosen when mqtt.url is not configured (embedded or one that answered) */
  private localUrl: string | null = null;
  private listeningSwitch: ListeningSwitch | null = null;
  /** listening changes run one after another */
  private listeningOp: Promise<void> = Promise.resolve();
  private descriptor: SourceDescriptor | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private idle = false;
  /** only the daemon publishes under its topics on the embedded broker (broker-guard.ts) */
  private brokerGuard: BrokerGuard | undefined;
  private http: HttpEndpoint | null = null;
  private dashboard: Dashboard | null = null;
  private metricsTimer: NodeJS.Timeout | null = null;
  private readyTimer: NodeJS.Timeout | null = null;
  private ready = false;
  private stopping: Promise<void> | null = null;
  private stateLock: StateLock | null = null;
  private ids: EventIdSource;
  // capture health
  private lastChunkAt: number | null = null;
  private firstChunk: number | null = null;
  private chunks = 0;
  private condition: CaptureCondition | null = null;
  private readonly conditionCounts = Object.fromEntries(CONDITION_KINDS.map((k) => [k, 0])) as DaemonSnapshot['capture']['conditions'];
  // pipeline health and totals
  private latencySumMs = 0;
  private inferenceLatencySumMs = 0;
  private events = 0;
  private stuckSince = 0;
  private lastProgress = -1;
  private lastPeriod = { processingMs: 0, audioSeconds: 0 };
  /** speech (s) added to the speaker baseline since it was last saved */
  private unsavedSpeechSec = 0;

  constructor(private readonly ctx: DaemonContext) {
    super();
    this.config = ctx.config;
    this.log = ctx.log;
    this.now = ctx.now ?? (() => performance.now());
    this.startedAt = this.now();
    this.notifier = ctx.notifier ?? new SdNotifier({ env: ctx.env ?? process.env, log: ctx.log.child({ stage: 'systemd' }) });
    this.ids = new EventIdSource(ctx.config.mqtt.deviceId);
  }

  /** The broker the publisher talks to (the embedded one's URL when it runs). */
  get brokerUrl(): string {
    return this.localUrl ?? this.config.mqtt.url;
  }

  /** The privacy switch (null before start): `isOn`, `current`, `set(on, by)`, `change` events. */
  get listening(): ListeningSwitch | null {
    return this.listeningSwitch;
  }

  /** When the first audio arrived (the `now` clock, performance.now() by default); null before. */
  get firstChunkAt(): number | null {
    return this.firstChunk;
  }

  get httpUrl(): string | null {
    return this.http?.url ?? null;
  }

  async start(): Promise<void> {
    const c = this.config;
    const log = this.log;
    const descriptor = describeSource(c);
    this.descriptor = descriptor;
    this.sourceName = c.capture.source === DEMO_SOURCE ? `demo (${formatSource(descriptor)})` : formatSource(descriptor);
    // first, before anything reads or writes there: one daemon per state directory
    this.stateLock = await (this.ctx.lockStateDir ?? lockStateDir)(c.mqtt.stateDir);
    // an entry left by a run as another user (sudo): named, with the command that fixes it (state-owner.ts)
    checkStateOwnership(c.mqtt.stateDir, log);

    this.classifier = await (this.ctx.loadClassifier ?? ((m, threads, tta, arithmetic) => EmotionClassifier.load(m, { threads, tta, arithmetic })))(c.model, c.modelThreads, c.modelTta, c.modelArithmetic);
    const { arithmetic } = this.classifier.model.frontend;
    const trainedWith = this.classifier.meta.frontend.arithmetic;
    log.info({ model: this.classifier.meta.name, labels: this.classifier.labels, path: this.classifier.model.onnxPath, arithmetic, trainedWith }, arithmetic === trainedWith ? 'model loaded' : `model loaded; its frontend is served in ${arithmetic} (trained on ${trainedWith} features)`);
    this.crowd = await openCrowdDetector(c.pipeline.crowd, this.classifier.model.frontend, this.classifier.meta.name, (m) => log.warn(m));
    if (this.crowd) log.info({ crowd: c.pipeline.crowd, detector: this.crowd.name, threshold: this.crowd.threshold }, 'crowd detector loaded');
    const pipeline = new EmotionPipeline({ classifier: this.classifier, crowd: this.crowd, config: c.pipeline, log: log.child({ stage: 'pipeline' }) });
    this.pipeline = pipeline;
    if (pipeline.baseline) {
      const warning = loadBaseline(this.baselinePath, pipeline.baseline);
      if (warning) log.warn({ path: this.baselinePath }, warning);
      log.info({ path: this.baselinePath, speechSec: +pipeline.baseline.speechSeconds.toFixed(1), warm: pipeline.baseline.warm }, 'speaker baseline restored');
    }

    const listening = new ListeningSwitch(c.mqtt.stateDir, c.privacy.listeningAtStart, log);
    this.listeningSwitch = listening;
    this.source = await this.buildSource(descriptor);
    pipeline.prepare(this.source.sampleRate || ('sampleRate' in descriptor ? descriptor.sampleRate : c.capture.sampleRate));

    const dashboardUrl = c.http.port !== 0 ? await this.startHttp(listening) : undefined;
    if (c.embeddedBroker.enabled) {
      const { host, port, wsPort, maxPacketBytes, maxRetainedMessages, maxRetainedBytes, maxConnections, maxInflightInbound } = c.embeddedBroker;
      const limits = { maxPacketBytes, maxRetainedMessages, maxRetainedBytes, maxConnections, maxInflightInbound };
      // only the daemon (a per-run secret) publishes under its topics on the embedded broker
      this.brokerGuard = guardForPublisher(c.mqtt, brokerCredentials(c));
      const start = withGuard(this.ctx.startBroker ?? startEmbeddedBroker, this.brokerGuard, brokerCredentials(c));
      const choice = await chooseLocalBroker({ host, port, start: (o) => start({ ...o, limits, log: log.child({ stage: 'broker' }), ...(wsPort !== 0 ? { wsPort } : {}) }), probe: this.ctx.probeBroker, log });
      this.broker = choice.embedded;
      this.localUrl = choice.url;
      const ws = choice.embedded;
      if (ws?.wsUrl) {
        if (ws.wsPort !== wsPort) log.warn({ wanted: wsPort, port: ws.wsPort }, `port ${wsPort} is taken: MQTT over WebSockets listens on ${ws.wsUrl} instead`);
        else log.info({ url: ws.wsUrl }, `MQTT over WebSockets on ${ws.wsUrl} (browsers, Node-RED)`);
      }
    }

    const labels = this.classifier.labels;
    this.publisher = new MqttPublisher({
      config: { ...c.mqtt, url: this.brokerUrl, ...(this.broker ? this.brokerGuard?.daemon : {}) },
      log: log.child({ stage: 'mqtt' }),
      version: this.version,
      labels,
      eventTypes: c.pipeline.uncertainBelow > 0 ? [...labels, UNCERTAIN] : labels,
      notice: c.privacy.notice,
      // Home Assistant links the device to the dashboard, when other machines can reach it
      configurationUrl: dashboardUrl,
      onListeningCommand: (on) => listening.set(on, 'MQTT'),
      onFatal: (e) => this.emit('fatal', e),
      ...(pipeline.baseline ? { onResetBaseline: () => this.resetBaseline('MQTT') } : {}),
    });
    this.publisher.publishListening(listening.isOn);
    await this.publisher.start();

    this.wire(pipeline, this.publisher);
    this.wireSource(this.source);
    listening.on('change', (st) => {
      this.listeningOp = this.listeningOp.then(() => this.applyListening(st)).catch((e) => log.warn({ err: e }, 'switching listening failed'));
    });
    // a state retained from a previous run is stale from the start; with listening off, say idle at once
    if (listening.isOn) this.armIdle();
    else this.goIdle('listening is off');
    if (c.metrics.intervalSec > 0) this.metricsTimer = setInterval(() => this.publishMetrics(), c.metrics.intervalSec * 1000).unref();
    this.notifier.startWatchdog(() => this.pipelineAlive());

    log.info({ source: this.sourceName, broker: redactUrl(this.brokerUrl), embedded: !!this.broker, deviceId: c.mqtt.deviceId, topics: this.publisher.topics }, 'starting capture');
    // READY=1 when audio flows; a device that is missing at boot is retried in the background,
    // so after the first-chunk timeout the daemon declares itself ready anyway (it is doing its
    // job: supervising) instead of letting systemd's start timeout kill and restart it.
    this.readyTimer = setTimeout(() => this.declareReady(`waiting for audio from ${this.sourceName}`), c.capture.firstChunkTimeoutMs).unref();
    if (!listening.isOn) log.info({ by: listening.current.by, since: listening.current.since }, 'listening is OFF: no audio is processed until it is switched on (MQTT listening/set, POST /listening)');
    if (this.source instanceof SupervisedSource) {
      if (!listening.isOn) {
        // the device is not opened; switching on builds and starts a fresh source
        this.source = null;
        this.declareReady('listening is off');
        return;
      }
      void this.source.start().catch(() => undefined); // rejects only when stopped before any audio
    } else {
      // a file or stdin that delivers nothing is not coming back: fail start()
      await this.source.start();
    }
  }

  /** Where the speaker baseline is kept: `<mqtt.stateDir>/baseline.json`. */
  get baselinePath(): string {
    return join(this.config.mqtt.stateDir, 'baseline.json');
  }

  /** Forgets the speaker baseline, in memory and on disk (MQTT `<base>/baseline/reset`). */
  resetBaseline(by: string): void {
    const b = this.pipeline?.baseline;
    if (!b) return;
    b.reset();
    this.unsavedSpeechSec = 0;
    try {
      removeBaseline(this.baselinePath);
    } catch (e) {
      this.log.warn({ code: (e as NodeJS.ErrnoException).code, err: (e as Error).message, path: this.baselinePath }, 'could not remove the saved baseline');
      this.log.debug({ err: e }, 'the failed baseline removal, with its stack');
    }
    this.log.info({ by }, 'speaker baseline reset: utterances are normalised on their own until it is warm again');
  }

  private persistBaseline(): void {
    const b = this.pipeline?.baseline;
    if (!b) return;
    try {
      saveBaseline(this.baselinePath, b);
      this.unsavedSpeechSec = 0;
    } catch (e) {
      // one line per failed save (it is retried every saveEverySeconds of speech); the stack at debug
      this.log.warn({ code: (e as NodeJS.ErrnoException).code, err: (e as Error).message, path: this.baselinePath }, 'could not save the speaker baseline; it is kept in memory');
      this.log.debug({ err: e }, 'the failed baseline save, with its stack');
    }
  }

  /** Stop everything in order; safe to call repeatedly (every caller gets the same promise). */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  snapshot(): DaemonSnapshot {
    const s = this.pipeline?.stats();
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const sinceChunk = this.lastChunkAt === null ? null : this.now() - this.lastChunkAt;
    const empty = { audioSeconds: 0, framesProcessed: 0, speechFrames: 0, processingMs: 0, realTimeFactor: 0, latencyMs: { p50: 0, p99: 0 }, inferenceLatencyMs: { p50: 0, p99: 0 }, droppedFrames: 0, droppedInferences: 0, segmentsDropped: 0, segments: 0, results: 0, stateChanges: 0, inferenceErrors: 0, listenerErrors: 0, inFlight: false, queued: 0 };
    return {
      version: this.version,
      model: this.classifier?.meta.name ?? this.config.model,
      source: this.sourceName,
      deviceId: this.config.mqtt.deviceId,
      uptimeSec: (this.now() - this.startedAt) / 1000,
      stopping: this.stopping !== null,
      pipeline: { ...(s ?? empty), alive: this.pipelineAlive(), latencySumMs: this.latencySumMs, inferenceLatencySumMs: this.inferenceLatencySumMs },
      capture: {
        listening: this.listeningSwitch?.isOn ?? true,
        ...(this.listeningSwitch ? { listeningSince: this.listeningSwitch.current.since } : {}),
        delivering: sinceChunk !== null && sinceChunk < this.config.capture.stallTimeoutMs,
        lastChunkAgoMs: sinceChunk,
        chunks: this.chunks,
        condition: this.condition?.kind ?? null,
        conditionDetail: this.condition?.detail ?? null,
        conditions: { ...this.conditionCounts },
        restarts: this.source instanceof SupervisedSource ? this.source.restarts : 0,
      },
      mqtt: {
        connected: this.publisher?.connected ?? false,
        url: redactUrl(this.brokerUrl),
        embedded: this.broker !== null,
        queueDepth: this.publisher?.queueDepth ?? 0,
        droppedEvents: this.publisher?.droppedEvents ?? 0,
        queueDegraded: this.publisher?.queueDegraded ?? null,
        events: this.events,
      },
      process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, cpuUserSec: cpu.user / 1e6, cpuSystemSec: cpu.system / 1e6 },
    };
  }

  health(): HealthVerdict {
    return healthOf(this.snapshot());
  }

  metricsText(): string {
    return prometheusText(this.snapshot());
  }

  private async buildSource(d: SourceDescriptor): Promise<CaptureSource> {
    const c = this.config.capture;
    const captureLog = this.log.child({ stage: 'capture' });
    const create = this.ctx.createSource ?? realCreateSource;
    const captureCtx: CaptureContext = { log: captureLog, env: this.ctx.env };
    if (d.kind === 'file') {
      // opened (header checked) now, so a broken file is an error at start, not a source retried forever; read in pieces
      const audio = this.ctx.decode ? piecesOf(await this.ctx.decode(d.path)) : await openAudioFile(d.path);
      this.log.info({ path: d.path, seconds: +audio.durationSec.toFixed(2), sampleRate: audio.sampleRate, realtime: d.realtime, loop: d.loop }, 'replaying an audio file as the capture source');
      return create(d, { ...captureCtx, openAudio: async () => audio }, c);
    }
    if (d.kind === 'stdin') return create(d, captureCtx, c);
    if ((d.kind === 'portaudio' && d.device === undefined) || (d.kind === 'arecord' && d.device === 'default')) await this.warnIfNoSoundCard();
    return new SupervisedSource(formatSource(d), () => create(d, captureCtx, c), { initialBackoffMs: c.restartBackoffMs, maxBackoffMs: c.restartBackoffMaxMs }, { log: captureLog });
  }

  /** The default device on a box without a sound card would only retry; say what to do instead. */
  private async warnIfNoSoundCard(): Promise<void> {
    const r = await (this.ctx.runCommand ?? realRunCommand)('arecord', ['-l']);
    if (r.code === 0 && /^card \d+:/m.test(r.stdout)) return;
    this.log.warn(
      { source: this.config.capture.source, arecord: (r.stderr || r.stdout).trim().split('\n')[0] },
      'no sound card found (arecord -l lists none): capture of the default device will keep retrying with backoff. Plug in a microphone, name a device with --source (see `earshot devices`), or try the bundled clip with `earshot run --demo`',
    );
  }

  /**
   * /healthz, /metrics and (dashboard.enabled) the dashboard; resolves to the dashboard's link for
   * Home Assistant when other machines can reach it. Their modules are imported only here: with
   * http.port 0 the daemon never loads them (issue 32, memory; test/unit/daemon-lazy-parts.test.ts).
   */
  private async startHttp(listening: ListeningSwitch): Promise<string | undefined> {
    const c = this.config;
    const { startHttpServer } = await import('./http.ts');
    const dashboardModule = c.dashboard.enabled ? await import('./dashboard/index.ts') : null;
    if (dashboardModule) this.dashboard = this.buildDashboard(dashboardModule.createDashboard);
    this.http = await startHttpServer(
      c.http,
      { health: () => this.health(), metricsText: () => this.metricsText(), listening, remoteListeningControl: c.privacy.remoteListeningControl, ...(this.dashboard ? { authorized: this.dashboard.authorized } : {}) },
      this.dashboard?.handle,
    );
    this.log.info({ url: this.http.url }, `health and metrics on ${this.http.url}/healthz and ${this.http.url}/metrics`);
    if (!dashboardModule) return undefined;
    this.log.info({ url: `${this.http.url}/` }, `live dashboard on ${this.http.url}/`);
    return dashboardModule.dashboardLink(c.http.host, this.http.port) ?? undefined;
  }

  /** The dashboard's view of this daemon (src/daemon/dashboard/), served beside /healthz. */
  private buildDashboard(create: typeof createDashboard): Dashboard {
    const c = this.config;
    return create(
      {
        snapshot: () => this.snapshot(),
        labels: () => this.classifier?.labels ?? [],
        brokerWsUrl: () => this.broker?.wsUrl ?? null,
        onEvent: (l) => this.on('result', (_r, e) => l(e)),
        onState: (l) => this.on('state', l),
      },
      { host: c.http.host, token: c.dashboard.token, idleAfterSec: c.dashboard.idleAfterSec, deviceId: c.mqtt.deviceId, version: this.version, hangoverMs: c.pipeline.vad.hangoverMs, log: this.log.child({ stage: 'dashboard' }), now: this.now },
    );
  }

  /** OFF: the microphone is closed (a supervised device) or its chunks dropped (file, stdin), open speech discarded, the state idle. ON: capture again. */
  private async applyListening(st: ListeningState): Promise<void> {
    if (this.stopping) return;
    const log = this.log;
    this.publisher?.publishListening(st.on);
    log.info({ by: st.by }, st.on ? 'listening switched ON: processing audio again' : 'listening switched OFF: no audio is processed, the microphone is closed where the source allows');
    if (!st.on) {
      this.pipeline?.reset();
      this.goIdle('listening is off');
      if (this.source instanceof SupervisedSource) {
        const s = this.source;
        this.source = null;
        await s.stop();
      }
      return;
    }
    this.armIdle();
    if (this.source === null && this.descriptor) {
      const source = await this.buildSource(this.descriptor);
      this.source = source;
      this.wireSource(source);
      void (source as SupervisedSource).start().catch(() => undefined);
    }
  }

  /** (Re)starts the silence countdown after which `emotion` turns idle. */
  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const sec = this.config.mqtt.idleAfterSec;
    if (sec > 0) this.idleTimer = setTimeout(() => this.goIdle(`no classified speech for ${sec} s`), sec * 1000).unref();
  }

  private goIdle(why: string): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.idle || !this.publisher) return;
    this.idle = true;
    this.pipeline?.resetSmoothing();
    const model = this.classifier?.meta.name ?? this.config.model;
    this.publishState({ label: IDLE, confidence: 0, probabilities: {}, arousal: 0, valence: 0, timestamp: new Date().toISOString(), model });
    this.log.info({ why }, `emotion is now ${IDLE}: ${why}`);
  }

  /** The retained `emotion` and the daemon's `state` event (the dashboard listens). */
  private publishState(emotion: EmotionState): void {
    this.publisher?.publishEmotion(emotion);
    this.emit('state', emotion);
  }

  private wire(pipeline: EmotionPipeline, publisher: MqttPublisher): void {
    const c = this.config;
    const out = this.ctx.stdout ?? process.stdout;
    const log = this.log;
    pipeline.on('result', (r: PipelineResult) => {
      const event = toEmotionEvent(r, this.ids.next());
      this.events++;
      this.latencySumMs += r.latencyMs;
      this.inferenceLatencySumMs += r.inferenceLatencyMs;
      try {
        this.emit('result', r, event);
      } catch (e) {
        log.warn({ err: e }, 'a result listener threw; the event is published anyway');
      }
      publisher.publishEvent(event);
      if (pipeline.baseline) {
        this.unsavedSpeechSec += r.durationMs / 1000;
        if (this.unsavedSpeechSec >= pipeline.config.adaptation.saveEverySeconds) this.persistBaseline();
      }
      // every classified utterance refreshes the retained state (an `uncertain` one leaves it alone)
      // (nor one that finished after listening was switched off: the state stays idle)
      const state = r.label === UNCERTAIN || !this.listeningSwitch?.isOn ? null : pipeline.currentState();
      if (state) {
        this.idle = false;
        this.publishState(toEmotionState(state));
        this.armIdle();
      }
      if (c.stdout) out.write(this.ctx.stdoutFormat === 'text' ? formatEventLine(event) : `${JSON.stringify(event)}\n`);
      log.debug({ id: event.id, label: event.label, confidence: +event.confidence.toFixed(3), latencyMs: +r.latencyMs.toFixed(1) }, 'event');
    });
    pipeline.on('crowd', (u) => log.info({ startSec: +u.startSec.toFixed(2), endSec: +u.endSec.toFixed(2), score: +u.score.toFixed(3) }, 'no dominant talker (crowd): not published'));
    pipeline.on('state', (state) => {
      log.info({ label: state.label, confidence: +state.confidence.toFixed(3) }, `emotion is now ${state.label}`);
    });
    pipeline.on('error', (e) => log.warn({ err: e }, 'pipeline stage failed on one segment; going on'));
  }

  private wireSource(source: CaptureSource): void {
    const log = this.log;
    const pipeline = this.pipeline!;
    source.on('chunk', (chunk) => {
      // listening OFF: the audio goes no further than here and is counted nowhere
      if (this.listeningSwitch && !this.listeningSwitch.isOn) return;
      this.lastChunkAt = this.now();
      this.firstChunk ??= this.lastChunkAt;
      this.chunks++;
      pipeline.push(chunk);
      if (!this.ready) this.declareReady(`capturing from ${this.sourceName}, publishing to ${redactUrl(this.brokerUrl)}`);
    });
    source.on('condition', (cond) => {
      if (cond.kind === 'recovered') {
        this.condition = null;
        log.info({ source: cond.source, detail: cond.detail }, 'capture recovered');
        void this.notifier.status(`capturing from ${this.sourceName}`);
        return;
      }
      this.condition = cond;
      this.conditionCounts[cond.kind]++;
      log.warn({ source: cond.source, condition: cond.kind, detail: cond.detail }, `capture ${cond.kind}: ${cond.detail}`);
      void this.notifier.status(`capture ${cond.kind}: ${cond.detail}`);
    });
    source.on('end', () => {
      log.info({ source: this.sourceName, audioSeconds: +pipeline.stats().audioSeconds.toFixed(2) }, 'the capture source ended');
      this.emit('end');
    });
    source.on('error', (e) => {
      // only unsupervised sources (file, stdin) get here; a supervisor retries devices itself
      log.error({ err: e, code: e.code }, e.message);
      this.emit('fatal', e);
    });
  }

  private declareReady(status: string): void {
    if (this.ready || this.stopping) return;
    this.ready = true;
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.log.info({ source: this.sourceName }, status);
    void this.notifier.ready(status);
  }

  /** False once an inference has run STUCK_INFERENCE_MS without any result or error. */
  private pipelineAlive(): boolean {
    const s = this.pipeline?.stats();
    if (!s) return true;
    const progress = s.results + s.inferenceErrors;
    if (!s.inFlight || progress !== this.lastProgress) {
      this.lastProgress = progress;
      this.stuckSince = 0;
      return true;
    }
    if (this.stuckSince === 0) this.stuckSince = this.now();
    return this.now() - this.stuckSince < STUCK_INFERENCE_MS;
  }

  private publishMetrics(): void {
    const s = this.pipeline?.stats();
    if (!s || !this.publisher) return;
    const dAudio = s.audioSeconds - this.lastPeriod.audioSeconds;
    const dProc = s.processingMs - this.lastPeriod.processingMs;
    this.lastPeriod = { processingMs: s.processingMs, audioSeconds: s.audioSeconds };
    this.publisher.publishMetrics({
      uptimeSec: Math.round((this.now() - this.startedAt) / 1000),
      realTimeFactor: dAudio > 0 ? dProc / 1000 / dAudio : 0,
      latencyMs: { p50: +s.latencyMs.p50.toFixed(2), p99: +s.latencyMs.p99.toFixed(2) },
      droppedFrames: s.droppedFrames,
      droppedInferences: s.droppedInferences,
      version: this.version,
      timestamp: new Date().toISOString(),
    });
  }

  private async shutdown(reason: string): Promise<void> {
    const log = this.log;
    const t0 = this.now();
    log.info({ reason }, 'shutting down');
    if (this.readyTimer) clearTimeout(this.readyTimer);
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.listeningOp;
    // systemd-notify waits for the manager's acknowledgement; never let that eat the shutdown budget
    await Promise.race([this.notifier.stopping(`stopping: ${reason}`), new Promise((r) => setTimeout(r, 500).unref())]);
    const step = async (what: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
      } catch (e) {
        log.warn({ err: e }, `shutdown: ${what} failed; going on`);
      }
    };
    if (this.source) await step('stopping capture', () => this.source!.stop());
    // classify the speech that was still open and publish it
    if (this.pipeline) await step('flushing the pipeline', () => this.pipeline!.end());
    if (this.publisher) {
      if (this.config.metrics.intervalSec > 0) this.publishMetrics();
      await step('stopping the MQTT publisher', () => this.publisher!.stop());
    }
    if (this.pipeline?.baseline && this.unsavedSpeechSec > 0) await step('saving the speaker baseline', () => this.persistBaseline());
    if (this.broker) await step('closing the embedded broker', () => this.broker!.close());
    if (this.dashboard) this.dashboard.close();
    if (this.http) await step('closing the HTTP server', () => this.http!.close());
    if (this.classifier) await step('closing the model', () => this.classifier!.close());
    if (this.crowd) await step('closing the crowd detector', () => this.crowd!.close());
    if (this.stateLock) await step('releasing the state directory', () => this.stateLock!.release());
    const s = this.pipeline?.stats();
    log.info(
      { reason, ms: Math.round(this.now() - t0), events: this.events, queued: this.publisher?.queueDepth ?? 0, audioSeconds: s ? +s.audioSeconds.toFixed(2) : 0, droppedInferences: s?.droppedInferences ?? 0 },
      'stopped',
    );
  }
}

/** embeddedBroker.username/password, when both are set: what clients other than the daemon log in with. */
function brokerCredentials(c: DaemonConfig): BrokerCredentials | undefined {
  const { username, password } = c.embeddedBroker;
  return username && password ? { username, password } : undefined;
}
