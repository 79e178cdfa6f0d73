/**
 * JSON Schemas (draft 2020-12) of every payload earshot publishes, generated from the zod schemas
 * in src/runtime/publish/payloads.ts (zod 4's z.toJSONSchema), so the wire contract is written
 * once. Committed under schemas/; test/e2e/schemas.test.ts checks the committed files equal this
 * output and that payloads captured from a real run validate against them.
 *
 *   node --import tsx scripts/schemas.ts          rewrites schemas/*.schema.json
 *   node --import tsx scripts/schemas.ts --check  exits 1 when a committed file is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { emotionEventSchema, emotionStateSchema, fenceSchema, haDiscoveryConfigSchema, instanceInfoSchema, listeningSchema, metricsSchema, noticeSchema, statusSchema } from '../src/runtime/publish/payloads.ts';
import { ROOT } from '../src/core/paths.ts';

export const SCHEMAS_DIR = join(ROOT, 'schemas');

/** file name, topic, and what it says; `schema` is the zod schema the daemon's payload type is pinned to. */
export const PAYLOADS = [
  { file: 'emotion-state.schema.json', topic: '<base>/emotion', schema: emotionStateSchema, title: 'earshot emotion state', description: 'Retained, QoS 1: the current (smoothed) emotion state of one device. <base> is earshot/<deviceId> by default.' },
  { file: 'emotion-event.schema.json', topic: '<base>/events', schema: emotionEventSchema, title: 'earshot emotion event', description: 'Not retained, QoS 1, at least once and in order (dedupe by id): one event per classified utterance or window. label is `uncertain` below the daemon\'s pipeline.uncertainBelow. Numbers have at most 3 decimals. The device is the topic\'s <deviceId> level; the audio ended at start + durationMs.' },
  { file: 'metrics.schema.json', topic: '<base>/metrics', schema: metricsSchema, title: 'earshot metrics', description: 'Not retained, QoS 0, every metrics.intervalSec: health of the daemon.' },
  { file: 'status.schema.json', topic: '<base>/status', schema: statusSchema, title: 'earshot status', description: 'Retained, QoS 1: the bare string online or offline (NOT JSON-quoted on the wire; validate the payload text as a string). offline is also the last will.' },
  { file: 'instance.schema.json', topic: '<base>/instance', schema: instanceInfoSchema, title: 'earshot instance', description: 'Retained, QoS 1: which installation runs this device id (installation id, client id, host, version, start time). A starting daemon refuses a device id another installation is online under.' },
  { file: 'listening.schema.json', topic: '<base>/listening', schema: listeningSchema, title: 'earshot listening', description: 'Retained, QoS 1: the bare string ON or OFF (NOT JSON-quoted on the wire): whether the daemon processes audio. Commands: non-retained ON/OFF on <base>/listening/set.' },
  { file: 'notice.schema.json', topic: '<base>/notice', schema: noticeSchema, title: 'earshot notice', description: 'Retained, QoS 1: plain text (NOT JSON) for signage, from privacy.notice; empty clears it.' },
  { file: 'fence.schema.json', topic: '<base>/fence', schema: fenceSchema, title: 'earshot fence', description: 'Not retained: plain text the daemon publishes to itself after subscribing, to know its retained topics have arrived. Consumers ignore it.' },
  { file: 'ha-discovery-config.schema.json', topic: 'homeassistant/device/earshot_<deviceId>/config', schema: haDiscoveryConfigSchema, title: 'earshot Home Assistant device discovery config', description: 'Retained: the whole device in one Home Assistant MQTT device discovery message (Home Assistant 2024.11+, https://www.home-assistant.io/integrations/mqtt/#device-discovery-payload): dev, o, the availability every component shares, and cmps, the components by id (a component with its platform p alone is being removed). Republished when Home Assistant announces online. On the first start after earshot 0.1, the old per-entity configs under homeassistant/<component>/earshot_<deviceId>/<entity>/config get {"migrate_discovery":true} (non-retained) before it and an empty retained payload after it.' },
] as const;

/** Every schema document as the text committed under schemas/. */
export function generateSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of PAYLOADS) {
    const { $schema, ...body } = z.toJSONSchema(p.schema, { target: 'draft-2020-12' }) as Record<string, unknown>;
    const doc = { $schema, $id: p.file, title: p.title, description: p.description, 'x-earshot-topic': p.topic, ...body };
    out.set(p.file, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, text] of generateSchemas()) {
    const path = join(SCHEMAS_DIR, file);
    let old = '';
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      /* new file */
    }
    if (old === text) continue;
    stale++;
    if (check) console.error(`schemas/${file} is stale: run node --import tsx scripts/schemas.ts`);
    else {
      writeFileSync(path, text);
      console.log(`wrote schemas/${file}`);
    }
  }
  process.exit(check && stale > 0 ? 1 : 0);
}
