/**
 * Home Assistant MQTT discovery configs for one earshot device
 * (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery): a text sensor whose state
 * is the emotion label, with the whole emotion JSON (confidence, probabilities, model, timestamp)
 * as attributes, and a numeric confidence sensor. Both follow `<base>/status` for availability,
 * so a dead daemon (last will `offline`) shows as unavailable.
 */
import type { HaDevice, HaDiscoveryConfig, Topics } from './payloads.ts';

export interface DiscoveryMessage {
  topic: string;
  payload: HaDiscoveryConfig;
}

export function discoveryMessages(opts: {
  topics: Topics;
  deviceId: string;
  deviceName: string;
  /** Home Assistant shows it as the device model. */
  model: string;
  version: string;
}): DiscoveryMessage[] {
  const { topics, deviceId } = opts;
  const device: HaDevice = {
    identifiers: [`earshot_${deviceId}`],
    name: opts.deviceName,
    model: opts.model,
    manufacturer: 'earshot',
    sw_version: opts.version,
  };
  const availability = {
    availability_topic: topics.status,
    payload_available: 'online',
    payload_not_available: 'offline',
  } as const;
  return [
    {
      topic: topics.discovery.emotion,
      payload: {
        name: 'Emotion',
        unique_id: `${deviceId}_emotion`,
        state_topic: topics.emotion,
        value_template: '{{ value_json.label }}',
        json_attributes_topic: topics.emotion,
        ...availability,
        icon: 'mdi:emoticon-outline',
        device,
      },
    },
    {
      topic: topics.discovery.confidence,
      payload: {
        name: 'Emotion confidence',
        unique_id: `${deviceId}_emotion_confidence`,
        state_topic: topics.emotion,
        value_template: '{{ (value_json.confidence * 100) | round(1) }}',
        ...availability,
        unit_of_measurement: '%',
        state_class: 'measurement',
        icon: 'mdi:gauge',
        device,
      },
    },
  ];
}
