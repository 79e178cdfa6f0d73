/**
 * Builds a capture source from a --source descriptor. All side effects come in through one
 * context object, so the daemon passes real ones and tests pass a manual clock or fake spawn.
 * A PortAudio source whose native addon will not load becomes an arecord source, with a log line
 * that says so: capture keeps working on a board where naudiodon was built for another CPU.
 * The addon is loaded here only to learn that it loads; the stream itself runs in a worker process.
 */
import type { Readable } from 'node:stream';
import type { SpawnCapture } from './arecord.ts';
import { ArecordSource } from './arecord.ts';
import type { AudioPieces } from '../audio/stream.ts';
import { FileReplaySource, type DecodeAudio } from './file-replay.ts';
import type { SourceDescriptor } from './parse-source.ts';
import { loadNaudiodon, PortAudioSource, type LoadPortAudio } from './portaudio.ts';
import { PortAudioProcessSource, type SpawnWorker } from './portaudio-process.ts';
import { stderrLog, type CaptureLog, type CaptureSource, type CaptureTimers, type CaptureTiming } from './source.ts';
import { StdinSource } from './stdin.ts';
import { CAPTURE_DEFAULTS } from './config.ts';

export interface CaptureContext {
  timers?: CaptureTimers;
  log?: CaptureLog;
  spawn?: SpawnCapture;
  loadPortAudio?: LoadPortAudio;
  decode?: DecodeAudio;
  openAudio?: (path: string) => Promise<AudioPieces>;
  stdin?: Readable;
  /** environment for arecord and PortAudio worker children; default this process's */
  env?: NodeJS.ProcessEnv;
  /**
   * Where a PortAudio stream runs: `worker` (default) in a child process whose stdout is logged, so
   * native chatter never reaches this process's stdout (portaudio-process.ts); `inline` in this one.
   */
  portaudioStream?: 'worker' | 'inline';
  spawnWorker?: SpawnWorker;
}

/** `timing`: the daemon's parsed capture config; the schema's defaults when not given. */
export async function createSource(d: SourceDescriptor, ctx: CaptureContext = {}, timing: CaptureTiming = CAPTURE_DEFAULTS): Promise<CaptureSource> {
  switch (d.kind) {
    case 'file':
      return FileReplaySource.fromFile(d.path, { ...timing, realtime: d.realtime, loop: d.loop }, ctx);
    case 'stdin':
      return new StdinSource({ ...timing, format: d.format, sampleRate: d.sampleRate }, { ...ctx, input: ctx.stdin });
    case 'arecord':
      return new ArecordSource({ ...timing, device: d.device, sampleRate: d.sampleRate, env: ctx.env }, ctx);
    case 'portaudio': {
      let portaudio;
      try {
        portaudio = await (ctx.loadPortAudio ?? loadNaudiodon)();
      } catch (e) {
        // A name can be an ALSA PCM name (PortAudio's ALSA host lists those); an index cannot.
        const device = typeof d.device === 'string' ? d.device : 'default';
        (ctx.log ?? stderrLog).warn(`${(e as Error).message}. Falling back to arecord -D ${device}${typeof d.device === 'number' ? ` (PortAudio index ${d.device} has no ALSA name)` : ''}`);
        return new ArecordSource({ ...timing, device, sampleRate: d.sampleRate, env: ctx.env }, ctx);
      }
      if (ctx.portaudioStream === 'inline') return new PortAudioSource({ ...timing, device: d.device, sampleRate: d.sampleRate }, { ...ctx, portaudio });
      return new PortAudioProcessSource({ ...timing, device: d.device, sampleRate: d.sampleRate, env: ctx.env }, ctx);
    }
  }
}
