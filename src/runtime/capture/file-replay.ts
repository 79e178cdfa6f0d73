/**
 * Replays a WAV/FLAC/AIFF file as if it were a microphone, read in pieces (../audio/stream.ts): fixed-size chunks, either as
 * fast as the consumer takes them (analysis, tests) or paced at real time (a daemon demo without a
 * sound card), optionally looped. Pacing follows the clock, not a chain of fixed sleeps, so it
 * does not drift: chunk k goes out at start + k * chunk duration.
 */
import type { DecodedAudio } from '../audio/decode.ts';
import { openAudioFile, piecesOf, type AudioPieces } from '../audio/stream.ts';
import { EarshotError } from '../../core/errors.ts';
import { CaptureSourceBase, type SourceContext } from './base.ts';
import type { CaptureConfig } from './config.ts';
import type { CaptureTiming } from './source.ts';

/** `realtime`: pace chunks at real time (else as fast as the consumer takes them); `loop`: start again at the end instead of emitting 'end'. */
export type FileReplayOptions = CaptureTiming & Pick<CaptureConfig, 'realtime' | 'loop'> & {
  /** chunks emitted per event-loop turn when not paced, so stop() and I/O still get a turn; default 16 */
  burstChunks?: number;
};

export type DecodeAudio = (path: string) => Promise<DecodedAudio>;

export interface FileReplayContext extends SourceContext {
  /** decode the whole file instead of reading it in pieces (tests, benchmarks) */
  decode?: DecodeAudio;
  /** the file already opened (the daemon opens it first, so a broken file fails the start) */
  openAudio?: (path: string) => Promise<AudioPieces>;
}

/** Audio read ahead per piece when the file is read in pieces: memory is two pieces, whatever the file's length. */
const PIECE_SEC = 5;

export class FileReplaySource extends CaptureSourceBase {
  private readonly reader: AudioPieces;
  private readonly opts: FileReplayOptions;
  /** the piece being handed over, and the next sample of it */
  private buf: Float32Array = new Float32Array(0);
  private pos = 0;
  /** the piece after it: undefined while being read, null at the end of the file */
  private next: Float32Array | null | undefined = undefined;
  /** pump() is waiting for `next` */
  private starved = false;
  private samplesOut = 0;
  private startedAt = 0;
  private timer: unknown = null;

  /** Open `path` (header checked now) and build a replay source at the file's own sample rate. */
  static async fromFile(path: string, opts: FileReplayOptions, ctx: FileReplayContext = {}): Promise<FileReplaySource> {
    const audio = ctx.openAudio ? await ctx.openAudio(path) : ctx.decode ? piecesOf(await ctx.decode(path)) : await openAudioFile(path);
    return new FileReplaySource(path, audio, opts, ctx);
  }

  constructor(readonly path: string, audio: DecodedAudio | AudioPieces, opts: FileReplayOptions, ctx: SourceContext = {}) {
    super(`file:${path}`, audio.sampleRate, opts, ctx);
    const reader = 'samples' in audio ? piecesOf(audio) : audio;
    if (reader.frames === 0) {
      throw new EarshotError('E_AUDIO_FORMAT', `${path}: the file holds no samples, so there is nothing to replay; pick a file with audio in it`);
    }
    this.reader = reader;
    this.opts = opts;
  }

  protected noDataHint(): string {
    return 'the replay was not scheduled: is the event loop blocked?';
  }

  protected async open(): Promise<void> {
    this.buf = (await this.reader.read(this.pieceFrames())) ?? new Float32Array(0);
    this.fetchNext();
    this.startedAt = this.timers.now();
    this.pump();
  }

  protected async close(): Promise<void> {
    this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.starved = false;
    await this.reader.close();
  }

  private pieceFrames(): number {
    const chunk = this.assembler.chunkSamples;
    return chunk * Math.max(1, Math.round((PIECE_SEC * this.sampleRate) / chunk));
  }

  /** Read the piece after the current one in the background; wakes pump() if it waits for it. */
  private fetchNext(): void {
    if (this.reader.readSync) {
      this.next = this.reader.readSync(this.pieceFrames());
      return;
    }
    this.next = undefined;
    this.reader.read(this.pieceFrames()).then(
      (piece) => {
        this.next = piece;
        if (this.starved) {
          this.starved = false;
          this.pump();
        }
      },
      (err: unknown) => {
        if (this.state === 'starting' || this.state === 'running') this.fail(err instanceof EarshotError ? err : new EarshotError('E_AUDIO_IO', `${this.path}: reading failed during the replay (${(err as Error).message})`, { cause: err }));
      },
    );
  }

  /** Move on to the next piece: true if there is one now, false if pump() must wait (or the replay ended). */
  private advance(): boolean {
    if (this.next === undefined) {
      this.starved = true;
      return false;
    }
    if (this.next === null) {
      if (!this.opts.loop) {
        this.finish();
        return false;
      }
      this.reader.rewind();
      this.fetchNext();
      if (this.next === undefined) {
        this.starved = true;
        return false;
      }
      return this.advance();
    }
    this.buf = this.next;
    this.pos = 0;
    this.fetchNext();
    return true;
  }

  private pump(): void {
    this.timer = null;
    const chunk = this.assembler.chunkSamples;
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
      if (this.pos >= this.buf.length && !this.advance()) return;
      const end = Math.min(this.buf.length, this.pos + chunk);
      this.assembler.pushFloat(this.buf, this.pos, end);
      this.samplesOut += end - this.pos;
      this.pos = end;
    }
  }
}
