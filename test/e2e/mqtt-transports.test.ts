// The publisher's transports (src/runtime/publish/mqtt-connect.ts), each in a fresh process: over
// mqtt:// and mqtts:// it connects without loading mqtt.js's WebSocket transport (the `ws`
// package, about 1.5 MB of private memory); over ws:// it loads it and connects.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmbeddedBroker } from '../../src/daemon/broker/embedded-broker.ts';
import { startMosquitto, makeTestCertificates } from '../helpers/mosquitto.ts';

const run = promisify(execFile);

async function transport(url: string, ca?: string): Promise<{ connected: boolean; ws: boolean }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/helpers/publisher-transport.ts', url, ...(ca ? [ca] : [])], { timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

test('mqtt:// and ws:// to the embedded broker: only ws:// loads the WebSocket transport', async () => {
  const broker = await startEmbeddedBroker({ port: 0, wsPort: 0 });
  try {
    assert.equal(await transport(broker.url), { connected: true, ws: false });
    assert.equal(await transport(broker.wsUrl!), { connected: true, ws: true });
  } finally {
    await broker.close();
  }
});

test('mqtts:// to Mosquitto with the configured CA connects without the WebSocket transport', async () => {
  const certs = makeTestCertificates();
  const broker = await startMosquitto({ tls: certs });
  try {
    assert.equal(await transport(broker.url, certs.ca), { connected: true, ws: false });
  } finally {
    await broker.stop();
  }
});

test.run();
