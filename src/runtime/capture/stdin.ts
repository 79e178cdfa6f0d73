/**
 * Raw PCM from a pipe (`sox in.wav -t raw -e signed -b 16 -c 1 -r 16000 - | earshot run --source stdin:s16le:16000`,
 * or `ffmpeg ... -f f32le -`). Mono, little-endian. Pipes split data anywhere, including inside a
 * sample; the chunk assembler carries the partial sample over.
 */
import type { Readable } from 'node:stream';
import { EarshotError } from '../../core/errors.ts';
import { CaptureSourceBase, type SourceContext } from './base.ts';
import type { PcmFormat } from './chunker.ts';
import type { CaptureTiming } from './source.ts';

export interface StdinOptions extends CaptureTiming {
  format: PcmFormat;
  /** Hz */
  sampleRate: number;
}

export interface StdinContext extends SourceContext {
  /** default process.stdin */
  input?: Readable;
}

export class StdinSource extends CaptureSourceBase {
  readonly format: PcmFormat;
  private readonly input: Readable;
  private readonly onData = (b: Buffer) => this.assembler.pushPcm(b, this.format);
  private readonly onEnd = () => {
    if (this.assembler.pendingBytes > 0) this.log.warn(`${this.name}: the stream ended inside a sample (${this.assembler.pendingBytes} stray bytes dropped)`);
    this.finish();
  };
  private readonly onError = (e: Error) =>
    this.fail(new EarshotError('E_CAPTURE', `${this.name}: reading the input failed (${e.message}); check the program piping audio in`, { cause: e }));

  constructor(opts: StdinOptions, ctx: StdinContext = {}) {
    super(`stdin:${opts.format}:${opts.sampleRate}`, opts.sampleRate, opts, ctx);
    this.format = opts.format;
    this.input = ctx.input ?? process.stdin;
  }

  protected noDataHint(): string {
    return `pipe raw mono ${this.format} PCM at ${this.sampleRate} Hz into earshot, e.g. \`sox in.wav -t raw -e ${this.format === 's16le' ? 'signed -b 16' : 'floating-point -b 32'} -c 1 -r ${this.sampleRate} - | earshot run --source ${this.name}\``;
  }

  protected async open(): Promise<void> {
    this.input.on('data', this.onData);
    this.input.once('end', this.onEnd);
    this.input.once('error', this.onError);
    this.input.resume();
  }

  protected async close(): Promise<void> {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.onError);
    // Pause rather than destroy: the stream (process.stdin) belongs to the caller.
    this.input.pause();
  }
}
