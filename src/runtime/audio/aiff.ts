/**
 * AIFF and AIFF-C reader (Apple "Audio Interchange File Format" 1.3 and the AIFF-C draft of 1991):
 * big-endian PCM 8/16/24/32-bit; AIFF-C 'NONE', 'sowt' (little-endian PCM), 'fl32' and 'fl64'.
 */
import { printable } from '../../core/printable.ts';
import { EarshotError } from '../../core/errors.ts';
import type { DecodedAudio } from './decode.ts';
import { HEADER_TOO_LONG, pcmToMono, type PcmLayout, type SampleEncoding } from './pcm.ts';

const TO_PCM16 = (name: string) => `\`sox ${name} -e signed -b 16 out.wav\``;

interface CommonChunk {
  channels: number;
  frames: number;
  bits: number;
  sampleRate: number;
  compression: string;
}

export function decodeAiff(bytes: Uint8Array, name: string): DecodedAudio {
  const l = aiffLayout(bytes, bytes.length, name);
  const samples = pcmToMono(bytes, l.offset, l.frames, l.channels, l.encoding, name);
  return { sampleRate: l.sampleRate, channels: l.channels, samples, format: l.format, durationSec: l.frames / l.sampleRate };
}

/** Where the samples of an AIFF file are, from its first bytes (through the SSND header) and its length. */
export function aiffLayout(bytes: Uint8Array, fileLength: number, name: string): PcmLayout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isAifc = fourCC(bytes, 8) === 'AIFC';
  let comm: CommonChunk | undefined;
  let sound: { offset: number; available: number } | undefined;

  let off = 12;
  while (off + 8 <= fileLength && !(comm && sound)) {
    if (off + 8 > bytes.length) throw new EarshotError('E_AUDIO_FORMAT', `${name}: ${HEADER_TOO_LONG}`);
    const id = fourCC(bytes, off);
    const size = view.getUint32(off + 4, false);
    const body = off + 8;
    if (id === 'SSND') {
      if (body + 8 > fileLength) throw truncated(name, `its SSND chunk header is cut off`);
      if (body + 8 > bytes.length) throw new EarshotError('E_AUDIO_FORMAT', `${name}: ${HEADER_TOO_LONG}`);
      const dataOffset = body + 8 + view.getUint32(body, false);
      // The sample count comes from COMM; SSND's own size only bounds it (it may be a streamed placeholder).
      const end = Math.min(fileLength, body + size);
      sound = { offset: dataOffset, available: Math.max(0, end - dataOffset) };
    } else {
      if (body + size > fileLength) throw truncated(name, `its '${printable(id)}' chunk declares ${size} bytes, ${fileLength - body} remain`);
      if (id === 'COMM' && body + size > bytes.length) throw new EarshotError('E_AUDIO_FORMAT', `${name}: ${HEADER_TOO_LONG}`);
      if (id === 'COMM') comm = parseComm(view, bytes, body, size, isAifc, name);
    }
    off = body + size + (size & 1);
  }

  if (!comm) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the AIFF file has no COMM chunk (truncated or not a real AIFF); re-export it`);
  if (!sound) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the AIFF file has no SSND chunk (truncated header or no audio); re-record or re-export it`);
  const { channels, frames, sampleRate } = comm;
  const encoding = sampleEncoding(comm, name);
  if (channels <= 0) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the AIFF header says ${channels} channels; the header is damaged: re-export the file`);
  if (!(sampleRate > 0) || !Number.isFinite(sampleRate)) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the AIFF header says a sample rate of ${sampleRate} Hz; the header is damaged: re-export the file`);
  if (frames === 0) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the AIFF file contains no audio (0 sample frames); re-record it`);
  const needed = frames * channels * encoding.bytes;
  if (needed > sound.available) {
    throw truncated(name, `COMM declares ${frames} frames (${needed} bytes) but the SSND chunk holds only ${sound.available} bytes`);
  }
  const prefix = isAifc ? 'aifc' : 'aiff';
  const format = encoding.kind === 'float' ? `${prefix}/float${encoding.bytes * 8}` : `${prefix}/${comm.compression === 'sowt' ? 'sowt' : ''}${comm.bits}`;
  return { sampleRate, channels, encoding, offset: sound.offset, frames, format };
}

function parseComm(view: DataView, bytes: Uint8Array, at: number, size: number, isAifc: boolean, name: string): CommonChunk {
  const minSize = isAifc ? 22 : 18;
  if (size < minSize) throw truncated(name, `its COMM chunk is ${size} bytes, expected at least ${minSize}`);
  return {
    channels: view.getInt16(at, false),
    frames: view.getUint32(at + 2, false),
    bits: view.getInt16(at + 6, false),
    sampleRate: readExtended80(view, at + 8),
    compression: isAifc ? fourCC(bytes, at + 18) : 'NONE',
  };
}

function sampleEncoding(comm: CommonChunk, name: string): SampleEncoding {
  const { compression, bits } = comm;
  switch (compression) {
    case 'NONE':
    case 'twos':
    case 'sowt': {
      const bytes = Math.ceil(bits / 8);
      if (bytes < 1 || bytes > 4) throw new EarshotError('E_AUDIO_FORMAT', `${name}: ${bits}-bit AIFF samples are not supported; convert it with ${TO_PCM16(name)}`);
      // AIFF integer samples are always signed two's complement, 8-bit included (unlike WAV).
      return { kind: 'int', bytes, bigEndian: compression !== 'sowt', unsigned: false };
    }
    case 'fl32':
    case 'FL32':
      return { kind: 'float', bytes: 4, bigEndian: true, unsigned: false };
    case 'fl64':
    case 'FL64':
      return { kind: 'float', bytes: 8, bigEndian: true, unsigned: false };
    default:
      throw new EarshotError('E_AUDIO_FORMAT', `${name}: AIFF-C compression '${compression}' is not supported; only NONE, sowt, fl32 and fl64 are. Convert it with ${TO_PCM16(name)}`);
  }
}

/** IEEE 754 80-bit extended (sign, 15-bit exponent biased by 16383, 64-bit mantissa with an explicit integer bit). */
function readExtended80(view: DataView, at: number): number {
  const signExp = view.getUint16(at, false);
  const hi = view.getUint32(at + 2, false);
  const lo = view.getUint32(at + 6, false);
  if (signExp === 0 && hi === 0 && lo === 0) return 0;
  const sign = signExp & 0x8000 ? -1 : 1;
  const exponent = (signExp & 0x7fff) - 16383;
  const mantissa = hi * 2 ** 32 + lo; // exact enough: sample rates need far fewer than 53 bits
  return sign * mantissa * 2 ** (exponent - 63);
}

function truncated(name: string, detail: string): EarshotError {
  return new EarshotError('E_AUDIO_FORMAT', `${name}: the AIFF file is truncated or damaged (${detail}); re-record or re-export it`);
}

function fourCC(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}
