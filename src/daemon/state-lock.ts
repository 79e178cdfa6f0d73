/**
 * One daemon per state directory. Two daemons on one directory both append to `queue.jsonl` and
 * `baseline.json` and, with one installation id, share a client id and kick each other off the
 * broker (issue 29). Node has no flock(2); the lock is a listening unix socket in the *abstract*
 * namespace, `\0earshot-state-<sha256 of the directory's real path>`: bind(2) is atomic, the name
 * is the kernel's (no file in the state directory to go stale), and it disappears when the process
 * dies however it dies (SIGKILL, a crash, the OOM killer), so there is no stale-PID guessing.
 * Whoever connects to it gets one JSON line, `{"pid":..,"stateDir":..,"startedAt":..}`, which
 * names the holder in the refusal.
 *
 * Scope: abstract sockets belong to a network namespace, so two daemons in different network
 * namespaces (containers, PrivateNetwork=) sharing one directory are not seen; the systemd unit
 * uses the host's. A local user who binds the name first blocks the daemon (as one who takes its
 * port does); the refusal then names a PID that does not answer or is not earshot.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { EarshotError } from '../core/errors.ts';

/** How long the holder gets to say who it is before the refusal names no PID. */
const HOLDER_ANSWER_MS = 500;

export interface StateLock {
  readonly name: string;
  release(): Promise<void>;
}

/** The abstract socket name for a state directory (after mkdir, so the real path exists). */
export function lockNameOf(stateDir: string): string {
  let real = resolve(stateDir);
  try {
    real = realpathSync(real);
  } catch {
    // not there yet: the resolved path
  }
  return `\0earshot-state-${createHash('sha256').update(real).digest('hex').slice(0, 32)}`;
}

interface Holder {
  pid?: number;
  startedAt?: string;
}

/** Asks the holder of `name` who it is; {} when it does not answer in time (a frozen process, a squatter). */
function askHolder(name: string): Promise<Holder> {
  return new Promise((done) => {
    let text = '';
    const sock = connect(name);
    const finish = (h: Holder) => {
      clearTimeout(timer);
      sock.destroy();
      done(h);
    };
    const timer = setTimeout(() => finish({}), HOLDER_ANSWER_MS);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      text += d;
      if (text.includes('\n') || text.length > 512) {
        try {
          finish(JSON.parse(text.split('\n')[0]) as Holder);
        } catch {
          finish({});
        }
      }
    });
    sock.on('error', () => finish({}));
    sock.on('end', () => finish({}));
  });
}

/**
 * Takes the lock of `stateDir` (made if missing) or throws E_STATE_LOCKED (exit 75, EX_TEMPFAIL)
 * naming the directory and the PID that holds it. Resolves within about half a second either way.
 */
export async function lockStateDir(stateDir: string, startedAt: string = new Date().toISOString()): Promise<StateLock> {
  try {
    mkdirSync(stateDir, { recursive: true });
  } catch {
    // an unusable directory is reported by the stage that writes there, with its own hint
  }
  const name = lockNameOf(stateDir);
  const me = `${JSON.stringify({ pid: process.pid, stateDir: resolve(stateDir), startedAt })}\n`;
  const server: Server = createServer((sock) => {
    sock.on('error', () => undefined);
    sock.end(me);
  });
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(name, () => {
        server.off('error', fail);
        ok();
      });
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw new EarshotError('E_INTERNAL', `cannot take the lock of the state directory ${stateDir}: ${(err as Error).message}`, { cause: err });
    const holder = await askHolder(name);
    const who = holder.pid ? `process ${holder.pid}${holder.startedAt ? ` (running since ${holder.startedAt})` : ''}` : 'a process that does not say which (a frozen earshot?)';
    throw new EarshotError(
      'E_STATE_LOCKED',
      `the state directory ${resolve(stateDir)} is in use by another earshot daemon: ${who}. One daemon per state directory (they would share the event queue and the speaker baseline): stop that one (systemctl stop earshot, or kill ${holder.pid ?? 'PID'}), or give this one its own --state-dir (and --device-id)`,
      { cause: err },
    );
  }
  server.unref(); // the lock never keeps the process alive
  return {
    name,
    release: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
