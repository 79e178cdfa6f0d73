// Every duration and size of `earshot run` has a finite maximum that Node's timers can honour
// (setTimeout fires after 1 ms for anything >= 2^31 ms), and the repro config of the reliability
// issue (../shared/repro/huge-timers.yaml) is refused with every out-of-range field listed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CONFIG_LEAVES, loadDaemonConfig } from '../../src/daemon/config.ts';
import { EarshotError } from '../../src/core/errors.ts';
import { DATA } from '../helpers/paths.ts';

/** Node's timer limit: a delay above a signed 32-bit int of ms is treated as 1 ms. */
const TIMER_MAX_MS = 2 ** 31 - 1;
const REPRO = join(DATA, '..', 'repro', 'huge-timers.yaml');
const reproText = (() => {
  try {
    return readFileSync(REPRO, 'utf8');
  } catch {
    // the repro as filed, for machines without ../shared
    return 'shutdownTimeoutMs: 1e30\ncapture:\n  stallTimeoutMs: 3000000000\n  firstChunkTimeoutMs: 1e20\n  restartBackoffMs: 1e300\n  restartBackoffMaxMs: 1e300\nmetrics:\n  intervalSec: 1e9\nmqtt:\n  reconnectMinMs: 1e15\n  reconnectMaxMs: 1e16\n  connectTimeoutMs: 9007199254740993\n  queue:\n    maxEntries: 1e300\n    maxBytes: 1e300\n';
  }
})();

type NumberLike = { def: { type: string; innerType?: NumberLike }; maxValue?: number | null };
function maxOf(schema: NumberLike): number {
  let s = schema;
  while (s.def.innerType) s = s.def.innerType;
  return s.maxValue ?? Infinity;
}

test('every duration (…Ms, …Sec, …Seconds) fits a Node timer and every size (…Bytes, …Entries) has a finite maximum', () => {
  const checked: string[] = [];
  for (const leaf of CONFIG_LEAVES) {
    if (leaf.kind !== 'number') continue;
    const name = leaf.path.at(-1)!;
    const path = leaf.path.join('.');
    const max = maxOf(leaf.schema as unknown as NumberLike);
    if (/Ms$/.test(name)) assert.ok(max <= TIMER_MAX_MS, `${path}: max ${max} ms does not fit a timer`);
    else if (/(Sec|Seconds)$/.test(name)) assert.ok(max * 1000 <= TIMER_MAX_MS, `${path}: max ${max} s does not fit a timer`);
    else if (/(Bytes|Entries|Depth|Window|Threads)$/.test(name)) assert.ok(Number.isFinite(max), `${path}: no maximum`);
    else continue;
    checked.push(path);
  }
  assert.ok(checked.length >= 20, `only ${checked.length} durations/sizes found: ${checked.join(', ')}`);
});

test('huge-timers.yaml is refused with every field listed, each naming its maximum', () => {
  let message = '';
  try {
    loadDaemonConfig({ flags: { config: '/repro/huge-timers.yaml' }, env: {}, uid: 1000, readFile: () => reproText } as Parameters<typeof loadDaemonConfig>[0]);
  } catch (e) {
    assert.instance(e, EarshotError);
    assert.is((e as EarshotError).code, 'E_CONFIG');
    message = (e as Error).message;
  }
  const fields = ['shutdownTimeoutMs', 'capture.stallTimeoutMs', 'capture.firstChunkTimeoutMs', 'capture.restartBackoffMs', 'capture.restartBackoffMaxMs', 'metrics.intervalSec', 'mqtt.reconnectMinMs', 'mqtt.reconnectMaxMs', 'mqtt.connectTimeoutMs', 'mqtt.queue.maxEntries', 'mqtt.queue.maxBytes'];
  for (const f of fields) assert.match(message, new RegExp(`^\\s*${f.replace(/\./g, '\\.')}: `, 'm'), `${f} is listed in:\n${message}`);
  assert.match(message, /capture\.stallTimeoutMs: .*600000/);
  assert.match(message, /metrics\.intervalSec: .*86400/);
});

test('the maxima themselves are accepted', () => {
  const c = loadDaemonConfig({
    flags: { config: '/max.yaml' }, env: {}, uid: 1000,
    readFile: () => 'shutdownTimeoutMs: 900000\ncapture: { stallTimeoutMs: 600000, restartBackoffMaxMs: 3600000 }\nmetrics: { intervalSec: 86400 }\nmqtt: { reconnectMinMs: 3600000, reconnectMaxMs: 3600000, stopTimeoutMs: 600000, queue: { maxBytes: 268435456, maxEntries: 1000000 } }\n',
  } as Parameters<typeof loadDaemonConfig>[0]);
  assert.is(c.metrics.intervalSec, 86400);
});

test('20,000 unknown keys (YAML and JSON): the first 20 named and the rest counted, in linear time', () => {
  const time = (text: string) => {
    const t0 = performance.now();
    let message = '';
    try {
      loadDaemonConfig({ flags: { config: '/big' }, env: {}, uid: 1000, readFile: () => text } as Parameters<typeof loadDaemonConfig>[0]);
    } catch (e) {
      message = (e as Error).message;
    }
    return { ms: performance.now() - t0, lines: message.split('\n').length - 1, message };
  };
  const yaml = (n: number) => Array.from({ length: n }, (_, i) => `unknownKey${i}: ${i}\n`).join('');
  const json = (n: number) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
  time(yaml(1000)); // warm up
  const y10 = time(yaml(10_000));
  const y20 = time(yaml(20_000));
  const j20 = time(json(20_000));
  // issue 33: a short error (20 named, then a count), not 20,000 lines
  for (const r of [y20, j20]) {
    assert.is(r.lines, 21, r.message.slice(0, 300));
    assert.match(r.message, /and 19980 more unknown settings \(20000 in all; the first 20 are listed\)/);
  }
  // quadratic work quadruples when the keys double; linear doubles (slack for a busy machine)
  assert.ok(y20.ms < 3.2 * y10.ms + 200, `10k keys ${y10.ms.toFixed(0)} ms, 20k keys ${y20.ms.toFixed(0)} ms`);
  assert.ok(y20.ms < 8000 && j20.ms < 8000, `20k keys: YAML ${y20.ms.toFixed(0)} ms, JSON ${j20.ms.toFixed(0)} ms`);
});

test('a key given twice in one mapping is still an error naming it', () => {
  let message = '';
  try {
    loadDaemonConfig({ flags: { config: '/dup.yaml' }, env: {}, uid: 1000, readFile: () => 'mqtt:\n  url: mqtt://a:1883\n  deviceId: x\n  url: mqtt://b:1883\n' } as Parameters<typeof loadDaemonConfig>[0]);
  } catch (e) {
    message = (e as Error).message;
  }
  assert.match(message, /"url" appears twice/);
});

test('__proto__ keys (proto-keys.yaml, JSON, --set) are unknown settings, never real ones, and pollute nothing', () => {
  const proto = 'stdout: false\n__proto__:\n  stdout: true\n  modelThreads: 64\nmqtt:\n  __proto__:\n    password: hunter2\n    deviceId: hidden\n';
  const errorOf = (input: Parameters<typeof loadDaemonConfig>[0]) => {
    try {
      loadDaemonConfig(input);
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  const yamlErr = errorOf({ flags: { config: '/proto.yaml' }, env: {}, uid: 1000, readFile: () => proto } as Parameters<typeof loadDaemonConfig>[0]);
  for (const p of ['__proto__.stdout', '__proto__.modelThreads', 'mqtt.__proto__.password', 'mqtt.__proto__.deviceId']) assert.match(yamlErr, `${p}: unknown setting`);
  const jsonErr = errorOf({ flags: { config: '/proto.json' }, env: {}, uid: 1000, readFile: () => '{"constructor":{"prototype":{"polluted":1}},"__proto__":{"stdout":true}}' } as Parameters<typeof loadDaemonConfig>[0]);
  assert.match(jsonErr, '__proto__.stdout: unknown setting');
  const flagErr = errorOf({ flags: { set: ['__proto__.polluted=1'] }, env: {}, uid: 1000 } as unknown as Parameters<typeof loadDaemonConfig>[0]);
  assert.match(flagErr, '__proto__');
  assert.is(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was polluted');
  assert.is(({} as Record<string, unknown>).stdout, undefined);
});

test.run();
