/**
 * mqtt-packet (the MQTT codec under both `mqtt` and `aedes`) builds, on its first packet, a cache of
 * 65,536 two-byte Buffers, one per 16-bit number it may write (packet ids, string lengths): about
 * 6 MB of V8 heap (65,536 Buffer objects) kept for the life of the process, to save a 2-byte
 * allocation per packet. earshot writes a few packets per utterance, so the daemon turns the cache
 * off through the codec's documented switch `writeToStream.cacheNumbers` (mqtt-packet README,
 * "Number cache"). Measured (issue 32, docs/experiments/2026-12-07-crowds-and-cost.md): the
 * daemon's heap 6 MB smaller, no measurable CPU.
 *
 * The switch lives on the codec module, so it is set on the copy each client library resolves
 * (npm normally installs one, hoisted). Import this module before the first packet is written;
 * publisher.ts and the embedded broker do.
 */
import { createRequire } from 'node:module';

interface MqttPacketModule {
  writeToStream: { cacheNumbers: boolean };
}

const require = createRequire(import.meta.url);

for (const owner of ['mqtt', 'aedes']) {
  try {
    const codec = createRequire(require.resolve(owner))('mqtt-packet') as MqttPacketModule;
    codec.writeToStream.cacheNumbers = false;
  } catch {
    // that library (or its codec) is not installed: nothing of it to configure
  }
}

export const MQTT_NUMBER_CACHE_DISABLED = true;
