/**
 * Home Assistant MQTT discovery configs for one earshot device
 * (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery), one topic per entity under
 * the node `earshot_<deviceId>`: `<prefix>/<component>/earshot_<deviceId>/<entity>/config`.
 *
 *   sensor  emotion            enum: the model's labels and `idle`; attributes = the emotion JSON
 *   sensor  confidence         % of the current label
 *   sensor  probability_<lbl>  % per label (disabled by default: enable the ones you graph)
 *   event   utterance          fired by every `events` message, event_type = its label
 *   switch  listening          the privacy switch (`<base>/listening/set`)
 *   sensor  latency, real_time_factor, queue_depth, uptime   diagnostic, from `metrics`
 *
 * Every entity follows `<base>/status` for availability, so a dead daemon (last will `offline`)
 * shows as unavailable. The per-label sensors change with the model: the publisher clears the
 * configs of entities that no longer exist (an empty retained config removes them from HA).
 */
import type { HaDevice, HaDiscoveryConfig, HaOrigin, Topics } from './payloads.ts';
import { IDLE } from './payloads.ts';

/** Where people ask about earshot; Home Assistant shows it with the origin of the configs. */
export const SUPPORT_URL = 'https://github.com/earshot-dev/earshot';

export interface DiscoveryMessage {
  topic: string;
  payload: HaDiscoveryConfig;
}

/** A label as a Home Assistant object id (lower case, `_` for anything else). */
export const entityKey = (label: string) => label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '') || 'label';

export function discoveryMessages(opts: {
  topics: Topics;
  deviceId: string;
  deviceName: string;
  /** Home Assistant shows it as the device model. */
  model: string;
  version: string;
  discoveryPrefix: string;
  /** The model's labels, in its order. */
  labels: readonly string[];
  /** The labels an event can carry: the model's, plus `uncertain` when the daemon uses it. */
  eventTypes: readonly string[];
}): DiscoveryMessage[] {
  const { topics, deviceId } = opts;
  const device: HaDevice = {
    identifiers: [`earshot_${deviceId}`],
    name: opts.deviceName,
    model: opts.model,
    manufacturer: 'earshot',
    sw_version: opts.version,
  };
  const origin: HaOrigin = { name: 'earshot', sw_version: opts.version, support_url: SUPPORT_URL };
  const common = (key: string, name: string) => ({
    name,
    unique_id: `earshot_${deviceId}_${key}`,
    availability_topic: topics.status,
    payload_available: 'online' as const,
    payload_not_available: 'offline' as const,
  });
  const topic = (component: string, key: string) => `${opts.discoveryPrefix}/${component}/${topics.discoveryNode}/${key}/config`;
  const out: DiscoveryMessage[] = [
    {
      topic: topic('sensor', 'emotion'),
      payload: {
        ...common('emotion', 'Emotion'),
        state_topic: topics.emotion,
        value_template: '{{ value_json.label }}',
        json_attributes_topic: topics.emotion,
        device_class: 'enum',
        options: [...opts.labels, IDLE],
        icon: 'mdi:emoticon-outline',
        device,
        origin,
      },
    },
    {
      topic: topic('sensor', 'confidence'),
      payload: {
        ...common('confidence', 'Emotion confidence'),
        state_topic: topics.emotion,
        value_template: '{{ (value_json.confidence * 100) | round(1) }}',
        unit_of_measurement: '%',
        state_class: 'measurement',
        icon: 'mdi:gauge',
        device,
        origin,
      },
    },
    {
      topic: topic('event', 'utterance'),
      payload: {
        ...common('utterance', 'Utterance'),
        state_topic: topics.events,
        event_types: [...opts.eventTypes],
        // HA needs a JSON object with `event_type`; the other keys become the event's attributes
        value_template: '{"event_type": "{{ value_json.label }}", "confidence": {{ value_json.confidence }}, "id": "{{ value_json.id }}"}',
        icon: 'mdi:account-voice',
        device,
        origin,
      },
    },
    {
      topic: topic('switch', 'listening'),
      payload: {
        ...common('listening', 'Listening'),
        command_topic: topics.listeningSet,
        state_topic: topics.listening,
        payload_on: 'ON',
        payload_off: 'OFF',
        state_on: 'ON',
        state_off: 'OFF',
        icon: 'mdi:microphone',
        device,
        origin,
      },
    },
  ];
  const diagnostic: [key: string, name: string, template: string, extra: Partial<{ unit_of_measurement: string; device_class: 'duration'; suggested_display_precision: number }>][] = [
    ['latency', 'Latency (p50)', '{{ value_json.latencyMs.p50 }}', { unit_of_measurement: 'ms', device_class: 'duration', suggested_display_precision: 0 }],
    ['real_time_factor', 'Real-time factor', '{{ value_json.realTimeFactor }}', { suggested_display_precision: 3 }],
    ['queue_depth', 'Queued events', '{{ value_json.queueDepth }}', {}],
    ['uptime', 'Uptime', '{{ value_json.uptimeSec }}', { unit_of_measurement: 's', device_class: 'duration', suggested_display_precision: 0 }],
  ];
  for (const [key, name, template, extra] of diagnostic) {
    out.push({
      topic: topic('sensor', key),
      payload: { ...common(key, name), state_topic: topics.metrics, value_template: template, state_class: 'measurement', entity_category: 'diagnostic', ...extra, device, origin },
    });
  }
  for (const label of opts.labels) {
    const key = `probability_${entityKey(label)}`;
    out.push({
      topic: topic('sensor', key),
      payload: {
        ...common(key, `Probability ${label}`),
        state_topic: topics.emotion,
        value_template: `{{ ((value_json.probabilities[${JSON.stringify(label)}] | default(0)) * 100) | round(1) }}`,
        unit_of_measurement: '%',
        state_class: 'measurement',
        enabled_by_default: false,
        device,
        origin,
      },
    });
  }
  return out;
}
