/**
 * Home Assistant MQTT discovery for one earshot device: ONE retained message,
 * `<prefix>/device/earshot_<deviceId>/config` (device discovery, Home Assistant 2024.11 and later,
 * https://www.home-assistant.io/integrations/mqtt/#device-discovery-payload), with the device
 * (`dev`) and origin (`o`) once, availability shared by every component, and the components
 * (`cmps`) by id:
 *
 *   emotion            sensor, enum: the model's labels and `idle`; one attribute, the model
 *   confidence         sensor, % of the current label
 *   arousal, valence   sensors, -1..1 of the current (smoothed) state
 *   utterance          event, fired by every `events` message, event_type = its label
 *   listening          switch, the privacy switch (`<base>/listening/set`)
 *   started            sensor, timestamp: when the daemon started (`<base>/instance`), diagnostic
 *   latency, real_time_factor, queue_depth   diagnostic sensors, from `metrics`
 *   probability_<lbl>  sensor, % per label (disabled by default: enable the ones you graph)
 *
 * Recorder: the emotion sensor's only attribute is the model's name, which changes with the
 * model, not with every utterance (its probabilities, arousal and valence used to be attributes,
 * so Home Assistant stored a new attribute set per utterance).
 *
 * Migration from earshot before 0.2 (one config per entity under
 * `<prefix>/<component>/earshot_<deviceId>/<entity>/config`), as Home Assistant documents it
 * (#migration-from-single-component-to-device-based-discovery): the old and the new config of an
 * entity share its discovery id (`earshot_<deviceId> <entity>`), and Home Assistant refuses the new
 * one while the old one is live. So, for each old config found retained under the node:
 *   1. `{"migrate_discovery": true}` on the old topic: Home Assistant unloads the entity and keeps
 *      its registry entry (name, area, enabled state, history);
 *   2. the device config: the entity is loaded again from it, same unique_id, same entity;
 *   3. an empty retained payload on the old topic, so the broker forgets it.
 * Old entities that the device config no longer has (`uptime`, a duration that became the
 * `started` timestamp) are simply removed (step 3 alone, before step 2). A Home Assistant that is
 * offline meanwhile finds only the device config and re-links the entities by unique_id.
 *
 * Labels that a new model no longer has: the previous device config (read back, retained) lists
 * components this one lacks; they are sent once with their platform alone, which removes them.
 */
import type { HaComponent, HaDevice, HaDeviceDiscoveryConfig, HaOrigin, HaRemovedComponent, Topics } from './payloads.ts';
import { IDLE } from './payloads.ts';

/** Where people ask about earshot; Home Assistant shows it with the origin of the configs. */
export const SUPPORT_URL = 'https://github.com/earshot-dev/earshot';

/** What Home Assistant reads on an old per-entity topic to hand the entity over to the device config. */
export const MIGRATE_DISCOVERY = '{"migrate_discovery":true}';

export interface DiscoveryMessage {
  topic: string;
  payload: HaDeviceDiscoveryConfig;
}

export interface DiscoveryOptions {
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
  /** The dashboard's address as other machines reach it; Home Assistant links the device to it. */
  configurationUrl?: string;
  /** The components of the previously retained device config (to remove those this one lacks). */
  previous?: Readonly<Record<string, { p: string }>>;
}

/** A label as a Home Assistant object id (lower case, `_` for anything else). */
export const entityKey = (label: string) => label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '') || 'label';

/** The components of one device, by id (the id is also the end of its unique_id). */
// eslint-disable-next-line max-lines-per-function -- a table: one Home Assistant component literal per entity, in the order HA lists them
export function discoveryComponents(opts: DiscoveryOptions): Record<string, HaComponent> {
  const { topics, deviceId } = opts;
  const id = (key: string) => ({ unique_id: `earshot_${deviceId}_${key}` });
  const cmps: Record<string, HaComponent> = {
    emotion: {
      p: 'sensor',
      name: 'Emotion',
      ...id('emotion'),
      state_topic: topics.emotion,
      value_template: '{{ value_json.label }}',
      json_attributes_topic: topics.emotion,
      json_attributes_template: '{{ {"model": value_json.model} | tojson }}',
      device_class: 'enum',
      options: [...opts.labels, IDLE],
      icon: 'mdi:emoticon-outline',
    },
    confidence: {
      p: 'sensor',
      name: 'Emotion confidence',
      ...id('confidence'),
      state_topic: topics.emotion,
      value_template: '{{ (value_json.confidence * 100) | round(1) }}',
      unit_of_measurement: '%',
      state_class: 'measurement',
      icon: 'mdi:gauge',
    },
    arousal: {
      p: 'sensor',
      name: 'Arousal',
      ...id('arousal'),
      state_topic: topics.emotion,
      value_template: '{{ value_json.arousal }}',
      state_class: 'measurement',
      suggested_display_precision: 2,
      icon: 'mdi:lightning-bolt-outline',
    },
    valence: {
      p: 'sensor',
      name: 'Valence',
      ...id('valence'),
      state_topic: topics.emotion,
      value_template: '{{ value_json.valence }}',
      state_class: 'measurement',
      suggested_display_precision: 2,
      icon: 'mdi:emoticon-happy-outline',
    },
    utterance: {
      p: 'event',
      name: 'Utterance',
      ...id('utterance'),
      state_topic: topics.events,
      event_types: [...opts.eventTypes],
      // HA needs a JSON object with `event_type`; the other keys become the event's attributes
      value_template: '{"event_type": "{{ value_json.label }}", "confidence": {{ value_json.confidence }}, "id": "{{ value_json.id }}"}',
      icon: 'mdi:account-voice',
    },
    listening: {
      p: 'switch',
      name: 'Listening',
      ...id('listening'),
      command_topic: topics.listeningSet,
      state_topic: topics.listening,
      payload_on: 'ON',
      payload_off: 'OFF',
      state_on: 'ON',
      state_off: 'OFF',
      icon: 'mdi:microphone',
    },
    // a start time, as Home Assistant's own integrations show uptime: one state per run, not one per minute
    started: {
      p: 'sensor',
      name: 'Started',
      ...id('started'),
      state_topic: topics.instance,
      value_template: '{{ value_json.startedAt }}',
      device_class: 'timestamp',
      entity_category: 'diagnostic',
    },
  };
  const diagnostic: [key: string, name: string, template: string, extra: Partial<Pick<HaComponent & { p: 'sensor' }, 'unit_of_measurement' | 'device_class' | 'suggested_display_precision'>>][] = [
    ['latency', 'Latency (p50)', '{{ value_json.latencyMs.p50 }}', { unit_of_measurement: 'ms', device_class: 'duration', suggested_display_precision: 0 }],
    ['real_time_factor', 'Real-time factor', '{{ value_json.realTimeFactor }}', { suggested_display_precision: 3 }],
    ['queue_depth', 'Queued events', '{{ value_json.queueDepth }}', {}],
  ];
  for (const [key, name, template, extra] of diagnostic) {
    cmps[key] = { p: 'sensor', name, ...id(key), state_topic: topics.metrics, value_template: template, state_class: 'measurement', entity_category: 'diagnostic', ...extra };
  }
  for (const label of opts.labels) {
    const key = `probability_${entityKey(label)}`;
    cmps[key] = {
      p: 'sensor',
      name: `Probability ${label}`,
      ...id(key),
      state_topic: topics.emotion,
      value_template: `{{ ((value_json.probabilities[${JSON.stringify(label)}] | default(0)) * 100) | round(1) }}`,
      unit_of_measurement: '%',
      state_class: 'measurement',
      enabled_by_default: false,
    };
  }
  return cmps;
}

/** The one device discovery message of this device. */
export function deviceDiscoveryMessage(opts: DiscoveryOptions): DiscoveryMessage {
  const { topics, deviceId } = opts;
  const dev: HaDevice = {
    identifiers: [`earshot_${deviceId}`],
    name: opts.deviceName,
    model: opts.model,
    manufacturer: 'earshot',
    sw_version: opts.version,
    ...(opts.configurationUrl ? { configuration_url: opts.configurationUrl } : {}),
  };
  const o: HaOrigin = { name: 'earshot', sw_version: opts.version, support_url: SUPPORT_URL };
  const cmps: Record<string, HaComponent | HaRemovedComponent> = discoveryComponents(opts);
  // a component of the previous config that is gone: its platform alone removes it (once; the next
  // start finds it already removed, platform only, and leaves it out)
  for (const [key, c] of Object.entries(opts.previous ?? {})) {
    if (key in cmps || Object.keys(c).length <= 1) continue;
    if (c.p === 'sensor' || c.p === 'event' || c.p === 'switch') cmps[key] = { p: c.p };
  }
  return {
    topic: topics.deviceDiscovery,
    payload: { dev, o, availability_topic: topics.status, payload_available: 'online', payload_not_available: 'offline', cmps },
  };
}

/** What to do with the old per-entity configs found retained under this device's node. */
export interface DiscoveryMigration {
  /** Old configs of entities the device config carries: migrate_discovery, then (after the device config) cleared. */
  migrate: string[];
  /** Old configs of entities that are gone (and the configs of earshot before the node existed): cleared. */
  remove: string[];
}

/**
 * Sorts retained per-entity config topics (`<prefix>/<component>/earshot_<id>/<key>/config`, or any
 * other topic, which is only cleared) into those handed over to the device config and those removed.
 */
export function planMigration(found: Iterable<string>, message: DiscoveryMessage, opts: { discoveryPrefix: string; discoveryNode: string }): DiscoveryMigration {
  const out: DiscoveryMigration = { migrate: [], remove: [] };
  const prefix = `${opts.discoveryPrefix}/`;
  for (const topic of found) {
    if (topic === message.topic) continue;
    const parts = topic.startsWith(prefix) ? topic.slice(prefix.length).split('/') : [];
    const [component, node, key] = parts;
    const now = parts.length === 4 && node === opts.discoveryNode ? message.payload.cmps[key] : undefined;
    if (now && now.p === component && Object.keys(now).length > 1) out.migrate.push(topic);
    else out.remove.push(topic);
  }
  return out;
}
