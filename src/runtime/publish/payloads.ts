/**
 * The MQTT contract of earshot: every topic the daemon publishes, and the payload type on it.
 * The README quotes this file; the publisher and the tests share it, so the wire format has
 * exactly one definition. The zod schemas beside the interfaces validate received payloads
 * (tests, consumers) and are checked at compile time to describe the same shapes.
 */
import { z } from 'zod';

/** An emotion label as the model's metadata names it, e.g. `neutral`, `happy`, `sad`, `angry`. */
export type EmotionLabel = string;

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
 * @example
 * {"id":"kitchen-m7q2k1x4a9-000042","deviceId":"kitchen","start":"2025-03-01T12:00:01.500Z",
 *  "end":"2025-03-01T12:00:03.100Z","durationMs":1600,"label":"happy","confidence":0.68,
 *  "probabilities":{"angry":0.05,"happy":0.68,"neutral":0.21,"sad":0.06},"arousal":0.344,"valence":0.472,
 *  "model":"ser-lstm-4c","kind":"utterance","adapted":true}
 */
export interface EmotionEvent {
  /** Unique across restarts and devices: `<deviceId>-<bootId>-<seq>` (see `EventIdSource`). */
  id: string;
  /** The device that heard it. */
  deviceId: string;
  /** Start of the audio that was classified, ISO 8601 UTC. */
  start: string;
  /** End of the audio that was classified, ISO 8601 UTC. */
  end: string;
  /** `end - start` in milliseconds. */
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
  /** `utterance`: one VAD segment; `window`: one fixed sliding window. */
  kind: 'utterance' | 'window';
  /**
   * true: classified against a warm speaker baseline (about 15 s of speech and 3 utterances after
   * the first start or a reset); the default model's functional head then spoke. Absent in events
   * queued by versions before 2026-12-01.
   */
  adapted?: boolean;
}

/**
 * `<base>/metrics`, NOT retained, QoS 0, periodic health of the daemon.
 * @example
 * {"uptimeSec":3600,"realTimeFactor":0.043,"latencyMs":{"p50":18.2,"p99":41.7},"droppedFrames":0,
 *  "droppedInferences":2,"queueDepth":0,"droppedEvents":0,"version":"0.1.0","timestamp":"2025-03-01T13:00:00.000Z"}
 */
export interface Metrics {
  /** Seconds since the daemon started. */
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
}

/** Who made the discovery config (Home Assistant logs it; MQTT discovery "origin"). */
export interface HaOrigin {
  name: 'earshot';
  sw_version: string;
  support_url: string;
}

/** What every earshot entity carries: identity, availability from `<base>/status`, device and origin. */
interface HaEntityCommon {
  name: string;
  /** `earshot_<deviceId>_<entity>`: namespaced, so two integrations never share one. */
  unique_id: string;
  availability_topic: string;
  payload_available: 'online';
  payload_not_available: 'offline';
  icon?: string;
  entity_category?: 'diagnostic';
  enabled_by_default?: boolean;
  device: HaDevice;
  origin: HaOrigin;
}

/**
 * `homeassistant/sensor/earshot_<deviceId>/<entity>/config`, retained: a sensor (MQTT sensor
 * discovery, https://www.home-assistant.io/integrations/sensor.mqtt/). The emotion sensor is an
 * `enum` whose options are the model's labels and `idle`.
 * @example
 * {"name":"Emotion","unique_id":"earshot_kitchen_emotion","state_topic":"earshot/kitchen/emotion",
 *  "value_template":"{{ value_json.label }}","json_attributes_topic":"earshot/kitchen/emotion",
 *  "device_class":"enum","options":["angry","happy","neutral","sad","idle"],
 *  "availability_topic":"earshot/kitchen/status","payload_available":"online","payload_not_available":"offline",
 *  "icon":"mdi:emoticon-outline","device":{"identifiers":["earshot_kitchen"],"name":"earshot kitchen",
 *  "model":"earshot speech emotion recognition","manufacturer":"earshot","sw_version":"0.1.0"},
 *  "origin":{"name":"earshot","sw_version":"0.1.0","support_url":"https://github.com/earshot-dev/earshot"}}
 */
export interface HaSensorConfig extends HaEntityCommon {
  state_topic: string;
  value_template: string;
  /** Attributes come from the whole JSON on that topic. */
  json_attributes_topic?: string;
  device_class?: 'enum' | 'duration';
  options?: string[];
  unit_of_measurement?: string;
  state_class?: 'measurement';
  suggested_display_precision?: number;
}

/**
 * `homeassistant/event/earshot_<deviceId>/utterance/config`, retained: an event entity fired by
 * every message on `<base>/events` (MQTT event discovery, https://www.home-assistant.io/integrations/event.mqtt/).
 * @example
 * {"name":"Utterance","unique_id":"earshot_kitchen_utterance","state_topic":"earshot/kitchen/events",
 *  "event_types":["angry","happy","neutral","sad","uncertain"],
 *  "value_template":"{\"event_type\": \"{{ value_json.label }}\", \"confidence\": {{ value_json.confidence }}, \"id\": \"{{ value_json.id }}\"}",
 *  "availability_topic":"earshot/kitchen/status","payload_available":"online","payload_not_available":"offline",
 *  "icon":"mdi:account-voice","device":{"identifiers":["earshot_kitchen"],"name":"earshot kitchen",
 *  "model":"earshot speech emotion recognition","manufacturer":"earshot","sw_version":"0.1.0"},
 *  "origin":{"name":"earshot","sw_version":"0.1.0","support_url":"https://github.com/earshot-dev/earshot"}}
 */
export interface HaEventConfig extends HaEntityCommon {
  state_topic: string;
  event_types: string[];
  /** Renders `{"event_type": <label>, ...}` from an `events` payload. */
  value_template: string;
}

/**
 * `homeassistant/switch/earshot_<deviceId>/listening/config`, retained: the listening switch
 * (MQTT switch discovery, https://www.home-assistant.io/integrations/switch.mqtt/).
 * @example
 * {"name":"Listening","unique_id":"earshot_kitchen_listening","command_topic":"earshot/kitchen/listening/set",
 *  "state_topic":"earshot/kitchen/listening","payload_on":"ON","payload_off":"OFF","state_on":"ON","state_off":"OFF",
 *  "availability_topic":"earshot/kitchen/status","payload_available":"online","payload_not_available":"offline",
 *  "icon":"mdi:microphone","device":{"identifiers":["earshot_kitchen"],"name":"earshot kitchen",
 *  "model":"earshot speech emotion recognition","manufacturer":"earshot","sw_version":"0.1.0"},
 *  "origin":{"name":"earshot","sw_version":"0.1.0","support_url":"https://github.com/earshot-dev/earshot"}}
 */
export interface HaSwitchConfig extends HaEntityCommon {
  command_topic: string;
  state_topic: string;
  payload_on: 'ON';
  payload_off: 'OFF';
  state_on: 'ON';
  state_off: 'OFF';
}

export type HaDiscoveryConfig = HaSensorConfig | HaEventConfig | HaSwitchConfig;

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
  /** Home Assistant discovery node of this device: `<prefix>/<component>/earshot_<deviceId>/<entity>/config`. */
  discoveryNode: string;
  /** Matches every discovery config of this device (to find stale ones). */
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
    discoveryPattern: `${d}/+/earshot_${opts.deviceId}/+/config`,
    legacyDiscovery: [`${d}/sensor/${opts.deviceId}_emotion/config`, `${d}/sensor/${opts.deviceId}_emotion_confidence/config`],
  };
}

// Runtime validators for received payloads. Each is pinned to its interface below, so the two
// cannot drift apart without a compile error.
const probability = z.number().min(0).max(1);
const isoTime = z.iso.datetime();
const probabilities = z.record(z.string(), probability);

export const emotionStateSchema = z.strictObject({
  label: z.string().min(1),
  confidence: probability,
  probabilities,
  arousal: z.number().min(-1).max(1),
  valence: z.number().min(-1).max(1),
  timestamp: isoTime,
  model: z.string().min(1),
});

export const emotionEventSchema = z.strictObject({
  id: z.string().min(1),
  deviceId: z.string().min(1),
  start: isoTime,
  end: isoTime,
  durationMs: z.number().nonnegative(),
  label: z.string().min(1),
  confidence: probability,
  probabilities,
  arousal: z.number().min(-1).max(1),
  valence: z.number().min(-1).max(1),
  model: z.string().min(1),
  kind: z.enum(['utterance', 'window']),
  adapted: z.boolean().optional(),
});

export const metricsSchema = z.strictObject({
  uptimeSec: z.number().nonnegative(),
  realTimeFactor: z.number().nonnegative(),
  latencyMs: z.strictObject({ p50: z.number().nonnegative(), p99: z.number().nonnegative() }),
  droppedFrames: z.number().int().nonnegative(),
  droppedInferences: z.number().int().nonnegative(),
  queueDepth: z.number().int().nonnegative(),
  droppedEvents: z.number().int().nonnegative(),
  version: z.string().min(1),
  timestamp: isoTime,
});

const haCommon = {
  name: z.string().min(1),
  unique_id: z.string().regex(/^earshot_[A-Za-z0-9_-]+$/),
  availability_topic: z.string().min(1),
  payload_available: z.literal('online'),
  payload_not_available: z.literal('offline'),
  icon: z.string().optional(),
  entity_category: z.literal('diagnostic').optional(),
  enabled_by_default: z.boolean().optional(),
  device: z.strictObject({
    identifiers: z.array(z.string().min(1)).min(1),
    name: z.string().min(1),
    model: z.string().min(1),
    manufacturer: z.literal('earshot'),
    sw_version: z.string().min(1),
  }),
  origin: z.strictObject({ name: z.literal('earshot'), sw_version: z.string().min(1), support_url: z.url() }),
};

export const haSensorConfigSchema = z.strictObject({
  ...haCommon,
  state_topic: z.string().min(1),
  value_template: z.string().min(1),
  json_attributes_topic: z.string().min(1).optional(),
  device_class: z.enum(['enum', 'duration']).optional(),
  options: z.array(z.string().min(1)).min(1).optional(),
  unit_of_measurement: z.string().optional(),
  state_class: z.literal('measurement').optional(),
  suggested_display_precision: z.number().int().min(0).optional(),
});

export const haEventConfigSchema = z.strictObject({
  ...haCommon,
  state_topic: z.string().min(1),
  event_types: z.array(z.string().min(1)).min(1),
  value_template: z.string().min(1),
});

export const haSwitchConfigSchema = z.strictObject({
  ...haCommon,
  command_topic: z.string().min(1),
  state_topic: z.string().min(1),
  payload_on: z.literal('ON'),
  payload_off: z.literal('OFF'),
  state_on: z.literal('ON'),
  state_off: z.literal('OFF'),
});

export const haDiscoveryConfigSchema = z.union([haSensorConfigSchema, haEventConfigSchema, haSwitchConfigSchema]);

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
  Same<z.infer<typeof haSensorConfigSchema>, HaSensorConfig>,
  Same<z.infer<typeof haEventConfigSchema>, HaEventConfig>,
  Same<z.infer<typeof haSwitchConfigSchema>, HaSwitchConfig>,
  Same<z.infer<typeof instanceInfoSchema>, InstanceInfo>,
] = [true, true, true, true, true, true, true];
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
