/**
 * A real Mosquitto for tests: /usr/sbin/mosquitto with a generated config in a temp dir, listening
 * on a free 127.0.0.1 port. `user root` lets it run as root without dropping to the `mosquitto`
 * user (who could not write our temp dir). `restart()` brings it back on the same port;
 * with `persistence: true` it saves retained messages and persistent sessions on stop
 * (SIGTERM) and loads them on restart, like a production broker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
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

export async function startMosquitto(opts: { port?: number; persistence?: boolean } = {}): Promise<Mosquitto> {
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
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  process.once('exit', () => {
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
    url: `mqtt://127.0.0.1:${port}`,
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
