/**
 * NumPy .npy files (format spec: numpy/lib/format.py, "NEP 1"), the hand-over format between
 * `earshot features` and the Python training scripts. Writes v1.0 '<f4' C-order arrays; reads
 * v1/v2/v3 headers with '<f4', '<f8', '<i2', '<i4'. Typed arrays use the host's byte order,
 * which is little-endian on every target earshot supports (x86-64, ARM64).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { EarshotError } from '../core/errors.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** numpy pads the header so the data starts on a 64-byte boundary (format.py ARRAY_ALIGN). */
const ARRAY_ALIGN = 64;

const DTYPES = {
  '<f4': Float32Array,
  '<f8': Float64Array,
  '<i2': Int16Array,
  '<i4': Int32Array,
} as const;
export type NpyDtype = keyof typeof DTYPES;

export interface NpyArray {
  data: Float32Array | Float64Array | Int16Array | Int32Array;
  shape: number[];
  dtype: NpyDtype;
}

/** A C-order float32 array of `shape` as .npy bytes. `shape` [] is a scalar. */
export function encodeNpy(data: Float32Array, shape: number[]): Uint8Array {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new RangeError(`encodeNpy: shape ${JSON.stringify(shape)} must be non-negative integers`);
  const count = shape.reduce((a, d) => a * d, 1);
  if (count !== data.length) throw new RangeError(`encodeNpy: shape ${JSON.stringify(shape)} holds ${count} values but data has ${data.length}`);
  // A 1-tuple needs its trailing comma in Python: (5,)
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const preamble = MAGIC.length + 2 + 2; // magic, version 1.0, uint16 header length
  const headerLength = Math.ceil((preamble + dict.length + 1) / ARRAY_ALIGN) * ARRAY_ALIGN - preamble;
  if (headerLength > 0xffff) throw new RangeError(`encodeNpy: shape ${JSON.stringify(shape)} makes the header too long for format 1.0`);
  const out = new Uint8Array(preamble + headerLength + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, headerLength, true);
  const header = dict.padEnd(headerLength - 1, ' ') + '\n';
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), preamble + headerLength);
  return out;
}

/** Written to a temporary name and renamed, so a reader never sees half a file. */
export async function writeNpy(path: string, data: Float32Array, shape: number[]): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, encodeNpy(data, shape));
    await rename(tmp, path);
  } catch (e) {
    throw new EarshotError('E_AUDIO_IO', `${path}: cannot write the .npy file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that the directory exists and is writable`, { cause: e });
  }
}

export async function readNpy(path: string): Promise<NpyArray> {
  let buf: Uint8Array;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new EarshotError('E_AUDIO_IO', `${path}: cannot read the .npy file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path`, { cause: e });
  }
  return decodeNpy(buf, path);
}

/** `name` is only used in error messages. */
export function decodeNpy(buf: Uint8Array, name = '.npy data'): NpyArray {
  const bad = (what: string) => new EarshotError('E_AUDIO_FORMAT', `${name}: ${what}; write it with numpy.save() or \`earshot features\``);
  if (buf.length < 10 || !MAGIC.every((b, i) => buf[i] === b)) throw bad('not a NumPy .npy file (no \\x93NUMPY magic)');
  const major = buf[6]!;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw bad('the .npy header is truncated');
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else {
    throw bad(`.npy format version ${major}.${buf[7]} is not supported (only 1.x, 2.x, 3.x)`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > buf.length) throw bad(`the .npy header is truncated (declares ${headerLength} bytes, ${buf.length - headerStart} present)`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(headerStart, dataStart));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad(`the .npy header is malformed: ${JSON.stringify(header.trim())}`);
  if (!(descr in DTYPES)) throw bad(`dtype '${descr}' is not supported (only ${Object.keys(DTYPES).join(', ')}); convert with a.astype('<f4')`);
  if (fortran === 'True') throw bad('the array is in Fortran order; save numpy.ascontiguousarray(a) instead');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`the .npy shape (${shapeText}) is malformed`);

  const dtype = descr as NpyDtype;
  const Ctor = DTYPES[dtype];
  const count = shape.reduce((a, d) => a * d, 1);
  const byteLength = count * Ctor.BYTES_PER_ELEMENT;
  if (dataStart + byteLength > buf.length) throw bad(`the .npy file is truncated: shape (${shapeText}) needs ${byteLength} data bytes, ${buf.length - dataStart} present`);
  // A view when the data is aligned for its type (numpy aligns to 64), a copy otherwise.
  const aligned = (buf.byteOffset + dataStart) % Ctor.BYTES_PER_ELEMENT === 0;
  const bytes = aligned ? buf.subarray(dataStart, dataStart + byteLength) : buf.slice(dataStart, dataStart + byteLength);
  const data = new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
  return { data, shape, dtype };
}
