/**
 * JSON Schemas (draft 2020-12) of every payload earshot publishes, generated from the zod schemas
 * in src/runtime/publish/payloads.ts (zod 4's z.toJSONSchema), so the wire contract is written
 * once. Committed under schemas/; test/schemas.test.ts checks the committed files equal this
 * output and that payloads captured from a real run validate against them.
 *
 *   node --import tsx scripts/schemas.ts          rewrites schemas/*.schema.json
 *   node --import tsx scripts/schemas.ts --check  exits 1 when a committed file is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { emotionEventSchema, emotionStateSchema, haDiscoveryConfigSchema, metricsSchema, statusSchema } from '../src/runtime/publish/payloads.ts';
import { ROOT } from '../src/core/paths.ts';

export const SCHEMAS_DIR = join(ROOT, 'schemas');

/** file name, topic, and what it says; `schema` is the zod schema the daemon's payload type is pinned to. */
export const PAYLOADS = [
  { file: 'emotion-state.schema.json', topic: '<base>/emotion', schema: emotionStateSchema, title: 'earshot emotion state', description: 'Retained, QoS 1: the current (smoothed) emotion state of one device. <base> is earshot/<deviceId> by default.' },
  { file: 'emotion-event.schema.json', topic: '<base>/events', schema: emotionEventSchema, title: 'earshot emotion event', description: 'Not retained, QoS 1, at least once and in order (dedupe by id): one event per classified utterance or window. label is `uncertain` below the daemon\'s pipeline.uncertainBelow.' },
  { file: 'metrics.schema.json', topic: '<base>/metrics', schema: metricsSchema, title: 'earshot metrics', description: 'Not retained, QoS 0, every metrics.intervalSec: health of the daemon.' },
  { file: 'status.schema.json', topic: '<base>/status', schema: statusSchema, title: 'earshot status', description: 'Retained, QoS 1: the bare string online or offline (NOT JSON-quoted on the wire; validate the payload text as a string). offline is also the last will.' },
  { file: 'ha-discovery-config.schema.json', topic: 'homeassistant/sensor/<deviceId>_emotion/config, homeassistant/sensor/<deviceId>_emotion_confidence/config', schema: haDiscoveryConfigSchema, title: 'earshot Home Assistant discovery config', description: 'Retained: Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery), republished when Home Assistant announces online.' },
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
