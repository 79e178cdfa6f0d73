/**
 * `earshot run`: the daemon. This file owns the process: it validates the whole configuration
 * before anything is opened (a bad config exits non-zero listing every error), builds the
 * EarshotDaemon, and turns SIGTERM/SIGINT, the end of a file or stdin, and fatal errors into one
 * orderly shutdown bounded by a hard deadline (shutdownTimeoutMs), then exits.
 */
import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summaryOf } from './index.ts';
import { SOURCE_FORMS } from '../runtime/capture/parse-source.ts';
import type { DaemonConfig, FlagValues } from '../daemon/config.ts';
import { DEMO_SOURCE } from '../daemon/config-constants.ts';
import { loadDaemonConfigIsolated } from '../daemon/config-isolated.ts';
import { lockStateDir } from '../daemon/state-lock.ts';
import { redactArgv, redactUrl } from '../core/redact.ts';
import { createLogger, type Logger } from '../daemon/logger.ts';
import { demoHeader, demoSummary, resolveFormat } from '../daemon/text-output.ts';
import type { EmotionEvent } from '../runtime/publish/payloads.ts';
import { baseTopicOf } from '../runtime/publish/config.ts';
import { EXIT, exitStatusOf, isEarshotError } from '../core/errors.ts';
import { whenStdoutCloses } from '../core/stdout-closed.ts';

interface RunFlags extends FlagValues {
  config?: string;
  printConfig?: boolean;
  printEnv?: boolean;
  printTemplate?: boolean;
}

const collect = (v: string, all: string[] = []) => [...all, v];

/** The config with secrets masked, for --print-config and the startup log. */
export function redacted(c: DaemonConfig): DaemonConfig {
  return {
    ...c,
    mqtt: { ...c.mqtt, url: redactUrl(c.mqtt.url), ...(c.mqtt.password !== undefined ? { password: '***' } : {}) },
    embeddedBroker: { ...c.embeddedBroker, ...(c.embeddedBroker.password !== undefined ? { password: '***' } : {}) },
    dashboard: { ...c.dashboard, ...(c.dashboard.token !== undefined ? { token: '***' } : {}) },
  };
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(summaryOf('run'))
    .option('-c, --config <file>', 'YAML or JSON config file (also $EARSHOT_CONFIG)')
    .option('--source <spec>', `where audio comes from (default: portaudio, the default input):\n${[...SOURCE_FORMS, 'demo                         the bundled clip, once'].join('\n')}`)
    .option('--broker <url>', 'MQTT broker, mqtt://host:1883, mqtts://host:8883, ws://host:9001/mqtt or wss://... (default: an embedded broker on 127.0.0.1:1883); give its password in EARSHOT_MQTT_PASSWORD or the config file, not here (ps shows the command line)')
    .option('--device-id <id>', 'device id in topics and Home Assistant (default: host name)')
    .option('-m, --model <name|path>', 'model name in models/ or path to NAME.json (default: earshot-crnn)')
    .option('--stdout', 'also print every event as one JSON line on stdout (logs go to stderr)')
    .option('--state-dir <dir>', 'directory of the on-disk event queue (default: $STATE_DIRECTORY, /var/lib/earshot as root, else ~/.local/state/earshot)')
    .option('--http-port <port>', '/healthz and /metrics port on 127.0.0.1; 0 = off (default 9464)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info)')
    .option('--log-format <format>', 'text (one readable line each), json, or auto: text on a terminal, JSON when piped (default auto)')
    .option('--demo', 'replay the bundled clip once through the whole pipeline, print the events, exit (on a temporary state directory, removed at exit, unless --state-dir is given)')
    .option('--set <path=value>', 'set any config field, e.g. --set pipeline.mode=window (repeatable)', collect)
    .option('--print-config', 'print the resolved configuration as JSON and exit')
    .option('--print-env', 'list the EARSHOT_* environment variables and the settings they feed, and exit')
    .option('--print-template', 'print a config file with every key and its default, commented out, and exit')
    .action(async (flags: RunFlags) => {
      // the schema's modules load only for these two; the daemon's own config is validated on a
      // worker thread, so they never stay in its memory (config-isolated.ts, issue 32)
      if (flags.printTemplate) {
        process.stdout.write((await import('../daemon/config-template.ts')).configTemplate());
        return;
      }
      if (flags.printEnv) {
        for (const { name, path } of (await import('../daemon/config.ts')).environmentNames()) process.stdout.write(`${name.padEnd(44)} ${path}\n`);
        return;
      }
      // a password typed on the command line shows in `ps` to every user: masked in this process's
      // title at once (from here on /proc/PID/cmdline reads the masked one) and warned about below
      const secrets = redactArgv(process.argv);
      if (secrets.found.length > 0) process.title = secrets.argv.join(' ');
      // everything is validated here, before a device, a port or a file is touched
      const demoDir = flags.demo && !flags.printConfig ? demoStateDir(flags) : undefined;
      const config = await loadDaemonConfigIsolated({ flags: demoDir ? { ...flags, stateDir: demoDir } : flags, env: process.env });
      if (flags.printConfig) {
        process.stdout.write(`${JSON.stringify(redacted(config), null, 2)}\n`);
        return;
      }
      const format = resolveFormat(config.log.format, process.stderr.isTTY);
      // a demo at a terminal shows its header, the events and a summary; routine logs only when asked for
      const quiet = flags.demo && format === 'text' && flags.logLevel === undefined && process.env.EARSHOT_LOG_LEVEL === undefined;
      const log = createLogger({ level: quiet ? 'warn' : config.log.level, format });
      if (secrets.found.length > 0) {
        log.warn(
          { flags: secrets.found },
          `a secret was given on the command line (${secrets.found.join(', ')}), where other users can read it with ps until the process masks it: set EARSHOT_MQTT_PASSWORD (or mqtt.password in the config file) and give --broker without the password`,
        );
      }
      await runDaemon(config, log);
    });
}

/**
 * `--demo` without `--state-dir` (or `--set mqtt.stateDir=`) runs on a fresh temporary state
 * directory, removed when the process exits: the bundled clip's voices must not enter the room's
 * speaker baseline nor its events the queue, and every demo prints the same numbers. Returns that
 * directory, or undefined when one was named. A SIGKILLed demo leaves it in $TMPDIR.
 */
export function demoStateDir(flags: RunFlags): string | undefined {
  if (flags.stateDir !== undefined || (flags.set ?? []).some((s) => s.trim().startsWith('mqtt.stateDir='))) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'earshot-demo-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts the daemon and keeps the process until a signal or the end of input; exits the process. */
export async function runDaemon(config: DaemonConfig, log: Logger): Promise<void> {
  const text = resolveFormat(config.log.format, process.stderr.isTTY) === 'text';
  // the state directory's lock first, before the daemon's modules (the model runtime's native
  // library among them) load: a second daemon on the directory is refused in a fraction of a second
  const stateLock = await lockStateDir(config.mqtt.stateDir);
  const { EarshotDaemon } = await import('../daemon/daemon.ts');
  const daemon = new EarshotDaemon({ config, log, env: process.env, stdoutFormat: resolveFormat(config.log.format, process.stdout.isTTY), lockStateDir: async () => stateLock });
  // a demo at a terminal: a short header before, a summary after (instead of the config line)
  const demo = config.capture.source === DEMO_SOURCE && text;
  const seen: EmotionEvent[] = [];
  const t0 = Date.now();
  if (demo) daemon.on('result', (_r, e) => seen.push(e));
  let exiting = false;
  const shutdown = async (reason: string, code: number) => {
    if (exiting) {
      log.warn({ reason }, 'already shutting down');
      return;
    }
    exiting = true;
    // the hard deadline: whatever still hangs, the process leaves; undelivered events are on disk
    setTimeout(() => {
      log.error({ reason, deadlineMs: config.shutdownTimeoutMs }, 'shutdown deadline reached; exiting now (undelivered events stay in the on-disk queue)');
      process.exit(code);
    }, config.shutdownTimeoutMs).unref();
    await daemon.stop(reason);
    if (demo) process.stderr.write(demoSummary(seen, (Date.now() - t0) / 1000));
    process.exit(code);
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void shutdown(sig, 0));
  whenStdoutCloses(() => void shutdown('stdout closed (its reader went away)', 0));
  process.on('unhandledRejection', (err) => {
    log.error({ err }, 'unhandled rejection (a bug): shutting down');
    void shutdown('unhandled rejection', EXIT.software);
  });
  daemon.once('end', () => void shutdown('end of input', 0));
  daemon.once('fatal', (e) => void shutdown(e.message, exitStatusOf(e)));

  log.info({ config: redacted(config) }, `earshot ${daemon.version} starting`);
  try {
    await daemon.start();
    if (demo) process.stderr.write(demoHeader({ model: config.model, broker: daemon.brokerUrl, embedded: daemon.snapshot().mqtt.embedded, base: baseTopicOf(config.mqtt), source: 'the bundled clip, replayed at real time' }));
  } catch (e) {
    if (!isEarshotError(e)) log.error({ err: e }, 'startup failed');
    else log.error({ code: e.code }, e.message);
    exiting = true;
    // unwind what did start (broker, HTTP, publisher), then let cli.ts print the error
    const stopped = daemon.stop('startup failed');
    setTimeout(() => process.exit(exitStatusOf(e)), config.shutdownTimeoutMs).unref();
    await stopped;
    // a stray handle (a native addon's thread) must not keep a failed start alive
    setTimeout(() => process.exit(process.exitCode ?? exitStatusOf(e)), 200).unref();
    throw e;
  }
}
