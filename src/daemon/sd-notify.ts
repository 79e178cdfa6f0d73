/**
 * systemd's notify protocol (sd_notify(3)): READY=1 once audio flows, WATCHDOG=1 every half
 * WATCHDOG_USEC, STOPPING=1 on shutdown, STATUS= for `systemctl status`.
 *
 * The protocol is one datagram on the unix socket named by $NOTIFY_SOCKET (a path, or `@name` in the
 * abstract namespace). Node has no unix datagram sockets (dgram is UDP only, net is stream only), so
 * the datagram is sent by libsystemd's own sd_notify() through the `sd-notify` addon (maintained in
 * the systemd GitHub organisation; links -lsystemd, built with libsystemd-dev). It is sent from this
 * process, so the unit can say NotifyAccess=main, and nothing is forked per message: the old
 * `systemd-notify` child had to be attributed to the unit (NotifyAccess=all), and on systemd < 246
 * (JetPack 5) its messages could be dropped when it exited before systemd read them.
 * sd_notify()'s result is not passed back by the addon, so `sent` counts messages handed to it.
 * Where the addon will not load (a package cross-built for another CPU leaves it out, as it does
 * naudiodon), each message falls back to a `systemd-notify` child, which needs NotifyAccess=all
 * (scripts/build-deb.sh writes that into such a package's unit); that is said once in the log.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

/** Sends one message (newline-separated assignments) to $NOTIFY_SOCKET: sd_notify(0, state). */
export type NotifySend = (state: string) => void;

/**
 * The sender of the `sd-notify` addon, loaded on first use. libsystemd reads $NOTIFY_SOCKET from the
 * process environment, so the socket this notifier was configured with is put there first.
 */
export function loadSdNotify(socket: string): NotifySend {
  // throws when the addon is missing or built for another CPU; the caller falls back
  const addon = createRequire(import.meta.url)('sd-notify') as { sendState(state: string): void };
  return (state) => {
    if (process.env.NOTIFY_SOCKET !== socket) process.env.NOTIFY_SOCKET = socket;
    addon.sendState(state);
  };
}

/** The fallback: one `systemd-notify` child per message (MAINPID as --pid). Throws if it fails. */
export function systemdNotifySend(socket: string, command = 'systemd-notify'): NotifySend {
  return (state) => {
    const args = state.split('\n').map((a) => (a.startsWith('MAINPID=') ? `--pid=${a.slice(8)}` : a));
    const r = spawnSync(command, args, { env: { ...process.env, NOTIFY_SOCKET: socket }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 5000 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`${command} exited with ${r.status}: ${r.stderr.trim()}`);
  };
}

export interface NotifyLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SdNotifyContext {
  env: NodeJS.ProcessEnv;
  pid?: number;
  /** how a message is sent; default the sd-notify addon (loadSdNotify), else systemd-notify */
  send?: NotifySend;
  /** the fallback's command; default `systemd-notify` from $PATH */
  fallbackCommand?: string;
  log: NotifyLog;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (handle: unknown) => void;
}

export class SdNotifier {
  /** messages sent successfully, in order (for tests and the shutdown summary) */
  sent = 0;
  failed = 0;
  private readonly socket: string | undefined;
  private readonly pid: number;
  private send: NotifySend | null;
  private watchdogTimer: unknown = null;
  private warned = false;

  constructor(private readonly ctx: SdNotifyContext) {
    this.socket = ctx.env.NOTIFY_SOCKET || undefined;
    this.pid = ctx.pid ?? process.pid;
    this.send = ctx.send ?? null;
  }

  /** True when started by systemd with Type=notify (NOTIFY_SOCKET set). */
  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /**
   * The watchdog ping period: half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; null when
   * the unit has no WatchdogSec or WATCHDOG_PID names another process.
   */
  get watchdogIntervalMs(): number | null {
    const usec = Number(this.ctx.env.WATCHDOG_USEC);
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0) return null;
    const owner = this.ctx.env.WATCHDOG_PID;
    if (owner && Number(owner) !== this.pid) return null;
    return Math.max(1, Math.floor(usec / 2000));
  }

  ready(status?: string): Promise<boolean> {
    return this.notify([`MAINPID=${this.pid}`, 'READY=1', ...(status ? [`STATUS=${status}`] : [])]);
  }

  status(text: string): Promise<boolean> {
    return this.notify([`STATUS=${text}`]);
  }

  stopping(status = 'stopping'): Promise<boolean> {
    this.stopWatchdog();
    return this.notify(['STOPPING=1', `STATUS=${status}`]);
  }

  /** Pings WATCHDOG=1 every half period while `alive()` says so; a wedged daemon stops pinging and systemd restarts it. */
  startWatchdog(alive: () => boolean): void {
    const period = this.watchdogIntervalMs;
    if (period === null || this.watchdogTimer) return;
    const every = this.ctx.setInterval ?? ((fn, ms) => setInterval(fn, ms).unref());
    this.watchdogTimer = every(() => {
      if (alive()) void this.notify(['WATCHDOG=1']);
      else this.ctx.log.warn({ periodMs: period }, 'not pinging the systemd watchdog: the pipeline is stuck (systemd will restart the service)');
    }, period);
  }

  stopWatchdog(): void {
    if (!this.watchdogTimer) return;
    (this.ctx.clearInterval ?? ((h) => clearInterval(h as NodeJS.Timeout)))(this.watchdogTimer);
    this.watchdogTimer = null;
  }

  /** Sends one message (assignments joined by newlines); resolves false if it could not be sent. Never throws. */
  notify(assignments: string[]): Promise<boolean> {
    if (!this.socket) return Promise.resolve(false);
    const msg = assignments.join('\n');
    try {
      this.send ??= this.loadSender(this.socket);
      this.send(msg);
    } catch (e) {
      this.fail(msg, (e as Error).message.split('\n')[0]);
      return Promise.resolve(false);
    }
    this.sent++;
    this.ctx.log.debug({ msg: msg.replace(/\n/g, ' ') }, 'sd_notify');
    return Promise.resolve(true);
  }

  private loadSender(socket: string): NotifySend {
    try {
      return loadSdNotify(socket);
    } catch (e) {
      const command = this.ctx.fallbackCommand ?? 'systemd-notify';
      this.ctx.log.warn(
        { err: (e as Error).message.split('\n')[0] },
        `the sd-notify addon did not load; notifying systemd through ${command} children instead, which needs NotifyAccess=all in the unit (rebuild the addon on this machine: apt-get install libsystemd-dev; npm rebuild sd-notify)`,
      );
      return systemdNotifySend(socket, command);
    }
  }

  private fail(msg: string, why: string): void {
    this.failed++;
    if (this.warned) return;
    this.warned = true;
    this.ctx.log.warn(
      { notifySocket: this.socket, message: msg.replace(/\n/g, ' '), err: why },
      `cannot notify systemd (${why}); rebuild the sd-notify addon on this machine (apt-get install libsystemd-dev; npm rebuild sd-notify), or install systemd for systemd-notify, or run the unit as Type=simple without WatchdogSec. Later failures are only counted`,
    );
  }
}
