// systemd integration. systemd/earshot.service passes `systemd-analyze verify` and stays below
// exposure 3.0 in `systemd-analyze security`, with the directives the design asks for. And
// sd_notify against a real unix datagram socket: a /usr/bin/python3 listener bound to a socket in
// a temp dir (or in the abstract namespace) stands in for systemd (NOTIFY_SOCKET points at it), and
// libsystemd's sd_notify() sends, from this process (the sd-notify addon). Checked: READY with
// MAINPID and STATUS, the watchdog period from WATCHDOG_USEC/WATCHDOG_PID and its cadence on an
// injected clock, a sender that cannot load reported once, and the daemon as a child process:
// READY=1 from the daemon's own pid once audio flows, WATCHDOG=1, STOPPING=1 and exit 0 on SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SdNotifier, systemdNotifySend, type NotifyLog } from '../../src/daemon/sd-notify.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-sdnotify-'));
const children: ChildProcess[] = [];
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** What systemd does with the socket, minus acting on it: print each datagram with the sender's pid from SCM_CREDENTIALS (what NotifyAccess=main checks), and close passed fds. */
const LISTENER = `
import socket, sys, os, json, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(chr(0) + sys.argv[1][1:] if sys.argv[1].startswith("@") else sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(64) + socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = int.from_bytes(payload[0:4], sys.byteorder)
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(payload[:len(payload) - len(payload) % 4])
            for fd in fds: os.close(fd)
    print(json.dumps({"msg": data.decode(), "pid": pid}), flush=True)
`;

interface Listener {
  socket: string;
  messages: string[];
  /** the sending pid of each message (kernel-checked credentials) */
  pids: (number | null)[];
  /** resolves with the first message (from now on, or already received) matching `re` */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  close(): void;
}

let listeners = 0;
async function listen(abstract = false): Promise<Listener> {
  const socket = abstract ? `@earshot-test-${process.pid}-${++listeners}` : join(tmp, `notify-${++listeners}.sock`);
  const py = spawn('/usr/bin/python3', ['-c', LISTENER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(py);
  const messages: string[] = [];
  const pids: (number | null)[] = [];
  const waiters: { re: RegExp; resolve: (m: string) => void }[] = [];
  const lines = createInterface({ input: py.stdout! });
  let ready!: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  lines.on('line', (line) => {
    const o = JSON.parse(line) as { listening?: boolean; msg?: string; pid?: number | null };
    if (o.listening) return ready();
    messages.push(o.msg!);
    pids.push(o.pid ?? null);
    for (const w of [...waiters]) if (w.re.test(o.msg!)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(o.msg!);
    }
  });
  await listening;
  return {
    socket,
    messages,
    pids,
    waitFor(re, timeoutMs = 5000) {
      const seen = messages.find((m) => re.test(m));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no datagram matching ${re} within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)), timeoutMs);
        waiters.push({ re, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    close: () => py.kill(),
  };
}

function recordingLog(): NotifyLog & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, warn: (_o, msg) => void warnings.push(msg) };
}

for (const abstract of [false, true]) {
  test(`READY carries MAINPID and STATUS; STATUS and STOPPING arrive as sent, from this process (${abstract ? 'abstract namespace' : 'socket path'})`, async () => {
    const l = await listen(abstract);
    const n = new SdNotifier({ env: { ...process.env, NOTIFY_SOCKET: l.socket }, pid: 4242, log: recordingLog() });
    assert.ok(n.enabled);
    assert.ok(await n.ready('capturing from file:x'));
    assert.ok(await n.status('capture flatline'));
    assert.ok(await n.stopping('stopping: SIGTERM'));
    assert.is(await l.waitFor(/READY=1/), 'MAINPID=4242\nREADY=1\nSTATUS=capturing from file:x');
    await l.waitFor(/^STATUS=capture flatline$/);
    assert.is(await l.waitFor(/STOPPING=1/), 'STOPPING=1\nSTATUS=stopping: SIGTERM');
    assert.is(n.sent, 3);
    // sent by this process itself, not a child: what NotifyAccess=main accepts
    assert.equal(l.pids, [process.pid, process.pid, process.pid]);
    l.close();
  });
}

test('watchdog period is half of WATCHDOG_USEC, only for our pid, only under systemd', () => {
  const log = recordingLog();
  const at = (env: NodeJS.ProcessEnv) => new SdNotifier({ env, pid: 100, log }).watchdogIntervalMs;
  assert.is(at({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000' }), 15000);
  assert.is(at({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '100' }), 15000);
  assert.is(at({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '101' }), null);
  assert.is(at({ NOTIFY_SOCKET: '/run/x' }), null);
  assert.is(at({ WATCHDOG_USEC: '30000000' }), null);
});

test('without NOTIFY_SOCKET nothing is sent', async () => {
  const sent: string[] = [];
  const n = new SdNotifier({ env: {}, log: recordingLog(), send: (m) => void sent.push(m) });
  assert.not.ok(n.enabled);
  assert.is(await n.ready(), false);
  assert.equal(sent, []);
});

/** A clock the test advances: setInterval callbacks run when their time comes, never on their own. */
function manualClock() {
  let now = 0;
  const timers = new Map<number, { fn: () => void; every: number; next: number }>();
  let ids = 0;
  return {
    setInterval: (fn: () => void, ms: number) => (timers.set(++ids, { fn, every: ms, next: now + ms }), ids),
    clearInterval: (h: unknown) => void timers.delete(h as number),
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.values()].filter((t) => t.next <= until).sort((a, b) => a.next - b.next)[0];
        if (!due) break;
        now = due.next;
        due.next += due.every;
        due.fn();
      }
      now = until;
    },
    get pending() { return timers.size; },
  };
}

test('the watchdog pings every half period while alive() holds, stops when it does not, and stops on stopping()', async () => {
  const clock = manualClock();
  const sent: string[] = [];
  let alive = true;
  const log = recordingLog();
  const n = new SdNotifier({ env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '20000000' }, log, send: (m) => void sent.push(m), ...clock });
  n.startWatchdog(() => alive);
  n.startWatchdog(() => alive); // idempotent: still one timer
  assert.is(clock.pending, 1);
  const pings = () => sent.filter((m) => m === 'WATCHDOG=1').length;
  clock.advance(9999);
  assert.is(pings(), 0, 'no ping before half the period (10 s of 20 s)');
  clock.advance(1);
  assert.is(pings(), 1);
  clock.advance(40000);
  assert.is(pings(), 5, 'one ping per 10 s');
  alive = false;
  clock.advance(30000);
  assert.is(pings(), 5, 'no pings while the pipeline is stuck');
  assert.match(log.warnings.join('\n'), /not pinging the systemd watchdog/);
  alive = true;
  clock.advance(10000);
  assert.is(pings(), 6, 'pings resume when it recovers');
  await n.stopping();
  assert.is(clock.pending, 0, 'stopping() clears the watchdog timer');
  clock.advance(100000);
  assert.is(pings(), 6);
  assert.is(sent.at(-1), 'STOPPING=1\nSTATUS=stopping');
});

test('the fallback for a machine without the addon: systemd-notify children (which NotifyAccess=all must admit)', async () => {
  const l = await listen();
  const n = new SdNotifier({ env: { NOTIFY_SOCKET: l.socket }, pid: 4242, log: recordingLog(), send: systemdNotifySend(l.socket) });
  assert.ok(await n.ready('fallback'));
  assert.is(await l.waitFor(/READY=1/), 'MAINPID=4242\nREADY=1\nSTATUS=fallback');
  assert.is.not(l.pids[0], process.pid, 'sent by a child, not by this process');
  assert.throws(() => systemdNotifySend(l.socket, 'systemd-notify-not-installed')('READY=1'), /ENOENT/);
  l.close();
});

test('a sender that cannot load is reported once and counted, never thrown', async () => {
  const log = recordingLog();
  const send = () => {
    throw new Error("Cannot find module 'sd-notify'");
  };
  const n = new SdNotifier({ env: { NOTIFY_SOCKET: join(tmp, 'none.sock') }, log, send });
  assert.is(await n.ready(), false);
  assert.is(await n.notify(['WATCHDOG=1']), false);
  assert.is(n.failed, 2);
  assert.is(n.sent, 0);
  assert.is(log.warnings.length, 1);
  assert.match(log.warnings[0], /cannot notify systemd \(Cannot find module 'sd-notify'\); rebuild the sd-notify addon/);
});

test('daemon child: READY=1 once audio flows, WATCHDOG=1 every half period, STOPPING=1 and exit 0 on SIGTERM', async () => {
  const l = await listen();
  const child = spawn(
    process.execPath,
    ['bin/earshot.js', 'run', '--source', 'file:assets/demo-angry.flac', '--set', 'capture.loop=true', '--model', 'test/fixtures/models/tiny-lstm.json',
      '--state-dir', join(tmp, 'state'), '--http-port', '0', '--set', 'embeddedBroker.port=0', '--log-level', 'warn'],
    { cwd: ROOT, env: { ...process.env, NOTIFY_SOCKET: l.socket, WATCHDOG_USEC: '400000' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = await l.waitFor(/READY=1/, 15000);
  assert.match(ready, new RegExp(`^MAINPID=${child.pid}\nREADY=1\nSTATUS=capturing from file:`));
  assert.is(l.pids[l.messages.indexOf(ready)], child.pid, 'READY must come from the daemon itself (NotifyAccess=main)');
  // five pings, timed by their arrival: at WATCHDOG_USEC / 2 = 200 ms each (not a count in a fixed sleep)
  const t0 = l.messages.length;
  const start = Date.now();
  const pings = () => l.messages.slice(t0).filter((m) => m === 'WATCHDOG=1').length;
  while (pings() < 5 && Date.now() - start < 15000) await new Promise((r) => setTimeout(r, 10));
  const perPing = (Date.now() - start) / pings();
  assert.ok(pings() >= 5, 'five watchdog pings within 15 s');
  assert.ok(perPing >= 120 && perPing <= 400, `a ping every ${perPing.toFixed(0)} ms; expected about 200 (half of WATCHDOG_USEC)`);
  const t1 = Date.now();
  child.kill('SIGTERM');
  assert.match(await l.waitFor(/STOPPING=1/), /STATUS=stopping: SIGTERM/);
  assert.is(await exit, 0, stderr);
  assert.ok(Date.now() - t1 < 3000, `exit took ${Date.now() - t1} ms`);
  l.close();
});

const UNIT = join(ROOT, 'systemd/earshot.service');

test('systemd/earshot.service passes systemd-analyze verify', () => {
  const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
  assert.is(r.error, undefined, 'systemd-analyze must be installed (apt-get install systemd)');
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr.trim(), '', `verify printed warnings:\n${r.stderr}`);
});

test('systemd/earshot.service is sandboxed: the required directives, and exposure below 3.0', () => {
  const text = readFileSync(UNIT, 'utf8');
  const has = (line: string) => assert.match(text, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), `missing ${line}`);
  for (const line of ['Type=notify', 'NotifyAccess=main', 'User=earshot', 'Group=earshot', 'SupplementaryGroups=audio', 'StateDirectory=earshot', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'Restart=on-failure', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6']) has(line);
  assert.match(text, /^WatchdogSec=\d+$/m);
  assert.match(text, /^MemoryMax=\d+M$/m);
  assert.match(text, /^ExecStart=\/usr\/bin\/node \/usr\/lib\/earshot\/bin\/earshot\.js run --config \/etc\/earshot\/config\.yaml$/m);
  // a bad or missing config, a missing model, bad input: stop with the reason, do not restart forever
  has('RestartPreventExitStatus=64 65 66 78');
  // the stop timeout must leave the daemon its own shutdown deadline (6 s by default)
  assert.ok(Number(/^TimeoutStopSec=(\d+)$/m.exec(text)?.[1]) > 6);
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', UNIT], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const level = Number(/Overall exposure level for earshot\.service: ([\d.]+)/.exec(r.stdout)?.[1]);
  assert.ok(level < 3, `exposure ${level}\n${r.stdout.slice(-3000)}`);
});

test.run();
