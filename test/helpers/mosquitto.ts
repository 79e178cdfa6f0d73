/**
 * A real Mosquitto for tests: /usr/sbin/mosquitto with a generated config in a temp dir, listening
 * on a free 127.0.0.1 port. `user root` lets it run as root without dropping to the `mosquitto`
 * user (who could not write our temp dir). `restart()` brings it back on the same port;
 * with `persistence: true` it saves retained messages and persistent sessions on stop
 * (SIGTERM) and loads them on restart, like a production broker.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/core/net.ts';

export { freePort };

export interface Mosquitto {
  url: string;
  port: number;
  /** Stop the broker (SIGTERM, SIGKILL after 3 s). Its temp dir goes when the test process exits. */
  stop(): Promise<void>;
  /** Start it again on the same port (after stop() or while running). */
  restart(): Promise<void>;
  /** Everything mosquitto logged, for failure messages. */
  log(): string;
}


function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// One exit hook for every broker and temp dir of this process (one per broker would trip
// Node's MaxListeners warning in a long test file).
const atExit: (() => void)[] = [];
process.once('exit', () => atExit.forEach((f) => f()));
// A test run killed from outside must not leave brokers behind (exit hooks do not run on signals).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)));

/** PEM files of a throwaway CA and a server certificate for 127.0.0.1 signed by it. */
export interface TestCertificates { ca: string; cert: string; key: string }

/** Makes a CA and a 127.0.0.1 server certificate with openssl (EC P-256: fast to generate). */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-tls-'));
  atExit.push(() => rmSync(dir, { recursive: true, force: true }));
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  const steps = [
    ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=earshot test CA'],
    ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1'],
    ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('san.ext')],
  ];
  for (const args of steps) {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  }
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

export async function startMosquitto(opts: { port?: number; persistence?: boolean; tls?: TestCertificates } = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-mosquitto-'));
  const port = opts.port ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  const logFile = join(dir, 'mosquitto.log');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      `persistence ${opts.persistence ? 'true' : 'false'}`,
      `persistence_location ${dir}/`,
      'user root',
      `log_dest file ${logFile}`,
      'log_type all',
      'max_queued_messages 100000',
      ...(opts.tls ? [`cafile ${opts.tls.ca}`, `certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`] : []),
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  atExit.push(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const launch = async () => {
    const proc = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    child = proc;
    const t0 = Date.now();
    while (Date.now() - t0 < 5000) {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode}: ${stderr}`);
      if (await portAccepts(port)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    proc.kill('SIGKILL');
    throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within 5 s: ${stderr}`);
  };

  const halt = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    port,
    stop: halt,
    restart: async () => {
      await halt();
      await launch();
    },
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
}
