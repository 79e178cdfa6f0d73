/**
 * systemd's notify protocol (sd_notify(3)): READY=1 once audio flows, WATCHDOG=1 every half
 * WATCHDOG_USEC, STOPPING=1 on shutdown, STATUS= for `systemctl status`.
 *
 * The protocol is one datagram on the unix socket named by $NOTIFY_SOCKET, and Node has no unix
 * datagram sockets (dgram is UDP only, net is stream only). Rather than a native addon, each
 * message is sent by spawning `systemd-notify` (installed wherever systemd is). Since systemd 246
 * it waits for the service manager to process the message (a BARRIER=1 round trip), so the short-
 * lived sender is still attributed to our unit; the unit needs NotifyAccess=all because the
 * datagram comes from the child's PID, and READY carries MAINPID so systemd knows the daemon.
 * A few spawns a minute (watchdog at WatchdogSec/2) cost nothing measurable.
 */
import { spawn as nodeSpawn } from 'node:child_process';

/** What the notifier needs of child_process.spawn. */
export type SpawnNotify = (command: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; stdio: ['ignore', 'ignore', 'pipe'] }) => {
  stderr: NodeJS.ReadableStream | null;
  on(event: 'exit', fn: (code: number | null) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
};

export interface NotifyLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SdNotifyContext {
  env: NodeJS.ProcessEnv;
  pid?: number;
  spawn?: SpawnNotify;
  log: NotifyLog;
  /** default `systemd-notify` from $PATH */
  command?: string;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (handle: unknown) => void;
}

export class SdNotifier {
  /** messages sent successfully, in order (for tests and the shutdown summary) */
  sent = 0;
  failed = 0;
  private readonly socket: string | undefined;
  private readonly pid: number;
  private readonly spawn: SpawnNotify;
  private readonly command: string;
  private watchdogTimer: unknown = null;
  private warned = false;

  constructor(private readonly ctx: SdNotifyContext) {
    this.socket = ctx.env.NOTIFY_SOCKET || undefined;
    this.pid = ctx.pid ?? process.pid;
    this.spawn = ctx.spawn ?? (nodeSpawn as unknown as SpawnNotify);
    this.command = ctx.command ?? 'systemd-notify';
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
    // systemd-notify takes MAINPID as --pid; everything else as VARIABLE=VALUE arguments
    const args = assignments.map((a) => (a.startsWith('MAINPID=') ? `--pid=${a.slice(8)}` : a));
    return new Promise((resolve) => {
      let stderr = '';
      let child: ReturnType<SpawnNotify>;
      try {
        child = this.spawn(this.command, args, { env: { ...this.ctx.env, NOTIFY_SOCKET: this.socket }, stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (e) {
        this.fail(msg, (e as Error).message);
        resolve(false);
        return;
      }
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (e) => {
        this.fail(msg, e.message);
        resolve(false);
      });
      child.on('exit', (code) => {
        if (code === 0) {
          this.sent++;
          this.ctx.log.debug({ msg: msg.replace(/\n/g, ' ') }, 'sd_notify');
          resolve(true);
        } else {
          this.fail(msg, `exit code ${code}: ${stderr.trim()}`);
          resolve(false);
        }
      });
    });
  }

  private fail(msg: string, why: string): void {
    this.failed++;
    if (this.warned) return;
    this.warned = true;
    this.ctx.log.warn(
      { notifySocket: this.socket, message: msg.replace(/\n/g, ' '), err: why },
      `cannot notify systemd through ${this.command} (${why}); install systemd (it provides systemd-notify) or run the unit as Type=simple without WatchdogSec. Later failures are only counted`,
    );
  }
}
