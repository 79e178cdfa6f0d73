/**
 * RIFF/WAVE and RF64 reader: PCM 8/16/24/32-bit, IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE.
 * Follows the Microsoft RIFF spec (chunks padded to even length) and EBU Tech 3306 for RF64
 * (sizes of 0xFFFFFFFF are taken from the ds64 chunk).
 */
import { printable } from '../../core/printable.ts';
import { EarshotError } from '../../core/errors.ts';
import type { DecodedAudio } from './decode.ts';
import { HEADER_TOO_LONG, pcmToMono, type PcmLayout, type SampleEncoding } from './pcm.ts';

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Format tags users actually meet (mmreg.h), so the error can say what the file is. */
const FORMAT_TAG_NAMES: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0006: 'A-law',
  0x0007: 'mu-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MP3',
  0x0161: 'WMA',
};

/** Bytes 2..15 of KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT (ksmedia.h); bytes 0..1 hold the format tag. */
const SUBFORMAT_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/**
 * Writers that stream to a pipe cannot seek back to fill in the sizes, and leave a placeholder:
 * 0xFFFFFFFF (sox, ffmpeg), arecord's 2 GiB cap (0x7FFFFF00 and up), or 0. Such a data chunk runs
 * to the end of the file. A 0 is only read that way when the RIFF size is a placeholder too, so a
 * genuinely empty data chunk followed by a LIST chunk is not mistaken for audio.
 */
function isStreamedSize(dataSize: number, riffSize: number): boolean {
  if (dataSize === 0xffffffff || dataSize >= 0x7fffff00) return true;
  return dataSize === 0 && (riffSize === 0 || riffSize === 0xffffffff || riffSize >= 0x7fffff00);
}

const TO_PCM16 = (name: string) => `\`sox ${name} -e signed -b 16 out.wav\``;

interface DataExtent {
  offset: number;
  size: number;
  /** size came from a streaming placeholder: a trailing partial frame is expected, not damage */
  streamed: boolean;
}

interface WavFormat {
  tag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

export function decodeWav(bytes: Uint8Array, name: string): DecodedAudio {
  const l = wavLayout(bytes, bytes.length, name);
  const samples = pcmToMono(bytes, l.offset, l.frames, l.channels, l.encoding, name);
  return { sampleRate: l.sampleRate, channels: l.channels, samples, format: l.format, durationSec: l.frames / l.sampleRate };
}

/**
 * Where the samples of a WAV file are and how they are stored, from its first bytes (`bytes`, at
 * least up to the data chunk's header) and its length, so long files can be read in pieces.
 */
export function wavLayout(bytes: Uint8Array, fileLength: number, name: string): PcmLayout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isRf64 = bytes[0] === 0x52 && bytes[1] === 0x46 && bytes[2] === 0x36 && bytes[3] === 0x34; // 'RF64'
  let fmt: WavFormat | undefined;
  let rf64DataSize: number | undefined;
  let data: DataExtent | undefined;

  let off = 12;
  while (off + 8 <= fileLength && !(data && fmt)) {
    if (off + 8 > bytes.length) throw new EarshotError('E_AUDIO_FORMAT', `${name}: ${HEADER_TOO_LONG}`);
    const id = fourCC(bytes, off);
    const size = view.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'data') {
      data = dataExtent(fileLength, body, size, view.getUint32(4, true), rf64DataSize, name);
      if (data.size === fileLength - body) break; // the data runs to the end of the file
    } else {
      if (body + size > fileLength) {
        throw new EarshotError('E_AUDIO_FORMAT', `${name}: the WAV header is truncated ('${printable(id)}' chunk declares ${size} bytes, ${fileLength - body} remain); re-export or re-record the file`);
      }
      if ((id === 'fmt ' || id === 'ds64') && body + size > bytes.length) throw new EarshotError('E_AUDIO_FORMAT', `${name}: ${HEADER_TOO_LONG}`);
      if (id === 'fmt ') fmt = parseFmt(view, body, size, name);
      else if (id === 'ds64' && isRf64 && size >= 24) rf64DataSize = readUint64(view, body + 8);
      // Anything else (LIST, fact, cue, bext, JUNK, ...) carries no samples and is skipped.
    }
    off = body + size + (size & 1);
  }

  if (!fmt) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the WAV file has no 'fmt ' chunk (truncated or not a real WAV); re-export it`);
  if (!data) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the WAV file has no 'data' chunk (truncated header or no audio); re-record or re-export it`);

  const encoding = sampleEncoding(fmt, name);
  const { blockAlign, channels, sampleRate } = fmt;
  const frames = Math.floor(data.size / blockAlign);
  if (data.size % blockAlign !== 0 && !data.streamed) {
    throw new EarshotError(
      'E_AUDIO_FORMAT',
      `${name}: the WAV data chunk holds ${data.size} bytes, not a whole number of ${blockAlign}-byte frames (${channels} channel(s) x ${encoding.bytes} bytes); the file is damaged: re-export it`,
    );
  }
  if (frames === 0) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the WAV file contains no audio (0 sample frames in its data chunk); re-record it`);
  const format = `wav/${encoding.kind === 'float' ? 'float' : 'pcm'}${encoding.bytes * 8}`;
  return { sampleRate, channels, encoding, offset: data.offset, frames, format };
}

/**
 * Where the samples are. A declared size beyond the end of the file means the file was cut short;
 * a streaming placeholder (see isStreamedSize) means "to the end of the file".
 */
function dataExtent(fileLength: number, body: number, size: number, riffSize: number, rf64DataSize: number | undefined, name: string): DataExtent {
  const available = fileLength - body;
  if (size === 0xffffffff && rf64DataSize !== undefined) size = rf64DataSize;
  else if (isStreamedSize(size, riffSize) && available > 0) {
    // A streamed file may end in a partly written frame; whole frames are decoded, the tail is dropped.
    return { offset: body, size: available, streamed: true };
  }
  if (size > available) {
    throw new EarshotError(
      'E_AUDIO_FORMAT',
      `${name}: the WAV file is truncated: its data chunk declares ${size} bytes but only ${available} are present; re-record or re-export the file (or copy it again if the transfer was cut short)`,
    );
  }
  return { offset: body, size, streamed: false };
}

function parseFmt(view: DataView, at: number, size: number, name: string): WavFormat {
  if (size < 16) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the WAV 'fmt ' chunk is ${size} bytes, less than the 16 the format requires; the header is damaged: re-export the file`);
  let tag = view.getUint16(at, true);
  const fmt = {
    tag,
    channels: view.getUint16(at + 2, true),
    sampleRate: view.getUint32(at + 4, true),
    blockAlign: view.getUint16(at + 12, true),
    bitsPerSample: view.getUint16(at + 14, true),
  };
  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    if (size < 40) throw new EarshotError('E_AUDIO_FORMAT', `${name}: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is ${size} bytes, expected 40; the header is damaged: re-export the file`);
    tag = view.getUint16(at + 24, true);
    const guidMatches = SUBFORMAT_GUID_TAIL.every((b, i) => view.getUint8(at + 26 + i) === b);
    if (!guidMatches || (tag !== WAVE_FORMAT_PCM && tag !== WAVE_FORMAT_IEEE_FLOAT)) {
      const guid = Array.from({ length: 16 }, (_, i) => view.getUint8(at + 24 + i).toString(16).padStart(2, '0')).join('');
      throw new EarshotError('E_AUDIO_FORMAT', `${name}: WAVE_FORMAT_EXTENSIBLE with sub-format GUID ${guid} is not PCM or IEEE float; convert it with ${TO_PCM16(name)}`);
    }
    fmt.tag = tag;
  }
  return fmt;
}

function sampleEncoding(fmt: WavFormat, name: string): SampleEncoding {
  const { tag, channels, sampleRate, blockAlign, bitsPerSample } = fmt;
  if (tag !== WAVE_FORMAT_PCM && tag !== WAVE_FORMAT_IEEE_FLOAT) {
    const what = FORMAT_TAG_NAMES[tag] ?? 'an unknown encoding';
    throw new EarshotError(
      'E_AUDIO_FORMAT',
      `${name}: WAV format tag 0x${tag.toString(16).padStart(4, '0')} (${what}) is not supported; only PCM and IEEE float are. Convert it with ${TO_PCM16(name)}`,
    );
  }
  if (channels === 0) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the WAV header says 0 channels; the header is damaged: re-export the file`);
  if (sampleRate === 0) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the WAV header says a sample rate of 0 Hz; the header is damaged: re-export the file`);
  // Samples sit left-justified in whole-byte containers, so 12- or 20-bit audio reads as 16 or 24 (WAVEFORMATEX docs).
  const bytes = Math.ceil(bitsPerSample / 8);
  const isFloat = tag === WAVE_FORMAT_IEEE_FLOAT;
  const supported = isFloat ? bytes === 4 || bytes === 8 : bytes >= 1 && bytes <= 4;
  if (!supported) {
    throw new EarshotError('E_AUDIO_FORMAT', `${name}: ${bitsPerSample}-bit ${isFloat ? 'float' : 'integer'} WAV samples are not supported; convert it with ${TO_PCM16(name)}`);
  }
  if (blockAlign !== channels * bytes) {
    throw new EarshotError(
      'E_AUDIO_FORMAT',
      `${name}: the WAV header is inconsistent (block align ${blockAlign} bytes, but ${channels} channel(s) of ${bitsPerSample}-bit samples need ${channels * bytes}); re-export the file`,
    );
  }
  return { kind: isFloat ? 'float' : 'int', bytes, bigEndian: false, unsigned: !isFloat && bytes === 1 };
}

function fourCC(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

function readUint64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}
