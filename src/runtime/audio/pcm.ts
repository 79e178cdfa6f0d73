/**
 * Interleaved PCM -> mono Float32 conversion shared by the WAV and AIFF readers.
 * One pass over the bytes, writing straight into one preallocated Float32Array:
 * no per-sample or per-frame arrays.
 */
import { EarshotError } from '../../core/errors.ts';

/** How one sample is stored in the file's data chunk. */
export interface SampleEncoding {
  kind: 'int' | 'float';
  /** bytes per sample in the container (1, 2, 3, 4, or 8 for float64) */
  bytes: number;
  bigEndian: boolean;
  /** only 8-bit WAV is unsigned (offset binary, silence = 128) */
  unsigned: boolean;
}

/** Where a WAV/AIFF file keeps its samples and how, so they can be read in pieces (./stream.ts). */
export interface PcmLayout {
  sampleRate: number;
  channels: number;
  encoding: SampleEncoding;
  /** byte offset of the first sample frame in the file */
  offset: number;
  frames: number;
  /** as DecodedAudio.format */
  format: string;
}

/** Headers are read from the first bytes of a file only (./stream.ts HEAD_BYTES). */
export const HEADER_TOO_LONG = 'the header chunks before the audio are larger than 4 MiB, which earshot does not read; strip the metadata (`sox IN OUT.wav`) and try again';

/**
 * Decode `frames` interleaved frames of `channels` samples starting at `offset` in `bytes`,
 * average the channels, and return them as mono samples in [-1, 1) (integer formats).
 * Float formats are passed through unscaled and unclipped, and must be finite.
 */
// eslint-disable-next-line complexity -- one specialised loop per sample encoding and channel count, branched once per call rather than per sample (hot path)
export function pcmToMono(
  bytes: Uint8Array,
  offset: number,
  frames: number,
  channels: number,
  enc: SampleEncoding,
  fileName: string,
  /** frame number of the first frame in the whole file, for error messages when reading in pieces */
  firstFrame = 0,
): Float32Array {
  const out = new Float32Array(frames);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, frames * channels * enc.bytes);
  const le = !enc.bigEndian;
  // Integer samples are scaled by 2^(bits-1) so full scale maps to [-1, 1), as sox and libsndfile do.
  const scale = (enc.kind === 'int' ? 1 / 2 ** (8 * enc.bytes - 1) : 1) / channels;
  const n = frames * channels;
  let p = 0;
  switch (enc.kind === 'float' ? `f${enc.bytes}` : `i${enc.bytes}`) {
    case 'i1':
      if (enc.unsigned) for (let f = 0; f < frames; f++) { let s = 0; for (let c = 0; c < channels; c++) s += view.getUint8(p++) - 128; out[f] = s * scale; }
      else for (let f = 0; f < frames; f++) { let s = 0; for (let c = 0; c < channels; c++) s += view.getInt8(p++); out[f] = s * scale; }
      break;
    case 'i2':
      for (let f = 0; f < frames; f++) { let s = 0; for (let c = 0; c < channels; c++, p += 2) s += view.getInt16(p, le); out[f] = s * scale; }
      break;
    case 'i3':
      for (let f = 0; f < frames; f++) {
        let s = 0;
        for (let c = 0; c < channels; c++, p += 3) {
          // 24-bit: assemble the three bytes, then sign-extend through a 32-bit shift pair.
          const v = le
            ? view.getUint8(p) | (view.getUint8(p + 1) << 8) | (view.getUint8(p + 2) << 16)
            : (view.getUint8(p) << 16) | (view.getUint8(p + 1) << 8) | view.getUint8(p + 2);
          s += (v << 8) >> 8;
        }
        out[f] = s * scale;
      }
      break;
    case 'i4':
      for (let f = 0; f < frames; f++) { let s = 0; for (let c = 0; c < channels; c++, p += 4) s += view.getInt32(p, le); out[f] = s * scale; }
      break;
    case 'f4':
      for (let f = 0; f < frames; f++) { let s = 0; for (let c = 0; c < channels; c++, p += 4) s += view.getFloat32(p, le); out[f] = s * scale; }
      break;
    case 'f8':
      for (let f = 0; f < frames; f++) { let s = 0; for (let c = 0; c < channels; c++, p += 8) s += view.getFloat64(p, le); out[f] = s * scale; }
      break;
    default:
      throw new EarshotError('E_AUDIO_FORMAT', `${fileName}: ${enc.kind} samples of ${enc.bytes} bytes are not supported; convert it with \`sox ${fileName} -e signed -b 16 out.wav\``);
  }
  if (p !== n * enc.bytes) throw new Error(`pcmToMono: read ${p} bytes, expected ${n * enc.bytes}`); // internal invariant
  if (enc.kind === 'float') assertFinite(out, fileName, firstFrame);
  return out;
}

/** A NaN or infinity in any channel survives the channel average, so checking the mono output suffices. */
function assertFinite(samples: Float32Array, fileName: string, firstFrame: number): void {
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]!;
    if (v - v !== 0) {
      throw new EarshotError(
        'E_AUDIO_FORMAT',
        `${fileName}: float sample frame ${firstFrame + i} is ${v}; the file holds NaN or infinite values, so it is corrupt or was written by a broken tool. Re-export it from its source recording`,
      );
    }
  }
}
