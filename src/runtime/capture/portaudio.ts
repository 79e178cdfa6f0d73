/**
 * Capture through PortAudio (naudiodon). naudiodon is a native addon, loaded lazily so that a
 * machine where it does not load (no build, or on arm64 a bundled x86-64 libportaudio: "wrong ELF
 * class") can still capture with arecord; createSource() makes that fallback and logs it.
 */
import { createRequire } from 'node:module';
import { EarshotError } from '../../core/errors.ts';
import { CaptureSourceBase, type SourceContext } from './base.ts';
import type { CaptureTiming } from './source.ts';

/** The part of naudiodon's DeviceInfo we use. */
export interface PortAudioDevice {
  readonly id: number;
  readonly name: string;
  readonly maxInputChannels: number;
  readonly defaultSampleRate: number;
  readonly hostAPIName: string;
}

/** The part of naudiodon's read stream we use. */
export interface PortAudioInput {
  start(): void;
  quit(callback?: () => void): void;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
}

export interface PortAudioInputOptions {
  channelCount: number;
  sampleFormat: 16;
  sampleRate: number;
  deviceId: number;
  closeOnError: boolean;
  framesPerBuffer?: number;
}

export interface PortAudioModule {
  getDevices(): PortAudioDevice[];
  AudioIO: new (options: { inOptions: PortAudioInputOptions }) => PortAudioInput;
}

export type LoadPortAudio = () => Promise<PortAudioModule>;

/**
 * A loader for naudiodon as resolved from `resolveFrom` (a file URL or path; default: this module),
 * loaded on first call and cached. Rejects with E_CAPTURE saying why: not installed, built for
 * another CPU, or libportaudio missing.
 */
export function createNaudiodonLoader(resolveFrom: string = import.meta.url): LoadPortAudio {
  let cached: Promise<PortAudioModule> | null = null;
  return () => {
    cached ??= (async () => {
      try {
        // createRequire: naudiodon is CommonJS with a native addon; require() gives its exports object as is.
        const requireHere = createRequire(resolveFrom);
        const mod = requireHere('naudiodon') as PortAudioModule;
        quietCrashFile(createRequire(requireHere.resolve('naudiodon')));
        return mod;
      } catch (e) {
        cached = null;
        const why = (e as Error).message.split('\n')[0];
        const arm = 'on arm64 run `bash scripts/portaudio-arm64.sh` to build it against the system libportaudio (apt-get install libportaudio2 portaudio19-dev)';
        const hint = /Cannot find module/.test(why)
          ? `naudiodon is not installed (its native build fails on arm64); ${arm}`
          : /ELF|wrong format|cannot open shared object/i.test(why)
            ? `its native build does not match this machine; ${arm}`
            : 'rebuild it with `npm rebuild naudiodon`';
        throw new EarshotError('E_CAPTURE', `PortAudio (naudiodon) could not be loaded: ${why}; ${hint}`, { cause: e });
      }
    })();
    return cached;
  };
}

/**
 * naudiodon's index.js installs segfault-handler with `crash.log`, a path relative to the working
 * directory (under systemd `/`, in a checkout the repository). The handler writes every report to
 * stderr as well (segfault-handler.cpp: the header and backtrace_symbols_fd(..., STDERR_FD)), so the
 * report reaches the journal either way; re-registering with /dev/null as its file keeps the report
 * on stderr and leaves the working directory alone. The path is a process-wide static in the addon,
 * so this one call, made right after naudiodon's, covers the whole process.
 */
function quietCrashFile(requireFromNaudiodon: NodeJS.Require): void {
  try {
    (requireFromNaudiodon('segfault-handler') as { registerHandler(path: string): void }).registerHandler('/dev/null');
  } catch {
    // a naudiodon without segfault-handler writes no crash.log either
  }
}

/** The process-wide loader: naudiodon from this package's node_modules. */
export const loadNaudiodon: LoadPortAudio = createNaudiodonLoader();

export interface PortAudioOptions extends CaptureTiming {
  /** device index, or a (case-insensitive) part of its name; default: PortAudio's default input */
  device?: string | number;
  /** Hz */
  sampleRate: number;
}

export interface PortAudioContext extends SourceContext {
  portaudio: PortAudioModule;
}

/** Pick the capture device a --source names. */
export function resolvePortAudioDevice(devices: readonly PortAudioDevice[], wanted: string | number | undefined): PortAudioDevice | null {
  const inputs = devices.filter((d) => d.maxInputChannels > 0);
  if (inputs.length === 0) {
    throw new EarshotError('E_CAPTURE', 'PortAudio found no capture device: plug in a microphone, check `arecord -l`, or use --source file:PATH / stdin:s16le:16000');
  }
  if (wanted === undefined || wanted === '') return null; // PortAudio's default input
  const list = inputs.map((d) => `${d.id} "${d.name}"`).join(', ');
  if (typeof wanted === 'number') {
    const d = inputs.find((x) => x.id === wanted);
    if (!d) throw new EarshotError('E_CAPTURE', `PortAudio has no capture device with index ${wanted}; capture devices are: ${list} (see \`earshot devices\`)`);
    return d;
  }
  const needle = wanted.toLowerCase();
  const d = inputs.find((x) => x.name === wanted) ?? inputs.find((x) => x.name.toLowerCase().includes(needle));
  if (!d) throw new EarshotError('E_CAPTURE', `no PortAudio capture device name contains "${wanted}"; capture devices are: ${list} (see \`earshot devices\`)`);
  return d;
}

export class PortAudioSource extends CaptureSourceBase {
  private readonly pa: PortAudioModule;
  private readonly opts: PortAudioOptions;
  private stream: PortAudioInput | null = null;

  /** `opts.stopGraceMs`: ms to wait for quit() on stop() before giving up on the stream */
  constructor(opts: PortAudioOptions, ctx: PortAudioContext) {
    super(`portaudio:${opts.device ?? ''}`, opts.sampleRate, opts, ctx);
    this.pa = ctx.portaudio;
    this.opts = opts;
  }

  protected noDataHint(): string {
    return 'check the device with `earshot devices`, that the microphone is not muted, and that no other program holds it';
  }

  protected async open(): Promise<void> {
    const device = resolvePortAudioDevice(this.pa.getDevices(), this.opts.device);
    const label = device ? `${device.id} "${device.name}"` : 'the default input';
    let stream: PortAudioInput;
    try {
      stream = new this.pa.AudioIO({
        inOptions: { channelCount: 1, sampleFormat: 16, sampleRate: this.sampleRate, deviceId: device ? device.id : -1, closeOnError: true },
      });
    } catch (e) {
      const rate = device ? ` (its default rate is ${device.defaultSampleRate} Hz)` : '';
      throw new EarshotError('E_CAPTURE', `PortAudio could not open ${label} for mono 16-bit capture at ${this.sampleRate} Hz${rate}: ${(e as Error).message}. Try another rate with @RATE in --source, or an ALSA plug device (plughw:...)`, { cause: e });
    }
    this.stream = stream;
    stream.on('end', () => this.lost('the stream ended'));
    stream.on('error', (e) => this.lost(e.message));
    stream.on('data', (b) => this.assembler.pushPcm(b, 's16le'));
    stream.start();
  }

  protected async close(): Promise<void> {
    const stream = this.stream;
    if (!stream) return;
    this.stream = null;
    await new Promise<void>((resolve) => {
      // Not abort(): Pa_AbortStream joins the callback thread, and a thread stuck in a driver read would
      // then freeze the event loop (seen with an ALSA device whose input never comes). Abandon it instead.
      const t = this.timers.setTimeout(() => {
        this.log.warn(`${this.name}: PortAudio did not quit within ${this.opts.stopGraceMs} ms; abandoning the stream (its audio thread is stuck in the driver)`);
        resolve();
      }, this.opts.stopGraceMs);
      stream.quit(() => {
        this.timers.clearTimeout(t);
        resolve();
      });
    });
  }

  private lost(why: string): void {
    if (this.state !== 'running' && this.state !== 'starting') return;
    this.stream = null;
    if (this.state === 'running') this.condition('device-lost', `${this.name}: ${why}`);
    this.fail(new EarshotError('E_CAPTURE', `${this.name} stopped: ${why}. Check the device is still plugged in (\`earshot devices\`)`));
  }
}
