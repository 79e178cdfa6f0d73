// Memory a Pi can spare (issue 32, item 3): what the daemon does not use, it does not load. The HTTP
// server, the dashboard and MQTT over WebSockets (`ws`) are imported only when the config turns
// them on, the FLAC decoder only for a FLAC file, and the configuration's schema and YAML parser only on a short-lived worker thread
// (src/daemon/config-isolated.ts), which must give the same config and the same errors as
// validation in-process. Module loading is observed with a resolve hook in a child process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDaemonConfig } from '../../src/daemon/config.ts';
import { loadDaemonConfigIsolated } from '../../src/daemon/config-isolated.ts';
import { isEarshotError } from '../../src/core/errors.ts';

const ROOT = new URL('../../', import.meta.url);

/** Every module URL resolved while a child process imports `modules` (tsx loads the TypeScript). */
function modulesLoadedBy(modules: string[], then = ''): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-lazy-'));
  const log = join(dir, 'resolved.txt');
  try {
    const hook = `import { appendFileSync } from 'node:fs';
export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }`;
    const imports = modules.map((m, i) => `const m${i} = await import(${JSON.stringify(new URL(m, ROOT).href)});`).join('\n');
    const script = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
${imports}
${then}`;
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' }, timeout: 60_000 });
    return readFileSync(log, 'utf8').trim().split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const OPTIONAL = [/\/src\/daemon\/http\.ts$/, /\/src\/daemon\/dashboard\//, /\/src\/daemon\/broker\/broker-websocket\.ts$/, /\/node_modules\/ws\//, /\/node_modules\/@wasm-audio-decoders\//, /\/src\/runtime\/audio\/flac/];
const SCHEMA = [/\/src\/daemon\/config\.ts$/, /\/src\/daemon\/config-template\.ts$/, /\/node_modules\/yaml\//];
const matching = (urls: string[], patterns: RegExp[]) => urls.filter((u) => patterns.some((p) => p.test(u)));

test('the daemon and `earshot run` load neither the HTTP/dashboard/WebSocket modules nor the config schema until asked', () => {
  const urls = modulesLoadedBy(['src/daemon/daemon.ts', 'src/commands/run.ts', 'src/daemon/broker/embedded-broker.ts']);
  assert.ok(urls.some((u) => u.endsWith('/src/daemon/daemon.ts')), 'the hook saw the daemon load');
  assert.equal(matching(urls, OPTIONAL), [], 'optional parts loaded at import');
  assert.equal(matching(urls, SCHEMA), [], 'the config schema or yaml loaded in the main thread');
});

test('an embedded broker with wsPort loads ws; without it, not (the check above can fail)', () => {
  const start = `const b = await m0.startEmbeddedBroker({ port: 0, wsPort: 0 }); await b.close();`;
  const urls = modulesLoadedBy(['src/daemon/broker/embedded-broker.ts'], start);
  assert.ok(matching(urls, OPTIONAL).some((u) => u.includes('/node_modules/ws/')), 'ws was not loaded for wsPort');
  const plain = modulesLoadedBy(['src/daemon/broker/embedded-broker.ts'], `const b = await m0.startEmbeddedBroker({ port: 0 }); await b.close();`);
  assert.equal(matching(plain, OPTIONAL), []);
});

test('the config from the worker thread equals in-process validation (file, env, flags)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-cfg-'));
  try {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'pipeline:\n  mode: window\n  vad:\n    thresholdDb: 12\nhttp:\n  port: 0\nlog:\n  level: debug\n');
    const input = { flags: { config: file, source: 'demo', set: ['metrics.intervalSec=5'] }, env: { EARSHOT_MQTT_URL: 'mqtt://127.0.0.1:1884' } };
    const isolated = await loadDaemonConfigIsolated(input);
    assert.equal(isolated, loadDaemonConfig(input));
    assert.is(isolated.pipeline.mode, 'window');
    assert.is(isolated.embeddedBroker.enabled, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad config: the same error, code and `did you mean` from the worker thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-cfg-'));
  try {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'mqtt:\n  urll: mqtt://broker:1883\nhttp:\n  prot: 8080\npipeline:\n  queueDepth: -1\n');
    const input = { flags: { config: file }, env: { EARSHOT_LOG_LEVLE: 'debug' } };
    let inProcess: Error | undefined;
    try {
      loadDaemonConfig(input);
    } catch (e) {
      inProcess = e as Error;
    }
    const isolated = await loadDaemonConfigIsolated(input).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(inProcess && isolated, 'both refuse it');
    assert.ok(isEarshotError(isolated) && isEarshotError(inProcess));
    assert.is(isolated.code, inProcess.code);
    assert.is(isolated.message, inProcess.message);
    assert.match(isolated.message, /did you mean/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
