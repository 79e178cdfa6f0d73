/**
 * An audio file read in pieces, so `earshot analyze` and `--source file:` hold a bounded amount of
 * it whatever its length. WAV and AIFF (PCM and float) are read straight from their data chunk,
 * `read()` by `read()`: memory is one piece. FLAC and FLAC-with-ID3 are decoded a batch of frames
 * at a time by ./flac-stream.ts: memory is one batch and a few MiB of the file, whatever its length.
 *
 * Only regular files are read: a device (/dev/zero, /dev/urandom), a FIFO or a socket has no end
 * to wait for, and is refused with E_AUDIO_IO before a byte is read (live PCM: `--source stdin:`).
 * The file is opened with O_NONBLOCK so that a FIFO with no writer is refused too, instead of
 * blocking in open(2) forever (O_NONBLOCK changes nothing for a regular file's reads).
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { EarshotError, isEarshotError } from '../../core/errors.ts';
import { aiffLayout } from './aiff.ts';
import { decodeAudioBuffer, id3v2Length, notRegularFile, type DecodedAudio } from './decode.ts';
import { pcmToMono, type PcmLayout } from './pcm.ts';
import { wavLayout } from './wav.ts';

/** Bytes read to find a WAV/AIFF data chunk (its header chunks must fit: see pcm.ts HEADER_TOO_LONG). */
export const HEAD_BYTES = 4 * 1024 * 1024;

export interface AudioPieces {
  readonly sampleRate: number;
  readonly channels: number;
  readonly format: string;
  readonly durationSec: number;
  /** total mono sample frames */
  readonly frames: number;
  /** The next up to `maxFrames` mono samples, or null at the end; valid until the piece after next is read. */
  read(maxFrames: number): Promise<Float32Array | null>;
  /** The same without a turn of the event loop, when the audio is already in memory (piecesOf). */
  readSync?(maxFrames: number): Float32Array | null;
  /** Start again from the first sample (file replay with loop). */
  rewind(): void;
  close(): Promise<void>;
}

/** Opens `path` for reading in pieces; header problems throw here (E_AUDIO_IO / E_AUDIO_FORMAT), as decodeAudioFile would. */
export async function openAudioFile(path: string): Promise<AudioPieces> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw ioError(path, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegularFile(path, st);
    const head = new Uint8Array(Math.min(st.size, HEAD_BYTES));
    await readFully(fh, head, 0, path);
    const pcm = pcmLayoutOf(head, st.size, path);
    if (pcm) return new PcmPieces(fh, pcm, path);
    const flacAt = flacStart(head);
    // imported on the first FLAC, as in decode.ts: a microphone daemon never loads the decoder
    if (flacAt !== undefined) return await (await import('./flac-stream.ts')).openFlacPieces(fh, st.size, flacAt, path);
    // not audio earshot reads: decodeAudioBuffer says what it is from the first bytes (and throws)
    await fh.close();
    return piecesOf(await decodeAudioBuffer(head, path));
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}

/** A decoded file as pieces (tests, the daemon's bench, FLAC). */
export function piecesOf(audio: DecodedAudio): AudioPieces {
  let pos = 0;
  return {
    sampleRate: audio.sampleRate,
    channels: audio.channels,
    format: audio.format,
    durationSec: audio.durationSec,
    frames: audio.samples.length,
    async read(maxFrames) {
      return this.readSync!(maxFrames);
    },
    readSync(maxFrames) {
      if (pos >= audio.samples.length) return null;
      const out = audio.samples.subarray(pos, pos + maxFrames);
      pos += out.length;
      return out;
    },
    rewind() {
      pos = 0;
    },
    async close() {},
  };
}

class PcmPieces implements AudioPieces {
  readonly sampleRate: number;
  readonly channels: number;
  readonly format: string;
  readonly durationSec: number;
  readonly frames: number;
  private pos = 0;
  private scratch = new Uint8Array(0);
  private closed = false;

  constructor(private readonly fh: FileHandle, private readonly layout: PcmLayout, private readonly path: string) {
    this.sampleRate = layout.sampleRate;
    this.channels = layout.channels;
    this.format = layout.format;
    this.frames = layout.frames;
    this.durationSec = layout.frames / layout.sampleRate;
  }

  async read(maxFrames: number): Promise<Float32Array | null> {
    const l = this.layout;
    const n = Math.min(Math.max(1, Math.floor(maxFrames)), l.frames - this.pos);
    if (n <= 0 || this.closed) return null;
    const frameBytes = l.channels * l.encoding.bytes;
    if (this.scratch.length < n * frameBytes) this.scratch = new Uint8Array(n * frameBytes);
    const buf = this.scratch.subarray(0, n * frameBytes);
    await readFully(this.fh, buf, l.offset + this.pos * frameBytes, this.path);
    const out = pcmToMono(buf, 0, n, l.channels, l.encoding, this.path, this.pos);
    this.pos += n;
    return out;
  }

  rewind(): void {
    this.pos = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

/** Where `fLaC` starts: 0, after an ID3v2 tag, or undefined for anything else. */
function flacStart(head: Uint8Array): number | undefined {
  const magic = (i: number, s: string) => head.length >= i + s.length && [...s].every((ch, k) => head[i + k] === ch.charCodeAt(0));
  if (magic(0, 'fLaC')) return 0;
  if (!magic(0, 'ID3')) return undefined;
  const at = id3v2Length(head);
  return magic(at, 'fLaC') ? at : undefined;
}

function pcmLayoutOf(head: Uint8Array, fileLength: number, path: string): PcmLayout | null {
  const at = (i: number, s: string) => head.length >= i + s.length && [...s].every((ch, k) => head[i + k] === ch.charCodeAt(0));
  try {
    if ((at(0, 'RIFF') || at(0, 'RF64')) && at(8, 'WAVE')) return wavLayout(head, fileLength, path);
    if (at(0, 'FORM') && (at(8, 'AIFF') || at(8, 'AIFC'))) return aiffLayout(head, fileLength, path);
  } catch (e) {
    if (isEarshotError(e)) throw e;
    throw new EarshotError('E_AUDIO_FORMAT', `${path}: the header could not be parsed (${(e as Error).message}); it is probably truncated or damaged: re-export it`, { cause: e });
  }
  return null;
}

async function readFully(fh: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  let off = 0;
  while (off < into.length) {
    let n: number;
    try {
      ({ bytesRead: n } = await fh.read(into, off, into.length - off, position + off));
    } catch (e) {
      throw ioError(path, e);
    }
    if (n === 0) throw new EarshotError('E_AUDIO_IO', `${path}: the file ended early (it shrank while being read); copy it again and retry`);
    off += n;
  }
}


function ioError(path: string, e: unknown): EarshotError {
  if (isEarshotError(e)) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const why =
    code === 'ENOENT' ? 'no such file; check the path'
    : code === 'EISDIR' ? 'it is a directory; pass audio files, or the files inside it'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied; check its permissions or run as a user who can read it'
    : `${code ?? (e as Error)?.message ?? String(e)}; check the path and that the file is readable`;
  return new EarshotError('E_AUDIO_IO', `${path}: cannot read the audio file (${why})`, { cause: e });
}
