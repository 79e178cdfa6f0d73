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
 * `<base>/emotion`, retained, QoS 1: the current (smoothed) emotion state.
 * @example
 * {"label":"happy","confidence":0.71,"probabilities":{"angry":0.04,"happy":0.71,"neutral":0.2,"sad":0.05},
 *  "arousal":0.357,"valence":0.509,"timestamp":"2025-03-01T12:00:03.120Z","model":"ser-lstm-4c"}
 */
export interface EmotionState {
  /** The label with the highest smoothed probability (after hysteresis and minimum dwell). */
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
 *  "model":"ser-lstm-4c","kind":"utterance"}
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

/**
 * `homeassistant/sensor/<deviceId>_emotion/config` (and `…_emotion_confidence/config`), retained:
 * Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery).
 * Republished whenever Home Assistant announces `online` on `homeassistant/status`.
 * @example
 * {"name":"Emotion","unique_id":"kitchen_emotion","state_topic":"earshot/kitchen/emotion",
 *  "value_template":"{{ value_json.label }}","json_attributes_topic":"earshot/kitchen/emotion",
 *  "availability_topic":"earshot/kitchen/status","payload_available":"online","payload_not_available":"offline",
 *  "icon":"mdi:emoticon-outline","device":{"identifiers":["earshot_kitchen"],"name":"earshot kitchen",
 *  "model":"earshot speech emotion recognition","manufacturer":"earshot","sw_version":"0.1.0"}}
 */
export interface HaDiscoveryConfig {
  name: string;
  unique_id: string;
  state_topic: string;
  value_template: string;
  /** Attributes come from the whole emotion JSON: confidence, probabilities, model, timestamp. */
  json_attributes_topic?: string;
  availability_topic: string;
  payload_available: 'online';
  payload_not_available: 'offline';
  icon?: string;
  unit_of_measurement?: string;
  state_class?: 'measurement';
  device: HaDevice;
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
  /** Discovery config topics, one per Home Assistant entity. */
  discovery: { emotion: string; confidence: string };
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
    discovery: {
      emotion: `${d}/sensor/${opts.deviceId}_emotion/config`,
      confidence: `${d}/sensor/${opts.deviceId}_emotion_confidence/config`,
    },
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

export const haDiscoveryConfigSchema = z.strictObject({
  name: z.string().min(1),
  unique_id: z.string().min(1),
  state_topic: z.string().min(1),
  value_template: z.string().min(1),
  json_attributes_topic: z.string().min(1).optional(),
  availability_topic: z.string().min(1),
  payload_available: z.literal('online'),
  payload_not_available: z.literal('offline'),
  icon: z.string().optional(),
  unit_of_measurement: z.string().optional(),
  state_class: z.literal('measurement').optional(),
  device: z.strictObject({
    identifiers: z.array(z.string().min(1)).min(1),
    name: z.string().min(1),
    model: z.string().min(1),
    manufacturer: z.literal('earshot'),
    sw_version: z.string().min(1),
  }),
});

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const pinned: [
  Same<z.infer<typeof emotionStateSchema>, EmotionState>,
  Same<z.infer<typeof emotionEventSchema>, EmotionEvent>,
  Same<z.infer<typeof metricsSchema>, Metrics>,
  Same<z.infer<typeof haDiscoveryConfigSchema>, HaDiscoveryConfig>,
] = [true, true, true, true];
void pinned;

/** `<base>/status` as the bare string it is on the wire (not JSON-quoted). */
export const statusSchema = z.enum(['online', 'offline']);
const pinnedStatus: Same<z.infer<typeof statusSchema>, Status> = true;
void pinnedStatus;
