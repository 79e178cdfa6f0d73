// The embedded broker's MQTT over WebSockets (src/daemon/broker/broker-websocket.ts): a client
// over ws:// and one over TCP see each other's messages (retained included); a taken WebSocket
// port falls back to a free one instead of costing the TCP broker; no wsPort, no listener; close()
// frees both ports.
import { createServer, type Server } from 'node:net';
import { connect, type MqttClient } from 'mqtt';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { startEmbeddedBroker } from '../../src/daemon/broker/embedded-broker.ts';
import { freePort } from '../helpers/mosquitto.ts';

async function client(url: string): Promise<MqttClient> {
  const c = connect(url, { protocolVersion: 4, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => c.once('connect', () => resolve()).once('error', reject));
  return c;
}

test('ws:// and mqtt:// clients share one broker; a taken WebSocket port falls back to a free one', async () => {
  const wanted = await freePort();
  const squatter: Server = createServer();
  await new Promise<void>((r) => squatter.listen(wanted, '127.0.0.1', () => r()));
  const broker = await startEmbeddedBroker({ port: 0, wsPort: wanted });
  try {
    assert.ok(broker.wsPort && broker.wsPort !== wanted, `fell back from the taken ${wanted} to ${broker.wsPort}`);
    assert.is(broker.wsUrl, `ws://127.0.0.1:${broker.wsPort}`);
    const tcp = await client(broker.url);
    await tcp.publishAsync('earshot/t/emotion', '{"label":"happy"}', { qos: 1, retain: true });
    const ws = await client(broker.wsUrl!);
    const got: string[] = [];
    ws.on('message', (topic, payload) => got.push(`${topic} ${payload}`));
    await ws.subscribeAsync('earshot/#', { qos: 1 });
    await tcp.publishAsync('earshot/t/events', '{"id":"1"}', { qos: 1 });
    const t0 = Date.now();
    while (got.length < 2 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got, ['earshot/t/emotion {"label":"happy"}', 'earshot/t/events {"id":"1"}']);
    const plain = await fetch(`http://127.0.0.1:${broker.wsPort}/`);
    assert.is(plain.status, 426, 'plain HTTP is told to upgrade');
    await ws.endAsync(true);
    await tcp.endAsync(true);
  } finally {
    await broker.close();
    squatter.close();
  }
  // both ports are free again
  const again = await startEmbeddedBroker({ port: broker.port, wsPort: broker.wsPort });
  assert.is(again.wsPort, broker.wsPort);
  await again.close();
  const none = await startEmbeddedBroker({ port: 0 });
  assert.is(none.wsUrl, undefined);
  await none.close();
});

/** The HTTP status of a WebSocket upgrade with these headers (101 when it was accepted). */
function upgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, 'mqtt', { headers });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(-1));
  });
}

test('a web page elsewhere cannot read the broker over WebSockets: a foreign Origin or Host is refused, Node clients and the machine\'s own pages pass', async () => {
  const broker = await startEmbeddedBroker({ port: 0, wsPort: 0 });
  try {
    const url = broker.wsUrl!;
    assert.is(await upgrade(url, {}), 101, 'no Origin: Node-RED, MQTT.js, scripts');
    assert.is(await upgrade(url, { Origin: 'http://127.0.0.1:8080' }), 101, 'the dashboard\'s fleet view on this machine');
    assert.is(await upgrade(url, { Origin: 'http://localhost:1234' }), 101);
    assert.is(await upgrade(url, { Origin: 'http://evil.example' }), 403, 'a page of another site');
    assert.is(await upgrade(url, { Origin: 'file://' }), 101, 'a page opened from disk, as Chromium says it');
    assert.is(await upgrade(url, { Origin: 'null' }), 101, 'a page opened from disk (the example); a sandboxed frame too, the one gap left');
    assert.is(await upgrade(url, { Host: `attacker.example:${broker.wsPort}` }), 403, 'DNS rebinding: the page\'s own name');
    assert.is(await upgrade(url, { Host: `127.0.0.1:${broker.wsPort! + 1}` }), 403, 'another port');
  } finally {
    await broker.close();
  }
});

test.run();
