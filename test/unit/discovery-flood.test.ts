// A flood of Home Assistant `online` announcements (homeassistant/status) used to cost three
// retained QoS 1 publishes each: 20,000 of them gave 60,004 publishes and +92 MB. Now they are
// folded into one republish at most every 5 s. Real Mosquitto, real publisher.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connectAsync } from 'mqtt';
import { parsePublisherConfig } from '../../src/runtime/publish/config.ts';
import { MqttPublisher } from '../../src/runtime/publish/publisher.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-flood-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('20,000 homeassistant/status online messages: fewer than 100 republishes, memory flat, HA still answered', async () => {
  const broker = await startMosquitto();
  const pub = new MqttPublisher({ config: parsePublisherConfig({ url: broker.url, deviceId: 'flood', stateDir: tmp, reconnectMinMs: 50, reconnectMaxMs: 100 }) });
  const sub = await connectAsync(broker.url, { protocolVersion: 4 });
  const flooder = await connectAsync(broker.url, { protocolVersion: 4 });
  try {
    await pub.start();
    let configs = 0;
    sub.on('message', (topic) => void (topic.endsWith('/config') && configs++));
    await sub.subscribeAsync('homeassistant/device/#', { qos: 1 });
    await sleep(300);
    const retainedAtStart = configs; // the retained device discovery config: one republish sends it again
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const t0 = Date.now();
    for (let i = 0; i < 20_000; i++) {
      flooder.publish('homeassistant/status', 'online', { qos: 0 });
      if (i % 500 === 0) await sleep(1);
    }
    await flooder.publishAsync('homeassistant/status', 'online', { qos: 1 }); // all delivered before this one's PUBACK
    await sleep(1500); // the trailing republish (500 ms after the last online)
    const floodMs = Date.now() - t0;
    const republishes = (configs - retainedAtStart) / retainedAtStart;
    const grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
    console.log(`  20,000 announcements in ${floodMs} ms: ${republishes} republishes, RSS +${grew.toFixed(1)} MB`);
    assert.ok(retainedAtStart > 0, 'the sensors were announced at start');
    assert.ok(republishes >= 1, 'Home Assistant was answered at least once');
    assert.ok(republishes < 100, `${republishes} republishes for 20,000 announcements in ${floodMs} ms`);
    assert.ok(republishes <= 2 + floodMs / 5000, `${republishes} republishes in ${floodMs} ms: more than one per 5 s`);
    assert.ok(grew < 40, `RSS grew by ${grew.toFixed(0)} MB`);
  } finally {
    await pub.stop();
    await sub.endAsync(true);
    await flooder.endAsync(true);
    await broker.stop();
  }
});

test.run();
