/**
 * FLAC read in pieces (for `earshot analyze` and `--source file:`), as WAV is: memory is bounded by
 * BATCH_SAMPLES decoded samples and WINDOW_BYTES of the file, whatever its length or compression
 * ratio (a silent hour of 48 kHz stereo is 665 kB of FLAC and 1.4 GB of float samples, which
 * decoding it whole held). The frames are split and CRC-checked as ./flac-frames.ts does for a
 * whole file, a batch at a time, and decoded by one libFLAC instance; the sample count and the MD5
 * signature of STREAMINFO (RFC 9639 section 8.2) are checked when the last frame is decoded. A file
 * that fits one batch is decoded and checked completely when it is opened, as before.
 */
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { FLACDecoder } from '@wasm-audio-decoders/flac';
import { EarshotError } from '../../core/errors.ts';
import { findFrame, frameError, isId3v1 } from './flac-frames.ts';
import { FLAC_REEXPORT as REEXPORT, mixIntegerScale, parseStreamInfo, type StreamInfo } from './flac.ts';
import type { AudioPieces } from './stream.ts';

/** Inter-channel samples decoded per batch: 64 Ki x channels x 4 bytes from libFLAC, plus the mono copy. */
const BATCH_SAMPLES = 1 << 16;
/** The largest block a frame may hold (RFC 9639 section 9.1.1: 16-bit block size minus one). */
const MAX_BLOCK = 65536;
/** File bytes held: the longest possible frame (65536 samples x 8 channels x 32 bits, 2 MiB) fits twice. */
const WINDOW_BYTES = 4 * 1024 * 1024;

/** `base`: where `fLaC` starts (after an ID3v2 tag); `size`: the file's length. Throws E_AUDIO_FORMAT for a bad header or, for a short file, bad audio. */
export async function openFlacPieces(fh: FileHandle, size: number, base: number, path: string): Promise<AudioPieces> {
  const head = new Uint8Array(Math.min(42, size - base));
  await readAt(fh, head, base, path);
  const info = parseStreamInfo(head, path);
  const start = await firstFrameOffset(fh, base, size, path);
  let end = size;
  if (size >= start + 128) {
    const tail = new Uint8Array(128);
    await readAt(fh, tail, size - 128, path);
    if (isId3v1(tail)) end = size - 128;
  }
  if (start >= end) throw new EarshotError('E_AUDIO_FORMAT', `${path}: the FLAC file has no audio frames (${info.totalSamples} samples declared): it is empty or truncated; ${REEXPORT}`);
  const pieces = new FlacPieces(fh, info, start, end, path);
  try {
    await pieces.init();
  } catch (e) {
    pieces.free();
    throw e;
  }
  return pieces;
}

class FlacPieces implements AudioPieces {
  readonly sampleRate: number;
  readonly channels: number;
  readonly format: string;
  durationSec: number;
  frames: number;
  private readonly decoder = new FLACDecoder();
  private readonly window = new Uint8Array(WINDOW_BYTES);
  /** file offset of window[0], valid bytes in it, and where the next frame starts in it */
  private winStart = 0;
  private winLen = 0;
  private pos = 0;
  private frameIndex = 0;
  /** inter-channel samples decoded so far */
  private decoded = 0;
  private md5: Hash | undefined;
  private readonly md5Bytes: DataView | undefined;
  /** two mono buffers, alternated, so a piece stays valid while the next one is read */
  private readonly outs = [new Float32Array(BATCH_SAMPLES + MAX_BLOCK), new Float32Array(BATCH_SAMPLES + MAX_BLOCK)];
  private out = 0;
  private outLen = 0;
  private outPos = 0;
  private ended = false;
  private freed = false;

  constructor(private readonly fh: FileHandle, private readonly info: StreamInfo, private readonly start: number, private readonly end: number, private readonly path: string) {
    this.sampleRate = info.sampleRate;
    this.channels = info.channels;
    this.format = `flac/${info.bitsPerSample}`;
    this.frames = info.totalSamples;
    this.durationSec = info.totalSamples / info.sampleRate;
    const checkMd5 = info.bitsPerSample <= 24 && info.md5.some((b) => b !== 0);
    this.md5Bytes = checkMd5 ? new DataView(new ArrayBuffer((BATCH_SAMPLES + MAX_BLOCK) * info.channels * Math.ceil(info.bitsPerSample / 8))) : undefined;
    this.rewind();
  }

  /** Readies libFLAC, counts the samples when STREAMINFO does not say (0), and decodes the first batch (all of a short file). */
  async init(): Promise<void> {
    await this.decoder.ready;
    if (this.info.totalSamples === 0) {
      let total = 0;
      for (let f = await this.nextFrames(); f.length > 0; f = await this.nextFrames()) total += f.reduce((n, x) => n + x.blockSize, 0);
      this.frames = total;
      this.durationSec = total / this.sampleRate;
      this.rewind();
    }
    await this.decodeBatch();
  }

  async read(maxFrames: number): Promise<Float32Array | null> {
    if (this.outPos >= this.outLen) {
      if (this.ended || this.freed) return null;
      this.out ^= 1;
      await this.decodeBatch();
      if (this.outLen === 0) return null;
    }
    const n = Math.min(Math.max(1, Math.floor(maxFrames)), this.outLen - this.outPos);
    const piece = this.outs[this.out]!.subarray(this.outPos, this.outPos + n);
    this.outPos += n;
    return piece;
  }

  rewind(): void {
    this.winStart = this.start;
    this.winLen = 0;
    this.pos = 0;
    this.frameIndex = 0;
    this.decoded = 0;
    this.md5 = this.md5Bytes ? createHash('md5') : undefined;
    this.outLen = 0;
    this.outPos = 0;
    this.ended = false;
  }

  async close(): Promise<void> {
    this.free();
    await this.fh.close().catch(() => {});
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    try {
      this.decoder.free();
    } catch {
      // a crafted file can leave libFLAC's heap corrupt so that free() traps (test/flac-trap): the instance is dropped anyway
    }
  }

  /** The next frames, up to about BATCH_SAMPLES, as views of the window (valid until the next call); none at the end. */
  private async nextFrames(): Promise<{ bytes: Uint8Array; blockSize: number }[]> {
    const frames: { bytes: Uint8Array; blockSize: number }[] = [];
    let samples = 0;
    while (samples < BATCH_SAMPLES) {
      const final = this.winStart + this.winLen >= this.end;
      if (final && this.pos >= this.winLen) break;
      const f = findFrame(this.window, this.pos, this.winLen, final);
      if (f.kind === 'more') {
        // refilling moves the window: hand over what was found first
        if (frames.length > 0) break;
        if (this.pos === 0 && this.winLen === this.window.length) throw frameError('bad-crc', this.path, this.frameIndex, this.winStart, this.decoded, REEXPORT);
        await this.refill();
        continue;
      }
      if (f.kind !== 'frame') throw frameError(f.kind, this.path, this.frameIndex, this.winStart + this.pos, this.decoded + samples, REEXPORT);
      frames.push({ bytes: this.window.subarray(this.pos, f.end), blockSize: f.blockSize });
      samples += f.blockSize;
      this.pos = f.end;
      this.frameIndex++;
    }
    return frames;
  }

  /** Keeps the unread bytes of the window and reads more after them. */
  private async refill(): Promise<void> {
    const keep = this.window.subarray(this.pos, this.winLen);
    this.window.copyWithin(0, this.pos, this.winLen);
    this.winStart += this.pos;
    this.winLen = keep.length;
    this.pos = 0;
    const want = Math.min(this.window.length - this.winLen, this.end - (this.winStart + this.winLen));
    await readAt(this.fh, this.window.subarray(this.winLen, this.winLen + want), this.winStart + this.winLen, this.path);
    this.winLen += want;
  }

  /** Decodes the next frames into the current mono buffer; at the end of the stream checks the sample count and the MD5. */
  private async decodeBatch(): Promise<void> {
    this.outLen = 0;
    this.outPos = 0;
    // A batch is CPU work that may need no I/O at all (a silent file is read in one go): without a
    // turn of the event loop here, a consumer that reads again as soon as a read resolves (file
    // replay without pacing) would chain promises forever and never let a signal or timer run
    // (SIGTERM took until the end of the file).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const frames = await this.nextFrames();
    // closed meanwhile (a read in flight when the replay stopped): libFLAC is gone, decode nothing
    if (this.freed) return;
    if (frames.length === 0) {
      this.finish();
      return;
    }
    const expected = frames.reduce((n, f) => n + f.blockSize, 0);
    let result: Awaited<ReturnType<FLACDecoder['decodeFrames']>>;
    try {
      // libFLAC console.error()s every frame error as well as returning it; they are reported in
      // one EarshotError below, so it is silenced for the synchronous decode
      const consoleError = console.error;
      let pending: ReturnType<FLACDecoder['decodeFrames']>;
      console.error = () => {};
      try {
        pending = this.decoder.decodeFrames(frames.map((f) => f.bytes));
      } finally {
        console.error = consoleError;
      }
      result = await pending;
    } catch (e) {
      throw new EarshotError('E_AUDIO_FORMAT', `${this.path}: the FLAC decoder rejected the file (${(e as Error).message}); ${REEXPORT}`, { cause: e });
    }
    if (result.errors.length > 0) {
      const first = result.errors[0]!;
      throw new EarshotError(
        'E_AUDIO_FORMAT',
        `${this.path}: the FLAC stream is corrupt (${result.errors.length} decode error(s); first at frame ${first.frameNumber}, byte ${first.inputBytes}: ${first.message}); ${REEXPORT}`,
      );
    }
    if (result.samplesDecoded !== expected) {
      throw new EarshotError('E_AUDIO_FORMAT', `${this.path}: the FLAC frames declare ${this.decoded + expected} samples but ${this.decoded + result.samplesDecoded} decoded; the file is damaged: ${REEXPORT}`);
    }
    if (result.channelData.length !== this.info.channels) {
      throw new EarshotError('E_AUDIO_FORMAT', `${this.path}: the FLAC frames carry ${result.channelData.length} channel(s) but STREAMINFO declares ${this.info.channels}; the file is damaged: ${REEXPORT}`);
    }
    this.toMono(result.channelData, expected);
    this.decoded += expected;
    this.outLen = expected;
    if (this.winStart + this.pos >= this.end) this.finish();
  }

  /** Same scaling as ./flac.ts toIntegerScaleMono (mixIntegerScale), the MD5 fed chunk by chunk. */
  private toMono(channelData: Float32Array[], frames: number): void {
    const md5 = this.md5Bytes;
    const p = mixIntegerScale(channelData, frames, this.info.bitsPerSample, this.outs[this.out]!, md5);
    if (md5) this.md5!.update(new Uint8Array(md5.buffer, 0, p));
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    const declared = this.info.totalSamples;
    if (this.decoded === 0) throw new EarshotError('E_AUDIO_FORMAT', `${this.path}: the FLAC file decodes to no audio (${declared} samples declared, none decoded): it is empty or damaged; ${REEXPORT}`);
    if (declared !== 0 && this.decoded !== declared) {
      throw new EarshotError('E_AUDIO_FORMAT', `${this.path}: the FLAC file is truncated or damaged: STREAMINFO declares ${declared} samples but its frames hold ${this.decoded}; ${REEXPORT}`);
    }
    if (this.md5 && !this.md5.digest().equals(this.info.md5)) {
      throw new EarshotError('E_AUDIO_FORMAT', `${this.path}: the FLAC audio fails its MD5 check (decoded samples differ from what was encoded): the file is damaged; ${REEXPORT}`);
    }
  }
}

/** After 'fLaC', metadata blocks (1-byte type with a last-block flag, 3-byte length) precede the frames; read header by header, so a large picture block costs nothing. */
async function firstFrameOffset(fh: FileHandle, base: number, size: number, path: string): Promise<number> {
  const h = new Uint8Array(4);
  let off = base + 4;
  for (;;) {
    if (off + 4 > size) throw new EarshotError('E_AUDIO_FORMAT', `${path}: the FLAC metadata is truncated at byte ${off - base}; ${REEXPORT}`);
    await readAt(fh, h, off, path);
    const last = (h[0]! & 0x80) !== 0;
    off += 4 + ((h[1]! << 16) | (h[2]! << 8) | h[3]!);
    if (last) break;
  }
  if (off > size) throw new EarshotError('E_AUDIO_FORMAT', `${path}: the FLAC metadata is truncated (a block runs past the end of the file); ${REEXPORT}`);
  return off;
}

async function readAt(fh: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  let off = 0;
  while (off < into.length) {
    const { bytesRead } = await fh.read(into, off, into.length - off, position + off);
    if (bytesRead === 0) throw new EarshotError('E_AUDIO_IO', `${path}: the file ended early (it shrank while being read); copy it again and retry`);
    off += bytesRead;
  }
}
