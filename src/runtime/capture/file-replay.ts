/**
 * Replays a decoded WAV/FLAC/AIFF file as if it were a microphone: fixed-size chunks, either as
 * fast as the consumer takes them (analysis, tests) or paced at real time (a daemon demo without a
 * sound card), optionally looped. Pacing follows the clock, not a chain of fixed sleeps, so it
 * does not drift: chunk k goes out at start + k * chunk duration.
 */
import { decodeAudioFile, type DecodedAudio } from '../audio/decode.ts';
import { EarshotError } from '../../core/errors.ts';
import { CaptureSourceBase, type SourceContext } from './base.ts';
import type { CaptureTiming } from './source.ts';

export interface FileReplayOptions extends CaptureTiming {
  /** pace chunks at real time; default false (as fast as possible) */
  realtime?: boolean;
  /** start again from the beginning at the end instead of emitting 'end'; default false */
  loop?: boolean;
  /** chunks emitted per event-loop turn when not paced, so stop() and I/O still get a turn; default 16 */
  burstChunks?: number;
}

export type DecodeAudio = (path: string) => Promise<DecodedAudio>;

export interface FileReplayContext extends SourceContext {
  decode?: DecodeAudio;
}

export class FileReplaySource extends CaptureSourceBase {
  private readonly audio: DecodedAudio;
  private readonly opts: FileReplayOptions;
  /** next sample of the file to hand over */
  private pos = 0;
  private samplesOut = 0;
  private startedAt = 0;
  private timer: unknown = null;

  /** Decode `path` and build a replay source at the file's own sample rate. */
  static async fromFile(path: string, opts: FileReplayOptions = {}, ctx: FileReplayContext = {}): Promise<FileReplaySource> {
    const audio = await (ctx.decode ?? decodeAudioFile)(path);
    return new FileReplaySource(path, audio, opts, ctx);
  }

  constructor(readonly path: string, audio: DecodedAudio, opts: FileReplayOptions = {}, ctx: SourceContext = {}) {
    super(`file:${path}`, audio.sampleRate, opts, ctx);
    if (audio.samples.length === 0) {
      throw new EarshotError('E_AUDIO_FORMAT', `${path}: the file holds no samples, so there is nothing to replay; pick a file with audio in it`);
    }
    this.audio = audio;
    this.opts = opts;
  }

  protected noDataHint(): string {
    return 'the replay was not scheduled: is the event loop blocked?';
  }

  protected async open(): Promise<void> {
    this.startedAt = this.timers.now();
    this.pump();
  }

  protected async close(): Promise<void> {
    this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private pump(): void {
    this.timer = null;
    const chunk = this.assembler.chunkSamples;
    const samples = this.audio.samples;
    let budget = this.opts.burstChunks ?? 16;
    while (this.state === 'starting' || this.state === 'running') {
      if (this.opts.realtime) {
        const dueMs = ((this.samplesOut + chunk) / this.sampleRate) * 1000 - (this.timers.now() - this.startedAt);
        // The first chunk goes out at once (start() resolves on it); later ones when their audio has "happened".
        if (this.samplesOut > 0 && dueMs > 0) {
          this.timer = this.timers.setTimeout(() => this.pump(), dueMs);
          return;
        }
      } else if (budget-- <= 0) {
        this.timer = this.timers.setTimeout(() => this.pump(), 0);
        return;
      }
      const end = Math.min(samples.length, this.pos + chunk);
      this.assembler.pushFloat(samples, this.pos, end);
      this.samplesOut += end - this.pos;
      this.pos = end;
      if (this.pos >= samples.length) {
        if (!this.opts.loop) {
          this.finish();
          return;
        }
        this.pos = 0;
      }
    }
  }
}
