/**
 * Audio file decoding for `earshot analyze`, `features` and file replay: WAV (incl. RF64 and
 * WAVE_FORMAT_EXTENSIBLE), FLAC and AIFF/AIFF-C, recognised by their magic bytes (never the
 * extension), returned as one mono Float32Array at the file's own sample rate.
 */
import { readFile, stat } from 'node:fs/promises';
import { printable } from '../../core/printable.ts';
import { EarshotError, isEarshotError } from '../../core/errors.ts';
import { decodeAiff } from './aiff.ts';
import { decodeWav } from './wav.ts';

export interface DecodedAudio {
  /** the file's own rate in Hz; resampling to the frontend's rate is the caller's job */
  sampleRate: number;
  /** channel count in the file (the samples are already downmixed) */
  channels: number;
  /** mono, channels averaged; integer formats scaled by 1/2^(bits-1) into [-1, 1), float formats as stored */
  samples: Float32Array;
  /** container and encoding, e.g. 'wav/pcm16', 'wav/float32', 'flac/16', 'aiff/16', 'aifc/sowt16' */
  format: string;
  durationSec: number;
}

/** Largest file decodeAudioFile reads whole; longer recordings go through ./stream.ts (analyze, file replay). */
export const MAX_DECODE_BYTES = 256 * 1024 * 1024;

export async function decodeAudioFile(path: string): Promise<DecodedAudio> {
  let bytes: Uint8Array;
  try {
    // a device such as /dev/zero has no end, and a huge file would be held whole: check first
    const st = await stat(path);
    if (!st.isFile()) throw notRegularFile(path, st);
    if (st.size > MAX_DECODE_BYTES) {
      throw new EarshotError('E_AUDIO_FORMAT', `${path}: ${(st.size / 2 ** 20).toFixed(0)} MiB is more than the ${MAX_DECODE_BYTES / 2 ** 20} MiB decoded at once here; split it (\`sox ${path} part.wav trim 0 3600 : newfile : restart\`), or use \`earshot analyze\`, which reads WAV in pieces`);
    }
    bytes = await readFile(path);
  } catch (e) {
    if (isEarshotError(e)) throw e;
    throw new EarshotError('E_AUDIO_IO', `${path}: cannot read the audio file (${describeIoError(e)})`, { cause: e });
  }
  return decodeAudioBuffer(bytes, path);
}

/** A device (/dev/zero), FIFO or socket: refused before a byte is read, since it may never end. */
export function notRegularFile(path: string, st: { isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean; isDirectory(): boolean }): EarshotError {
  const kind = st.isDirectory() ? 'a directory; pass audio files, or the files inside it' : `${st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isFIFO() ? 'a pipe (FIFO)' : st.isSocket() ? 'a socket' : 'not a regular file'}, which may never end; pass an audio file, or stream live PCM with --source stdin:s16le:RATE`;
  return new EarshotError('E_AUDIO_IO', `${path}: cannot read the audio file (it is ${kind})`);
}

/** `name` is only used in error messages (a path, or whatever the bytes came from). */
export async function decodeAudioBuffer(buf: Uint8Array, name: string): Promise<DecodedAudio> {
  if (buf.length === 0) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the file is empty (0 bytes); re-record or re-copy it`);
  const container = sniffContainer(buf);
  try {
    switch (container) {
      case 'wav':
        return decodeWav(buf, name);
      // the FLAC decoder (libFLAC in WASM, 1 MB of private memory once imported) loads on the first
      // FLAC: a daemon on a microphone never needs it (issue 32, memory)
      case 'flac':
        return await (await import('./flac.ts')).decodeFlac(buf, name);
      case 'flac-id3':
        return await (await import('./flac.ts')).decodeFlac(buf.subarray(id3v2Length(buf)), name);
      case 'aiff':
        return decodeAiff(buf, name);
      default:
        throw new EarshotError('E_AUDIO_FORMAT', `${name} ${container}`);
    }
  } catch (e) {
    if (isEarshotError(e)) throw e;
    // The readers bounds-check what they read; this is the net under a header combination they missed.
    throw new EarshotError('E_AUDIO_FORMAT', `${name}: the ${container.toUpperCase()} file could not be parsed (${(e as Error).message}); it is probably truncated or damaged: re-export it`, { cause: e });
  }
}

/** The container from the first bytes, or a sentence saying what the file is instead. */
function sniffContainer(b: Uint8Array): 'wav' | 'flac' | 'flac-id3' | 'aiff' | string {
  const head = (at: number, s: string) => b.length >= at + s.length && [...s].every((ch, i) => b[at + i] === ch.charCodeAt(0));
  const convert = 'convert it to WAV or FLAC (e.g. `ffmpeg -i IN -ac 1 -ar 16000 out.wav`)';
  if ((head(0, 'RIFF') || head(0, 'RF64')) && head(8, 'WAVE')) return 'wav';
  if (head(0, 'fLaC')) return 'flac';
  if (head(0, 'FORM') && (head(8, 'AIFF') || head(8, 'AIFC'))) return 'aiff';
  if (head(0, 'ID3')) {
    const after = id3v2Length(b);
    if (after + 4 <= b.length && b[after] === 0x66 && b[after + 1] === 0x4c && b[after + 2] === 0x61 && b[after + 3] === 0x43) return 'flac-id3';
    return `looks like an MP3 file (ID3 tag), which earshot does not decode; ${convert}`;
  }
  if (b.length < 12 && ['RIFF', 'RF64', 'FORM', 'fLaC'].some((magic) => head(0, magic.slice(0, b.length)))) {
    return `is only ${b.length} bytes, too short for a WAV, FLAC or AIFF header: it is truncated; re-record or re-copy it`;
  }
  if (head(0, 'RIFF')) return `is a RIFF file but not WAVE (type '${printable(String.fromCharCode(...b.subarray(8, 12)))}'); ${convert}`;
  if (head(0, 'OggS')) return `is an Ogg file (Vorbis, Opus or Ogg FLAC), which earshot does not decode; ${convert}`;
  if (head(4, 'ftyp')) return `is an MP4/M4A file, which earshot does not decode; ${convert}`;
  if (b[0] === 0xff && b.length > 1 && (b[1]! & 0xe0) === 0xe0) return `looks like an MPEG audio (MP3/AAC) stream, which earshot does not decode; ${convert}`;
  if (head(0, '\x89PNG')) return `is a PNG image, not audio; pass a WAV, FLAC or AIFF file`;
  if (looksLikeText(b)) return `is a text file, not audio (starts with ${JSON.stringify(new TextDecoder().decode(b.subarray(0, 24)))}); pass a WAV, FLAC or AIFF file`;
  const hex = Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return `is not a WAV, FLAC or AIFF file (it starts with bytes ${hex}); pass one of those, or ${convert}`;
}

function looksLikeText(b: Uint8Array): boolean {
  const n = Math.min(b.length, 512);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c < 0x09 || (c > 0x0d && c < 0x20 && c !== 0x1b)) return false;
  }
  return true;
}

/** ID3v2 header: 'ID3', version (2), flags (1), size as four 7-bit "syncsafe" bytes, excluding the 10-byte header. */
export function id3v2Length(b: Uint8Array): number {
  if (b.length < 10) return b.length;
  const footer = b[5]! & 0x10 ? 10 : 0;
  return 10 + footer + ((b[6]! & 0x7f) << 21) + ((b[7]! & 0x7f) << 14) + ((b[8]! & 0x7f) << 7) + (b[9]! & 0x7f);
}

function describeIoError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file; check the path';
    case 'EISDIR':
      return 'it is a directory; pass audio files, or the files inside it';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied; check its permissions or run as a user who can read it';
    default:
      return `${code ?? (e as Error)?.message ?? String(e)}; check the path and that the file is readable`;
  }
}
