// Run in a child process by test/e2e/mqtt-transports.test.ts: starts the daemon's MQTT publisher
// against argv[2] (argv[3]: a CA file for mqtts://), and prints whether it connected and which
// transport modules this fresh process loaded to do it.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MqttPublisher } from '../../src/runtime/publish/publisher.ts';
import { parsePublisherConfig } from '../../src/runtime/publish/config.ts';

const [url, ca] = process.argv.slice(2);
const stateDir = mkdtempSync(join(tmpdir(), 'earshot-transport-'));
const quiet = () => {};
const publisher = new MqttPublisher({
  config: parsePublisherConfig({ url, deviceId: 'transport', stateDir, connectTimeoutMs: 2000, stopTimeoutMs: 2000, ...(ca ? { tls: { ca } } : {}) }),
  log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
});
await publisher.start();
const loaded = Object.keys(createRequire(import.meta.url).cache);
const has = (pkg: string) => loaded.some((k) => k.includes(`/node_modules/${pkg}/`));
console.log(JSON.stringify({ connected: publisher.connected, ws: has('ws') }));
await publisher.stop();
rmSync(stateDir, { recursive: true, force: true });
