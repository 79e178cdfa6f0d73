/**
 * FLAC via @wasm-audio-decoders/flac (libFLAC in WASM), fed frames we split and CRC-check ourselves
 * (see flac-frames.ts for why), then checked against the stream's own STREAMINFO: the sample count
 * and the MD5 signature of the decoded audio (RFC 9639 section 8.2) tell a damaged file from a good one.
 */
import { createHash } from 'node:crypto';
import { FLACDecoder, type FLACDecodedAudio } from '@wasm-audio-decoders/flac';
import { EarshotError } from '../../core/errors.ts';
import { splitFlacFrames } from './flac-frames.ts';
import type { DecodedAudio } from './decode.ts';

export const FLAC_REEXPORT = 're-export it (e.g. `flac -d` then `flac` again from the original) or re-copy it if the transfer was cut short';

export interface StreamInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** 0 means "unknown" in the spec */
  totalSamples: number;
  /** all zero means "not computed by the encoder" */
  md5: Uint8Array;
}

/**
 * Most samples (channels x frames) decoded whole, here: libFLAC's float channels take 4 bytes each,
 * the MD5 input and the mono copy about as much again, so 2^24 samples (6 min of 48 kHz stereo,
 * 17 min of 16 kHz mono) cost about 200 MB. Checked from STREAMINFO before decoding, and from the
 * frame headers when STREAMINFO does not say. `analyze` and `--source file:` stream FLAC of any
 * length instead (./flac-stream.ts); this path serves training, eval and `features`.
 */
export const MAX_DECODED_SAMPLES = 2 ** 24;

export async function decodeFlac(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  const info = parseStreamInfo(bytes, name);
  checkDecodedSize(info.totalSamples, info, name);
  const { frames, samples: headerSamples } = splitFlacFrames(bytes, name, FLAC_REEXPORT);
  checkDecodedSize(headerSamples, info, name);
  if (frames.length === 0) {
    throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC file has no audio frames (${info.totalSamples} samples declared): it is empty or truncated; ${FLAC_REEXPORT}`);
  }
  if (info.totalSamples !== 0 && headerSamples !== info.totalSamples) {
    throw new EarshotError(
      'E_AUDIO_FORMAT',
      `${name}: the FLAC file is truncated or damaged: STREAMINFO declares ${info.totalSamples} samples but its frames hold ${headerSamples}; ${FLAC_REEXPORT}`,
    );
  }
  const decoded = await decodeWithLibFlac(frames, name);
  const { channelData, samplesDecoded } = decoded;

  if (decoded.errors.length > 0) {
    const first = decoded.errors[0]!;
    throw new EarshotError(
      'E_AUDIO_FORMAT',
      `${name}: the FLAC stream is corrupt (${decoded.errors.length} decode error(s); first at frame ${first.frameNumber}, byte ${first.inputBytes}: ${first.message}); ${FLAC_REEXPORT}`,
    );
  }
  if (samplesDecoded === 0 || channelData.length === 0) {
    throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC file decodes to no audio (${info.totalSamples} samples declared, none decoded): it is empty or damaged; ${FLAC_REEXPORT}`);
  }
  if (samplesDecoded !== headerSamples) {
    throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC frames declare ${headerSamples} samples but ${samplesDecoded} decoded; the file is damaged: ${FLAC_REEXPORT}`);
  }
  if (channelData.length !== info.channels) {
    throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC frames carry ${channelData.length} channel(s) but STREAMINFO declares ${info.channels}; the file is damaged: ${FLAC_REEXPORT}`);
  }

  const samples = toIntegerScaleMono(channelData, samplesDecoded, info, name);
  const sampleRate = info.sampleRate;
  return { sampleRate, channels: info.channels, samples, format: `flac/${info.bitsPerSample}`, durationSec: samplesDecoded / sampleRate };
}

/** Refuses (E_AUDIO_FORMAT, exit 65) a stream whose decoded samples would exceed MAX_DECODED_SAMPLES, before decoding it. */
function checkDecodedSize(frames: number, info: StreamInfo, name: string): void {
  const samples = frames * info.channels;
  if (samples <= MAX_DECODED_SAMPLES) return;
  const minutes = (frames / info.sampleRate / 60).toFixed(1);
  throw new EarshotError(
    'E_AUDIO_FORMAT',
    `${name}: the FLAC stream holds ${minutes} min of ${info.channels}-channel audio at ${info.sampleRate} Hz (${samples} samples), more than the ${MAX_DECODED_SAMPLES} decoded at once here; \`earshot analyze\` and \`run --source file:\` read FLAC of any length in pieces; for training, split it (\`sox ${name} part.flac trim 0 300 : newfile : restart\`)`,
  );
}

/**
 * The WASM decoder scales by 1/(2^(b-1) - 1); earshot scales every integer format by 1/2^(b-1)
 * (as sox does), so the integer samples are recovered exactly (float32 holds 24 bits, and the
 * rounding error stays below 0.25 LSB), checked against the MD5, rescaled and averaged in one pass.
 */
function toIntegerScaleMono(channelData: Float32Array[], frames: number, info: StreamInfo, name: string): Float32Array {
  const channels = channelData.length;
  const out = channels === 1 ? channelData[0]! : new Float32Array(frames); // a single channel is rewritten in place
  const checkMd5 = info.bitsPerSample <= 24 && info.md5.some((b) => b !== 0);
  const bytesPerSample = Math.ceil(info.bitsPerSample / 8);
  const md5Input = checkMd5 ? new DataView(new ArrayBuffer(frames * channels * bytesPerSample)) : undefined;
  mixIntegerScale(channelData, frames, info.bitsPerSample, out, md5Input);
  if (md5Input) {
    const actual = createHash('md5').update(new Uint8Array(md5Input.buffer)).digest();
    if (!actual.equals(info.md5)) {
      throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC audio fails its MD5 check (decoded samples differ from what was encoded): the file is damaged; ${FLAC_REEXPORT}`);
    }
  }
  return out;
}

/**
 * The decoder's floats back to integers (exact: float32 holds 24 bits), averaged over the channels
 * into `out` at 1/2^(b-1), and, with `md5`, written interleaved from byte 0 as the MD5 covers them
 * (signed little-endian integers of whole bytes). Returns the MD5 input's length in bytes. Shared by
 * the whole-file decoder and the streaming one (./flac-stream.ts).
 */
export function mixIntegerScale(channelData: Float32Array[], frames: number, bitsPerSample: number, out: Float32Array, md5?: DataView): number {
  const channels = channelData.length;
  const decoderScale = 2 ** (bitsPerSample - 1) - 1;
  const outScale = 1 / (2 ** (bitsPerSample - 1) * channels);
  const bytesPerSample = Math.ceil(bitsPerSample / 8);
  let p = 0;
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const v = Math.round(channelData[c]![f]! * decoderScale);
      sum += v;
      if (md5) {
        if (bytesPerSample === 1) md5.setInt8(p, v);
        else if (bytesPerSample === 2) md5.setInt16(p, v, true);
        else {
          md5.setUint16(p, v & 0xffff, true);
          md5.setInt8(p + 2, v >> 16);
        }
        p += bytesPerSample;
      }
    }
    out[f] = sum * outScale;
  }
  return p;
}

/** Runs libFLAC once over all frames and frees its WASM instance whatever happens. */
async function decodeWithLibFlac(frames: Uint8Array[], name: string): Promise<FLACDecodedAudio> {
  const decoder = new FLACDecoder();
  try {
    await decoder.ready;
    // The library console.error()s every frame error as well as returning it; we report them
    // ourselves in one EarshotError, so silence it for the synchronous part of decodeFrames (the
    // whole decode runs before its first await, so no other code can log in between).
    const consoleError = console.error;
    let pending: Promise<FLACDecodedAudio>;
    console.error = () => {};
    try {
      pending = decoder.decodeFrames(frames);
    } finally {
      console.error = consoleError;
    }
    return await pending;
  } catch (e) {
    if (e instanceof EarshotError) throw e;
    throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC decoder rejected the file (${(e as Error).message}); ${FLAC_REEXPORT}`, { cause: e });
  } finally {
    decoder.free();
  }
}

export function parseStreamInfo(bytes: Uint8Array, name: string): StreamInfo {
  // 'fLaC', then the first metadata block, which the spec requires to be the 34-byte STREAMINFO.
  if (bytes.length < 42) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC header is truncated (${bytes.length} bytes, STREAMINFO needs 42); ${FLAC_REEXPORT}`);
  const blockType = bytes[4]! & 0x7f;
  const blockLength = (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!;
  if (blockType !== 0 || blockLength < 34) {
    throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC file does not start with a STREAMINFO block (type ${blockType}, ${blockLength} bytes); the header is damaged: ${FLAC_REEXPORT}`);
  }
  const b = (i: number) => bytes[8 + i]!;
  const sampleRate = (b(10) << 12) | (b(11) << 4) | (b(12) >> 4);
  const channels = ((b(12) >> 1) & 0x7) + 1;
  const bitsPerSample = (((b(12) & 1) << 4) | (b(13) >> 4)) + 1;
  const totalSamples = (b(13) & 0xf) * 2 ** 32 + ((b(14) << 24) >>> 0) + (b(15) << 16) + (b(16) << 8) + b(17);
  if (sampleRate === 0) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC STREAMINFO says a sample rate of 0 Hz; the header is damaged: ${FLAC_REEXPORT}`);
  if (bitsPerSample < 4) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC STREAMINFO says ${bitsPerSample} bits per sample; the header is damaged: ${FLAC_REEXPORT}`);
  return { sampleRate, channels, bitsPerSample, totalSamples, md5: bytes.slice(26, 42) };
}
