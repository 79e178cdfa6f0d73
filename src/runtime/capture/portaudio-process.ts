/**
 * PortAudio capture with the stream in a child process (portaudio-worker.ts), which is how the
 * daemon captures from `--source portaudio:`. Why a process: naudiodon's native code prints to file
 * descriptor 1 when a stream opens, and in `--stdout` mode every byte there must be an event line;
 * in the worker, fd 1 is a pipe this source reads and logs. A crash in the driver kills the worker,
 * not the daemon: it becomes `device-lost` and the capture supervisor restarts capture.
 * Supervised like arecord: stop() closes the IPC channel (the worker quits the stream), SIGKILL after a grace.
 */
import { spawn } from 'node:child_process';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { EarshotError } from '../../core/errors.ts';
import { CaptureSourceBase, type SourceContext } from './base.ts';
import type { PortAudioOptions } from './portaudio.ts';
import type { WorkerMessage, WorkerRequest } from './portaudio-worker.ts';

/** The part of a ChildProcess this source uses (stdio: ignore, pipe, pipe, pipe, ipc). */
export interface WorkerChild {
  readonly stdio: readonly unknown[];
  readonly pid?: number;
  readonly connected: boolean;
  disconnect(): void;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'message', listener: (m: WorkerMessage) => void): this;
  once(event: 'close' | 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
}

export type SpawnWorker = (req: WorkerRequest, env: NodeJS.ProcessEnv | undefined) => WorkerChild;

/** The worker beside this module: compiled JavaScript as installed, TypeScript through tsx in a checkout's tests. */
export const spawnPortAudioWorker: SpawnWorker = (req, env) => {
  const self = fileURLToPath(import.meta.url);
  const ext = extname(self);
  const entry = join(dirname(self), `portaudio-worker${ext}`);
  const args = [...(ext === '.ts' ? ['--import', 'tsx'] : []), entry, JSON.stringify(req)];
  return spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'ipc'], env, serialization: 'json' }) as unknown as WorkerChild;
};

export interface PortAudioProcessOptions extends PortAudioOptions {
  /** environment for the worker (ALSA_CONFIG_PATH in tests); default this process's */
  env?: NodeJS.ProcessEnv;
}

export interface PortAudioProcessContext extends SourceContext {
  spawnWorker?: SpawnWorker;
}

/** keep only the end of the worker's output: the cause is in its last lines */
const OUTPUT_KEEP = 2000;

export class PortAudioProcessSource extends CaptureSourceBase {
  private readonly opts: PortAudioProcessOptions;
  private readonly spawnWorker: SpawnWorker;
  private child: WorkerChild | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private workerError = '';

  constructor(opts: PortAudioProcessOptions, ctx: PortAudioProcessContext = {}) {
    super(`portaudio:${opts.device ?? ''}`, opts.sampleRate, opts, ctx);
    this.opts = opts;
    this.spawnWorker = ctx.spawnWorker ?? spawnPortAudioWorker;
  }

  protected noDataHint(): string {
    return 'check the device with `earshot devices`, that the microphone is not muted, and that no other program holds it';
  }

  protected async open(): Promise<void> {
    const child = this.spawnWorker({ device: this.opts.device, sampleRate: this.sampleRate }, this.opts.env);
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        resolve();
        this.fail(new EarshotError('E_CAPTURE', `could not start the PortAudio worker for ${this.name}: ${err.message}`, { cause: err }));
      });
      // 'exit' ends a stop() (the pipes may still hold audio nobody wants); 'close' comes once the
      // pipes are drained too, so the worker's last message and output are in by then
      child.once('exit', () => resolve());
      child.once('close', (code, signal) => {
        resolve();
        this.workerExited(code, signal);
      });
    });
    child.on('message', (m) => {
      if ('opened' in m) this.log.info(`${this.name}: PortAudio opened ${m.opened} (stream in worker pid ${child.pid})`);
      else this.workerError = m.error;
    });
    // the worker's fd 1 (PortAudio's printf: version, device) is logged line by line; its fd 2 (ALSA
    // probing every PCM it lists, dozens of lines) is kept for the error message if the worker dies,
    // and logged at debug level only (--log-level debug)
    this.lines(child.stdio[1] as Readable | null, true);
    this.lines(child.stdio[2] as Readable | null, false);
    (child.stdio[3] as Readable | null)?.on('data', (b: Buffer) => this.assembler.pushPcm(b, 's16le'));
  }

  protected async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    // Closing the IPC channel makes the worker quit the stream (it ignores the signals a terminal or
    // systemd send the whole group); one stuck in a driver read may never return, hence SIGKILL.
    if (child.connected) child.disconnect();
    const killTimer = this.timers.setTimeout(() => {
      this.log.warn(`the PortAudio worker (pid ${child.pid}) did not exit within ${this.opts.stopGraceMs} ms of being told to; sending SIGKILL`);
      child.kill('SIGKILL');
    }, this.opts.stopGraceMs);
    await this.exited;
    this.timers.clearTimeout(killTimer);
  }

  private lines(stream: Readable | null, log: boolean): void {
    let partial = '';
    stream?.on('data', (b: Buffer) => {
      const parts = (partial + b.toString('utf8')).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        if (!line.trim()) continue;
        this.output = (this.output + line + '\n').slice(-OUTPUT_KEEP);
        if (log) this.log.info(`${this.name}: ${line}`);
        else this.log.debug?.(`${this.name}: ${line}`);
      }
    });
  }

  private workerExited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'stopped' || this.state === 'idle') return;
    this.child = null;
    const how = this.workerError || (signal ? `the worker was killed by ${signal}` : `the worker exited with code ${code}`);
    const tail = this.workerError ? '' : this.output.trim().split('\n').slice(-3).join(' | ');
    const detail = `${how}${tail ? `: ${tail}` : ''}`;
    if (this.state === 'running') this.condition('device-lost', `${this.name}: ${detail}`);
    this.fail(new EarshotError('E_CAPTURE', `${this.name} stopped: ${detail}. Check the device is still plugged in (\`earshot devices\`)`));
  }
}
