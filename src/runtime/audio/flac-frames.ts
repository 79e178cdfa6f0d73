/**
 * Splits a native FLAC stream into its frames (RFC 9639, sections 8 and 9), for the WASM decoder.
 *
 * Why not the decoder's own parser (codec-parser): it silently drops the last frame of some valid
 * files (16 of the 4105 corpus files lose their final 1 to 4095 samples). Here a frame ends where
 * the next valid frame header starts (sync code + CRC-8) AND the bytes before it carry a matching
 * CRC-16 footer; the last frame ends at the end of the file. A frame whose CRC-16 never matches is
 * reported as damaged, with its number and byte offset.
 */
import { EarshotError } from '../../core/errors.ts';

export interface FlacFrames {
  frames: Uint8Array[];
  /** inter-channel samples declared by the frame headers */
  samples: number;
}

/** CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), initial 0: the frame header check. */
const CRC8 = crcTable(0x07, 8);
/** CRC-16, polynomial x^16 + x^15 + x^2 + 1 (0x8005), initial 0: the whole-frame check. */
const CRC16 = crcTable(0x8005, 16);

/** Block size codes 1..15 of the frame header (RFC 9639 table 14); 6 and 7 read the size from the header's end. */
const BLOCK_SIZES = [0, 192, 576, 1152, 2304, 4608, -1, -2, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];

export function splitFlacFrames(bytes: Uint8Array, name: string, reexport: string): FlacFrames {
  const start = firstFrameOffset(bytes, name, reexport);
  const end = endOfFrames(bytes, start);
  const frames: Uint8Array[] = [];
  let samples = 0;
  let s = start;
  while (s < end) {
    const f = findFrame(bytes, s, end, true);
    if (f.kind !== 'frame') throw frameError(f.kind, name, frames.length, s, samples, reexport);
    frames.push(bytes.subarray(s, f.end));
    samples += f.blockSize;
    s = f.end;
  }
  return { frames, samples };
}

/** The longest frame header (RFC 9639 section 9.1): sync and codes 4, coded number up to 7, block size 2, rate 2, CRC-8 1. */
export const MAX_FRAME_HEADER_BYTES = 16;

export type FrameFound = { kind: 'frame'; end: number; blockSize: number } | { kind: 'more' } | { kind: 'bad-header' } | { kind: 'bad-crc' };

/**
 * The frame that starts at `s`: it ends where the next valid frame header starts AND the bytes
 * before it carry a matching CRC-16 footer, or at `end` when `final` (the end of the stream).
 * `more`: `end` came first and more bytes may follow (`final` false): call again with more.
 */
export function findFrame(bytes: Uint8Array, s: number, end: number, final: boolean): FrameFound {
  const header = parseFrameHeader(bytes, s, end);
  if (!header) return !final && end - s < MAX_FRAME_HEADER_BYTES ? { kind: 'more' } : { kind: 'bad-header' };
  let crc = 0; // CRC-16 of bytes [s, q - 2)
  let q = s + 2;
  for (; q < end; q++) {
    if (bytes[q] === 0xff && (bytes[q + 1]! & 0xfe) === 0xf8 && q - s > header.length + 2 && crc === ((bytes[q - 2]! << 8) | bytes[q - 1]!) && parseFrameHeader(bytes, q, end)) break;
    crc = ((crc << 8) ^ CRC16[(crc >> 8) ^ bytes[q - 2]!]!) & 0xffff;
  }
  if (q === end) {
    if (!final) return { kind: 'more' };
    if (crc !== ((bytes[end - 2]! << 8) | bytes[end - 1]!)) return { kind: 'bad-crc' };
  }
  return { kind: 'frame', end: q, blockSize: header.blockSize };
}

/** The error for a frame findFrame could not take. */
export function frameError(kind: 'more' | 'bad-header' | 'bad-crc', name: string, frame: number, at: number, samples: number, reexport: string): EarshotError {
  if (kind === 'bad-header') return new EarshotError('E_AUDIO_FORMAT', `${name}: FLAC frame ${frame} at byte ${at} has no valid frame header; the file is damaged: ${reexport}`);
  return new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC stream is damaged or truncated: frame ${frame} (at byte ${at}, after ${samples} samples) fails its CRC-16 check; ${reexport}`);
}

/** Where the frames of a whole stream end: an ID3v1 tag ('TAG' + 125 bytes) may follow the last frame; it is not part of the stream. */
function endOfFrames(bytes: Uint8Array, start: number): number {
  return bytes.length >= start + 128 && isId3v1(bytes.subarray(bytes.length - 128)) ? bytes.length - 128 : bytes.length;
}

/** True when these 128 bytes are an ID3v1 tag. */
export function isId3v1(last128: Uint8Array): boolean {
  return last128.length === 128 && last128[0] === 0x54 && last128[1] === 0x41 && last128[2] === 0x47;
}

/** After 'fLaC', metadata blocks (1-byte type with a last-block flag, 3-byte length) precede the frames. */
export function firstFrameOffset(bytes: Uint8Array, name: string, reexport: string): number {
  let off = 4;
  for (;;) {
    if (off + 4 > bytes.length) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC metadata is truncated at byte ${off}; ${reexport}`);
    const last = (bytes[off]! & 0x80) !== 0;
    const length = (bytes[off + 1]! << 16) | (bytes[off + 2]! << 8) | bytes[off + 3]!;
    off += 4 + length;
    if (last) break;
  }
  if (off > bytes.length) throw new EarshotError('E_AUDIO_FORMAT', `${name}: the FLAC metadata is truncated (a block runs past the end of the file); ${reexport}`);
  return off;
}

/** Header length and block size if a valid frame header (fields not reserved, CRC-8 matching) starts at `at`. */
function parseFrameHeader(b: Uint8Array, at: number, end: number): { length: number; blockSize: number } | undefined {
  if (at + 6 > end || b[at] !== 0xff || (b[at + 1]! & 0xfe) !== 0xf8) return undefined;
  const blockCode = b[at + 2]! >> 4;
  const rateCode = b[at + 2]! & 0x0f;
  const channelCode = b[at + 3]! >> 4;
  const depthCode = (b[at + 3]! >> 1) & 0x07;
  if (blockCode === 0 || rateCode === 15 || channelCode > 10 || depthCode === 3 || (b[at + 3]! & 1) !== 0) return undefined;
  // Frame or sample number, UTF-8-style coded: the lead byte's leading ones give the byte count.
  let p = at + 4;
  const lead = b[p]!;
  const extra = lead < 0x80 ? 0 : lead >= 0xc0 && lead <= 0xfe ? Math.clz32(~(lead << 24)) - 1 : -1;
  if (extra < 0) return undefined;
  for (let i = 1; i <= extra; i++) if (p + i >= end || (b[p + i]! & 0xc0) !== 0x80) return undefined;
  p += 1 + extra;
  let blockSize = BLOCK_SIZES[blockCode]!;
  if (blockSize === -1) blockSize = b[p++]! + 1;
  else if (blockSize === -2) { blockSize = ((b[p]! << 8) | b[p + 1]!) + 1; p += 2; }
  if (rateCode === 12) p += 1;
  else if (rateCode === 13 || rateCode === 14) p += 2;
  if (p >= end) return undefined;
  let crc = 0;
  for (let i = at; i < p; i++) crc = CRC8[crc ^ b[i]!]!;
  if (crc !== b[p]) return undefined;
  return { length: p + 1 - at, blockSize };
}

function crcTable(poly: number, bits: 8 | 16): Uint16Array {
  const table = new Uint16Array(256);
  const top = 1 << (bits - 1);
  const mask = (1 << bits) - 1;
  for (let i = 0; i < 256; i++) {
    let c = i << (bits - 8);
    for (let k = 0; k < 8; k++) c = c & top ? ((c << 1) ^ poly) & mask : (c << 1) & mask;
    table[i] = c;
  }
  return table;
}
