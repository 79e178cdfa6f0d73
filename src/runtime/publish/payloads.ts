/**
 * The MQTT contract of earshot: every topic the daemon publishes, and the payload type on it.
 * The README quotes this file; the publisher and the tests share it, so the wire format has
 * exactly one definition. The zod schemas beside the interfaces validate received payloads
 * (tests, consumers) and are checked at compile time to describe the same shapes.
 */
import { z } from 'zod';

/** An emotion label as the model's metadata names it, e.g. `neutral`, `happy`, `sad`, `angry`. */
export type EmotionLabel = string;

/**
 * Every fractional number earshot publishes (probabilities, confidence, arousal, valence, the
 * real-time factor, latencies) is rounded to 3 decimals: more digits are noise for a classifier's
 * probabilities, and 16 of them made an event 542 bytes.
 */
export const DECIMALS = 3;
/** `x` rounded to DECIMALS decimals (the one rounding every payload goes through). */
export const round3 = (x: number): number => Math.round(x * 1000) / 1000;
/** `{label: p}` with every probability rounded by round3. */
export function roundProbabilities(p: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(p)) out[k] = round3(p[k]);
  return out;
}

/** The `label` of `<base>/emotion` after `mqtt.idleAfterSec` without a classified utterance (confidence 0, no probabilities). */
export const IDLE = 'idle';

/**
 * `<base>/emotion`, retained, QoS 1: the current (smoothed) emotion, published again after every
 * classified utterance (a fresh `timestamp` and confidence even when the label stays), and
 * `{"label":"idle","confidence":0,"probabilities":{},...}` after `mqtt.idleAfterSec` (default 30)
 * without one, or when listening is switched off. Utterances labelled `uncertain` leave it alone.
 * @example
 * {"label":"happy","confidence":0.71,"probabilities":{"angry":0.04,"happy":0.71,"neutral":0.2,"sad":0.05},
 *  "arousal":0.357,"valence":0.509,"timestamp":"2025-03-01T12:00:03.120Z","model":"ser-lstm-4c"}
 */
export interface EmotionState {
  /** The label with the highest smoothed probability (after hysteresis and minimum dwell), or `idle`. */
  label: EmotionLabel;
  /** Probability of `label`, 0..1. */
  confidence: number;
  /** Every class of the model with its probability, 0..1, summing to ~1. */
  probabilities: Record<EmotionLabel, number>;
  /** Arousal of the smoothed probabilities, -1 (low energy) .. 1 (high): the probability-weighted class positions of src/core/affect.ts. */
  arousal: number;
  /** Valence likewise, -1 (unpleasant) .. 1 (pleasant). */
  valence: number;
  /** When this state was decided, ISO 8601 UTC. */
  timestamp: string;
  /** Name of the model that produced it (its `models/NAME.onnx`). */
  model: string;
}

/**
 * `<base>/events`, NOT retained, QoS 1, delivered through the on-disk queue (at least once, in
 * order; consumers dedupe by `id`): one event per classified utterance (VAD segment) or window.
 * Kept small (at most ~350 bytes with eight labels): nothing in it repeats what the topic or another
 * field says. The device is the topic's `<deviceId>` level (and the id's prefix); the end of the
 * audio is `start + durationMs`; `kind` is written only for windows. Events queued on disk by
 * versions before 0.2 still carry `deviceId`, `end` and `kind: "utterance"`; they are delivered as
 * they were queued.
 * @example
 * {"id":"kitchen-m7q2k1x4a9-000042","start":"2025-03-01T12:00:01.500Z","durationMs":1600,"label":"happy",
 *  "confidence":0.68,"probabilities":{"angry":0.05,"happy":0.68,"neutral":0.21,"sad":0.06},"arousal":0.344,
 *  "valence":0.472,"model":"ser-lstm-4c","adapted":true}
 */
export interface EmotionEvent {
  /** Unique across restarts and devices: `<deviceId>-<bootId>-<seq>` (see `EventIdSource`). */
  id: string;
  /** Start of the audio that was classified, ISO 8601 UTC. */
  start: string;
  /** Length of the audio that was classified, in milliseconds (it ended at `start + durationMs`). */
  durationMs: number;
  /**
   * Most probable label for this utterance/window (not smoothed), or `uncertain` when its
   * confidence is below the daemon's `pipeline.uncertainBelow` (such an event does not move the
   * retained `emotion` state).
   */
  label: EmotionLabel;
  /** Probability of the most probable class, 0..1 (calibrated when the model is). */
  confidence: number;
  /** Every class with its probability, 0..1 (kept when the label is `uncertain`). */
  probabilities: Record<EmotionLabel, number>;
  /** Arousal, -1 (low energy) .. 1 (high), from the probabilities (src/core/affect.ts). */
  arousal: number;
  /** Valence, -1 (unpleasant) .. 1 (pleasant), from the probabilities. */
  valence: number;
  /** Name of the model that produced it. */
  model: string;
  /** `window`: one fixed sliding window (pipeline.mode "window"); absent: one VAD utterance. (`utterance` in events queued before 0.2.) */
  kind?: 'utterance' | 'window';
  /**
   * true: classified against a warm speaker baseline (about 15 s of speech and 3 utterances after
   * the first start or a reset); the default model's functional head then spoke. Absent in events
   * queued by versions before 2026-12-01.
   */
  adapted?: boolean;
  /**
   * true: the crowd detector heard no dominant talker (babble, a crowd, a television), with
   * pipeline.crowd "mark"; absent otherwise (one talker, or the detector off). With "suppress" such
   * utterances are not published at all.
   */
  crowd?: true;
  /** @deprecated only in events queued by versions before 0.2: the device (now the topic's `<deviceId>` level). */
  deviceId?: string;
  /** @deprecated only in events queued by versions before 0.2: the end of the audio (now `start + durationMs`). */
  end?: string;
}

/**
 * `<base>/metrics`, NOT retained, QoS 0, periodic health of the daemon.
 * @example
 * {"uptimeSec":3600,"realTimeFactor":0.043,"latencyMs":{"p50":18.2,"p99":41.7},"droppedFrames":0,
 *  "droppedInferences":2,"queueDepth":0,"droppedEvents":0,"version":"0.1.0","timestamp":"2025-03-01T13:00:00.000Z"}
 */
export interface Metrics {
  /** Seconds since the daemon started (Home Assistant shows the start time instead, from `<base>/instance`). */
  uptimeSec: number;
  /** Processing time / audio time over the last period (below 1 keeps up with the microphone). */
  realTimeFactor: number;
  /** End of audio to published event, milliseconds, over the last period. */
  latencyMs: { p50: number; p99: number };
  /** Audio frames lost because capture outran processing, since start. */
  droppedFrames: number;
  /** Inference requests dropped because one was already in flight, since start. */
  droppedInferences: number;
  /** Events waiting in the on-disk queue for the broker. */
  queueDepth: number;
  /** Events discarded (oldest first) because the on-disk queue was full, since start. */
  droppedEvents: number;
  /** earshot version. */
  version: string;
  /** When these numbers were taken, ISO 8601 UTC. */
  timestamp: string;
}

/** The device block Home Assistant groups earshot's entities under. */
export interface HaDevice {
  identifiers: string[];
  name: string;
  model: string;
  manufacturer: 'earshot';
  sw_version: string;
  /** The daemon's dashboard (`http://<host>:<port>/`), when it is on and reachable from other machines: Home Assistant links to it. */
  configuration_url?: string;
}

/** Who made the discovery config (Home Assistant logs it; MQTT discovery "origin"; required for device discovery). */
export interface HaOrigin {
  name: 'earshot';
  sw_version: string;
  support_url: string;
}

/** What every earshot component carries: its platform (`p`) and identity. */
interface HaComponentCommon {
  name: string;
  /** `earshot_<deviceId>_<component>`: namespaced, so two integrations never share one. */
  unique_id: string;
  icon?: string;
  entity_category?: 'diagnostic';
  enabled_by_default?: boolean;
}

/** A sensor (https://www.home-assistant.io/integrations/sensor.mqtt/). */
export interface HaSensorComponent extends HaComponentCommon {
  p: 'sensor';
  state_topic: string;
  value_template: string;
  /** The emotion sensor's attributes: only the model (stable), so Home Assistant's recorder stores one attribute set, not one per utterance. */
  json_attributes_topic?: string;
  json_attributes_template?: string;
  device_class?: 'enum' | 'timestamp' | 'duration';
  options?: string[];
  unit_of_measurement?: string;
  state_class?: 'measurement';
  suggested_display_precision?: number;
}

/** An event entity fired by every message on `<base>/events` (https://www.home-assistant.io/integrations/event.mqtt/). */
export interface HaEventComponent extends HaComponentCommon {
  p: 'event';
  state_topic: string;
  event_types: string[];
  /** Renders `{"event_type": <label>, ...}` from an `events` payload. */
  value_template: string;
}

/** The listening switch (https://www.home-assistant.io/integrations/switch.mqtt/). */
export interface HaSwitchComponent extends HaComponentCommon {
  p: 'switch';
  command_topic: string;
  state_topic: string;
  payload_on: 'ON';
  payload_off: 'OFF';
  state_on: 'ON';
  state_off: 'OFF';
}

/** A component listed with its platform alone is removed from Home Assistant (a label the new model does not have). */
export interface HaRemovedComponent {
  p: 'sensor' | 'event' | 'switch';
}

export type HaComponent = HaSensorComponent | HaEventComponent | HaSwitchComponent;

/**
 * `homeassistant/device/earshot_<deviceId>/config`, retained: the whole device in one message
 * (MQTT device discovery, Home Assistant 2024.11 and later,
 * https://www.home-assistant.io/integrations/mqtt/#device-discovery-payload): `dev` and `o` once,
 * availability shared by every component (from `<base>/status`), and `cmps`, the components by id.
 * Republished when Home Assistant announces `online` on `homeassistant/status`. The per-entity
 * configs of earshot before 0.2 (`homeassistant/<component>/earshot_<deviceId>/<entity>/config`)
 * are migrated on the first start (./discovery.ts says how).
 * @example
 * {"dev":{"identifiers":["earshot_kitchen"],"name":"earshot kitchen","model":"earshot speech emotion recognition",
 *  "manufacturer":"earshot","sw_version":"0.2.0","configuration_url":"http://192.168.1.20:8080/"},
 *  "o":{"name":"earshot","sw_version":"0.2.0","support_url":"https://github.com/earshot-dev/earshot"},
 *  "availability_topic":"earshot/kitchen/status","payload_available":"online","payload_not_available":"offline",
 *  "cmps":{"emotion":{"p":"sensor","name":"Emotion","unique_id":"earshot_kitchen_emotion","state_topic":"earshot/kitchen/emotion",
 *  "value_template":"{{ value_json.label }}","device_class":"enum","options":["angry","happy","neutral","sad","idle"]},
 *  "started":{"p":"sensor","name":"Started","unique_id":"earshot_kitchen_started","state_topic":"earshot/kitchen/instance",
 *  "value_template":"{{ value_json.startedAt }}","device_class":"timestamp","entity_category":"diagnostic"}}}
 */
export interface HaDeviceDiscoveryConfig {
  dev: HaDevice;
  o: HaOrigin;
  availability_topic: string;
  payload_available: 'online';
  payload_not_available: 'offline';
  cmps: Record<string, HaComponent | HaRemovedComponent>;
}

export type HaDiscoveryConfig = HaDeviceDiscoveryConfig;

/**
 * `<base>/instance`, retained, QoS 1: which installation runs this device id (src/runtime/publish/installation.ts).
 * `<base>/status` stays the plain `online`/`offline` Home Assistant's availability expects; a
 * starting daemon reads both to tell its own previous run (taken over at once) from another
 * installation that uses the same device id (refused, exit 78).
 * @example
 * {"installationId":"0b7f3c1e-5d2a-4c8e-9f61-2a4b8c0d1e3f","clientId":"earshot-kitchen-0b7f3c1e","host":"raspberrypi",
 *  "version":"0.1.0","startedAt":"2025-03-01T12:00:00.000Z"}
 */
export interface InstanceInfo {
  installationId: string;
  clientId: string;
  host: string;
  version: string;
  startedAt: string;
}

/** `<base>/status`, retained, QoS 1. `offline` is also the Last Will, so a crash shows as offline. */
export type Status = 'online' | 'offline';

/** Payload type by topic: the one contract between publisher, tests and documentation. */
export interface TopicPayloads {
  status: Status;
  emotion: EmotionState;
  events: EmotionEvent;
  metrics: Metrics;
  discovery: HaDiscoveryConfig;
  instance: InstanceInfo;
  listening: 'ON' | 'OFF';
  notice: string;
}

/** Every topic name of one device, derived from the base topic and the discovery prefix. */
export interface Topics {
  status: string;
  emotion: string;
  events: string;
  metrics: string;
  /** Home Assistant's own birth/last-will topic: `online` there means "send discovery again". */
  haStatus: string;
  /**
   * Command topic (subscribed, not published): a non-retained, non-empty message on
   * `<base>/baseline/reset` makes the daemon forget its speaker and room baseline (a new speaker
   * or room; models trained with normalisation "speaker" or "prosody"). Retained messages are ignored, so a
   * stale one cannot reset every restart, and so are empty ones (they clear a retained message).
   */
  resetBaseline: string;
  /** Retained `{installationId, ...}` of the running daemon (InstanceInfo). */
  instance: string;
  /** Retained `ON`/`OFF`: whether the daemon listens (the privacy switch). */
  listening: string;
  /** Command topic (subscribed): non-retained `ON`/`OFF` turns listening on or off. */
  listeningSet: string;
  /** Retained plain text for signage: that emotion recognition runs here, and what it does. */
  notice: string;
  /**
   * Non-retained, read by the daemon itself: after subscribing it publishes its client id here
   * and waits for the echo, so every retained message it subscribed to has arrived (MQTT keeps
   * the order of one connection). Consumers ignore it.
   */
  fence: string;
  /** Home Assistant discovery node of this device: its object id, `earshot_<deviceId>`. */
  discoveryNode: string;
  /** The device discovery config: `<prefix>/device/earshot_<deviceId>/config`. */
  deviceDiscovery: string;
  /** Matches every per-entity discovery config of this device (earshot before 0.2), to migrate them. */
  discoveryPattern: string;
  /** Where earshot before 0.2 published its two sensors; cleared when found. */
  legacyDiscovery: string[];
}

export function topicsFor(opts: { baseTopic: string; deviceId: string; discoveryPrefix: string }): Topics {
  const b = opts.baseTopic;
  const d = opts.discoveryPrefix;
  return {
    status: `${b}/status`,
    emotion: `${b}/emotion`,
    events: `${b}/events`,
    metrics: `${b}/metrics`,
    haStatus: `${d}/status`,
    resetBaseline: `${b}/baseline/reset`,
    instance: `${b}/instance`,
    listening: `${b}/listening`,
    listeningSet: `${b}/listening/set`,
    notice: `${b}/notice`,
    fence: `${b}/fence`,
    discoveryNode: `earshot_${opts.deviceId}`,
    deviceDiscovery: `${d}/device/earshot_${opts.deviceId}/config`,
    discoveryPattern: `${d}/+/earshot_${opts.deviceId}/+/config`,
    legacyDiscovery: [`${d}/sensor/${opts.deviceId}_emotion/config`, `${d}/sensor/${opts.deviceId}_emotion_confidence/config`],
  };
}

// Runtime validators for received payloads. Each is pinned to its interface below, so the two
// cannot drift apart without a compile error.
/** A number with at most DECIMALS decimals (checked here; JSON Schema says it in the description, as `multipleOf` misfires on binary floats). */
const rounded = (base: z.ZodNumber, what: string) => base.refine((x) => Math.abs(x - round3(x)) < 1e-9, `has more than ${DECIMALS} decimals`).describe(`${what}, rounded to ${DECIMALS} decimals`);
const probability = rounded(z.number().min(0).max(1), 'probability 0..1');
const affect = (what: string) => rounded(z.number().min(-1).max(1), what);
const isoTime = z.iso.datetime();
const probabilities = z.record(z.string(), probability);

export const emotionStateSchema = z.strictObject({
  label: z.string().min(1),
  confidence: probability,
  probabilities,
  arousal: affect('arousal, -1..1'),
  valence: affect('valence, -1..1'),
  timestamp: isoTime,
  model: z.string().min(1),
});

export const emotionEventSchema = z.strictObject({
  id: z.string().min(1),
  start: isoTime,
  durationMs: z.number().int().nonnegative(),
  label: z.string().min(1),
  confidence: probability,
  probabilities,
  arousal: affect('arousal, -1..1'),
  valence: affect('valence, -1..1'),
  model: z.string().min(1),
  kind: z.enum(['utterance', 'window']).optional().describe('window: one sliding window; absent: one VAD utterance (utterance in events queued before 0.2)'),
  adapted: z.boolean().optional(),
  crowd: z.literal(true).optional().describe('true: no dominant talker was heard (pipeline.crowd mark); absent otherwise'),
  deviceId: z.string().min(1).optional().describe('deprecated: only in events queued by versions before 0.2'),
  end: isoTime.optional().describe('deprecated: only in events queued by versions before 0.2 (now start + durationMs)'),
});

export const metricsSchema = z.strictObject({
  uptimeSec: z.number().nonnegative(),
  realTimeFactor: rounded(z.number().nonnegative(), 'processing time / audio time'),
  latencyMs: z.strictObject({ p50: rounded(z.number().nonnegative(), 'milliseconds'), p99: rounded(z.number().nonnegative(), 'milliseconds') }),
  droppedFrames: z.number().int().nonnegative(),
  droppedInferences: z.number().int().nonnegative(),
  queueDepth: z.number().int().nonnegative(),
  droppedEvents: z.number().int().nonnegative(),
  version: z.string().min(1),
  timestamp: isoTime,
});

const haComponentCommon = {
  name: z.string().min(1),
  unique_id: z.string().regex(/^earshot_[A-Za-z0-9_-]+$/),
  icon: z.string().optional(),
  entity_category: z.literal('diagnostic').optional(),
  enabled_by_default: z.boolean().optional(),
};

export const haSensorComponentSchema = z.strictObject({
  p: z.literal('sensor'),
  ...haComponentCommon,
  state_topic: z.string().min(1),
  value_template: z.string().min(1),
  json_attributes_topic: z.string().min(1).optional(),
  json_attributes_template: z.string().min(1).optional(),
  device_class: z.enum(['enum', 'timestamp', 'duration']).optional(),
  options: z.array(z.string().min(1)).min(1).optional(),
  unit_of_measurement: z.string().optional(),
  state_class: z.literal('measurement').optional(),
  suggested_display_precision: z.number().int().min(0).optional(),
});

export const haEventComponentSchema = z.strictObject({
  p: z.literal('event'),
  ...haComponentCommon,
  state_topic: z.string().min(1),
  event_types: z.array(z.string().min(1)).min(1),
  value_template: z.string().min(1),
});

export const haSwitchComponentSchema = z.strictObject({
  p: z.literal('switch'),
  ...haComponentCommon,
  command_topic: z.string().min(1),
  state_topic: z.string().min(1),
  payload_on: z.literal('ON'),
  payload_off: z.literal('OFF'),
  state_on: z.literal('ON'),
  state_off: z.literal('OFF'),
});

export const haRemovedComponentSchema = z.strictObject({ p: z.enum(['sensor', 'event', 'switch']) });

export const haDeviceDiscoveryConfigSchema = z.strictObject({
  dev: z.strictObject({
    identifiers: z.array(z.string().min(1)).min(1),
    name: z.string().min(1),
    model: z.string().min(1),
    manufacturer: z.literal('earshot'),
    sw_version: z.string().min(1),
    configuration_url: z.url().optional(),
  }),
  o: z.strictObject({ name: z.literal('earshot'), sw_version: z.string().min(1), support_url: z.url() }),
  availability_topic: z.string().min(1),
  payload_available: z.literal('online'),
  payload_not_available: z.literal('offline'),
  cmps: z.record(z.string().regex(/^[a-z0-9_]+$/), z.union([haSensorComponentSchema, haEventComponentSchema, haSwitchComponentSchema, haRemovedComponentSchema])),
});

export const haDiscoveryConfigSchema = haDeviceDiscoveryConfigSchema;

export const instanceInfoSchema = z.strictObject({
  installationId: z.string().min(1),
  clientId: z.string().min(1),
  host: z.string(),
  version: z.string().min(1),
  startedAt: isoTime,
});

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const pinned: [
  Same<z.infer<typeof emotionStateSchema>, EmotionState>,
  Same<z.infer<typeof emotionEventSchema>, EmotionEvent>,
  Same<z.infer<typeof metricsSchema>, Metrics>,
  Same<z.infer<typeof haSensorComponentSchema>, HaSensorComponent>,
  Same<z.infer<typeof haEventComponentSchema>, HaEventComponent>,
  Same<z.infer<typeof haSwitchComponentSchema>, HaSwitchComponent>,
  Same<z.infer<typeof haDeviceDiscoveryConfigSchema>, HaDeviceDiscoveryConfig>,
  Same<z.infer<typeof instanceInfoSchema>, InstanceInfo>,
] = [true, true, true, true, true, true, true, true];
void pinned;

/** `<base>/status` as the bare string it is on the wire (not JSON-quoted). */
export const statusSchema = z.enum(['online', 'offline']);
/** `<base>/listening` (retained) and the commands on `<base>/listening/set`. */
export const listeningSchema = z.enum(['ON', 'OFF']);
/** `<base>/notice` (retained): plain text for signage, at most privacy.notice's 2000 characters. */
export const noticeSchema = z.string().max(2000);
/** `<base>/fence` (not retained): the daemon's own marker, `<clientId> <connection> <startedAt>`; consumers ignore it. */
export const fenceSchema = z.string().min(1);
const pinnedStatus: Same<z.infer<typeof statusSchema>, Status> = true;
void pinnedStatus;
