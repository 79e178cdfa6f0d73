/**
 * Capture through ALSA's `arecord`, run as a supervised child process: it needs nothing but
 * alsa-utils, so it is the backend that always works (and the fallback when PortAudio will not load).
 * raw S16_LE mono on stdout -> fixed-size Float32 chunks. stop() sends SIGINT (arecord closes the
 * device cleanly), then SIGKILL after a grace period. The child dying on its own is `device-lost`.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { EarshotError } from '../../core/errors.ts';
import { CaptureSourceBase, type SourceContext } from './base.ts';
import type { CaptureTiming } from './source.ts';

/** The part of a ChildProcess this source uses. */
export interface CaptureChild {
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  readonly pid?: number;
  kill(signal?: NodeJS.Signals): boolean;
  once(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
}

export type SpawnCapture = (
  command: string,
  args: readonly string[],
  options: { stdio: ['ignore', 'pipe', 'pipe']; env?: NodeJS.ProcessEnv },
) => CaptureChild;

export const realSpawn: SpawnCapture = (command, args, options) => nodeSpawn(command, args, options);

export interface ArecordOptions extends CaptureTiming {
  /** ALSA PCM name as `arecord -L` lists it; default `default` */
  device?: string;
  /** Hz */
  sampleRate: number;
  /** the arecord binary; default `arecord` on PATH */
  command?: string;
  /** environment for the child (ALSA_CONFIG_PATH in tests); default this process's */
  env?: NodeJS.ProcessEnv;
}

export interface ArecordContext extends SourceContext {
  spawn?: SpawnCapture;
}

/** keep only the end of arecord's stderr: the cause is in its last lines */
const STDERR_KEEP = 2000;

export class ArecordSource extends CaptureSourceBase {
  readonly device: string;
  private readonly spawnChild: SpawnCapture;
  private readonly opts: ArecordOptions;
  private child: CaptureChild | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stderrText = '';

  /** `opts.stopGraceMs`: ms between SIGINT and SIGKILL on stop() */
  constructor(opts: ArecordOptions, ctx: ArecordContext = {}) {
    const device = opts.device || 'default';
    super(`arecord:${device}`, opts.sampleRate, opts, ctx);
    this.device = device;
    this.opts = opts;
    this.spawnChild = ctx.spawn ?? realSpawn;
  }

  /** The exact command line, for logs and error messages. */
  get args(): string[] {
    return ['-D', this.device, '-f', 'S16_LE', '-c', '1', '-r', String(this.sampleRate), '-t', 'raw', '-q'];
  }

  protected noDataHint(): string {
    const err = this.stderrSummary();
    return `arecord ${this.args.join(' ')} printed ${err ? `"${err}"` : 'nothing'}; list devices with \`earshot devices\` and check the microphone is not muted (alsamixer)`;
  }

  protected async open(): Promise<void> {
    const command = this.opts.command ?? 'arecord';
    const child = this.spawnChild(command, this.args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.opts.env });
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        resolve();
        const hint = err.code === 'ENOENT' ? `${command} is not installed: install alsa-utils (apt-get install alsa-utils) or use --source portaudio:` : err.message;
        this.fail(new EarshotError('E_CAPTURE', `could not run ${command} for ${this.name}: ${hint}`, { cause: err }));
      });
      child.once('close', (code, signal) => {
        resolve();
        this.childExited(code, signal);
      });
    });
    // arecord's stderr (its own messages and libasound's `ALSA lib` lines) is kept for the error
    // message, and logged at debug level only (--log-level debug)
    let partial = '';
    const debugLines = (text: string, end: boolean) => {
      if (!this.log.debug) return;
      const parts = (partial + text).split('\n');
      partial = end ? '' : parts.pop()!;
      for (const line of parts) if (line.trim()) this.log.debug(`${this.name}: ${line}`);
    };
    child.stderr?.on('data', (b: Buffer) => {
      const text = b.toString('utf8');
      this.stderrText = (this.stderrText + text).slice(-STDERR_KEEP);
      debugLines(text, false);
    });
    child.stderr?.on('end', () => debugLines('', true));
    child.stdout?.on('data', (b: Buffer) => this.assembler.pushPcm(b, 's16le'));
  }

  protected async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    let killTimer: unknown = null;
    // SIGINT lets arecord drain and close the PCM; a wedged driver may ignore it, hence SIGKILL.
    if (child.kill('SIGINT')) {
      killTimer = this.timers.setTimeout(() => {
        this.log.warn(`arecord (pid ${child.pid}) ignored SIGINT for ${this.opts.stopGraceMs} ms; sending SIGKILL`);
        child.kill('SIGKILL');
      }, this.opts.stopGraceMs);
    }
    await this.exited;
    this.timers.clearTimeout(killTimer);
  }

  private childExited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'stopped' || this.state === 'idle') return;
    this.child = null;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const err = this.stderrSummary();
    const detail = `arecord ${how}${err ? `: ${err}` : ''}`;
    if (this.state === 'running') this.condition('device-lost', `${this.name}: ${detail}`);
    this.fail(new EarshotError('E_CAPTURE', `${this.name} stopped: ${detail}. Check the device name with \`earshot devices\` (ALSA names as in \`arecord -L\`, e.g. plughw:1,0) and that no other program holds it`));
  }

  private stderrSummary(): string {
    return this.stderrText.trim().split('\n').slice(-3).join(' | ');
  }
}
