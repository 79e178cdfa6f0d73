// .npy I/O checked against real NumPy (/usr/bin/python3 from Debian's python3-numpy): files we write
// must load in NumPy with the same shape, dtype and bytes, and files NumPy writes must read back here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from '../../src/training/npy.ts';
import { EarshotError } from '../../src/core/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-npy-'));
const python = (code: string, ...args: string[]) => execFileSync('/usr/bin/python3', ['-c', code, ...args], { encoding: 'utf8' }).trim();
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Values with fractions and signs, so a byte-order or dtype mix-up cannot go unnoticed. */
function ramp(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 100 - i / 7);
}

test('encodeNpy writes a v1.0 header: magic, 64-byte aligned, newline-terminated, exact dict', () => {
  for (const shape of [[], [5], [3, 4], [0, 40], [2, 3, 7]]) {
    const n = shape.reduce((a, d) => a * d, 1);
    const bytes = encodeNpy(ramp(n), shape);
    assert.equal([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLength = bytes[8]! | (bytes[9]! << 8);
    assert.is((10 + headerLength) % 64, 0, `header for ${JSON.stringify(shape)}`);
    assert.is(bytes[10 + headerLength - 1], 0x0a);
    assert.is(bytes.length, 10 + headerLength + 4 * n);
    const header = Buffer.from(bytes.subarray(10, 10 + headerLength)).toString('latin1').trimEnd();
    const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
    assert.is(header, `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`);
  }
  assert.throws(() => encodeNpy(ramp(5), [2, 3]), /holds 6 values but data has 5/);
});

test('NumPy loads what writeNpy wrote: same shape, dtype, sum and bytes', async () => {
  for (const shape of [[1000], [37, 40], [2, 3, 7], [], [0, 13]]) {
    const n = shape.reduce((a, d) => a * d, 1);
    const data = ramp(n);
    const file = join(tmp, `w${shape.join('x')}.npy`);
    await writeNpy(file, data, shape);
    const out = python(
      'import sys, hashlib, numpy; a = numpy.load(sys.argv[1]); print(a.shape, a.dtype, repr(float(a.astype(numpy.float64).sum())), hashlib.sha256(a.tobytes()).hexdigest())',
      file,
    );
    let sum = 0;
    for (const v of data) sum += v;
    const pyShape = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
    const sha = createHash('sha256').update(new Uint8Array(data.buffer)).digest('hex');
    const [shapePart, rest] = [out.slice(0, out.indexOf(')') + 1), out.slice(out.indexOf(')') + 2).split(' ')];
    assert.is(shapePart, pyShape);
    assert.is(rest![0], 'float32');
    assert.ok(Math.abs(Number(rest![1]) - sum) <= 1e-9 * Math.max(1, Math.abs(sum)), `sum ${rest![1]} vs ${sum}`);
    assert.is(rest![2], sha, `bytes of ${pyShape}`);
  }
});

test('readNpy reads what NumPy wrote: <f4, <f8, <i2, <i4, format 1.0 and 2.0', async () => {
  const script = `
import sys, json, numpy
from numpy.lib import format as npformat
out = {}
for dt, shape, version in [('<f4', (4, 5), (1, 0)), ('<f8', (7,), (1, 0)), ('<i2', (3, 3), (1, 0)), ('<i4', (2, 2, 2), (2, 0)), ('<f4', (), (1, 0))]:
    n = int(numpy.prod(shape))
    a = (numpy.sin(numpy.arange(n) * 0.37) * 1000 - 3).astype(dt).reshape(shape)
    path = f"{sys.argv[1]}/np_{dt[1:]}_{len(shape)}d_v{version[0]}.npy"
    with open(path, 'wb') as f:
        npformat.write_array(f, a, version=version)
    out[path] = {'dtype': dt, 'shape': list(shape), 'values': a.ravel().tolist()}
print(json.dumps(out))`;
  const expected = JSON.parse(python(script, tmp)) as Record<string, { dtype: string; shape: number[]; values: number[] }>;
  assert.is(Object.keys(expected).length, 5);
  for (const [path, want] of Object.entries(expected)) {
    const got = await readNpy(path);
    assert.is(got.dtype, want.dtype, path);
    assert.equal(got.shape, want.shape, path);
    assert.equal(Array.from(got.data), want.values, path); // float32 -> float64 widening is exact on both sides
  }
  // Version 2.0 really was exercised: its header length is a uint32.
  const v2 = Object.keys(expected).find((p) => p.endsWith('_v2.npy'))!;
  assert.is(readFileSync(v2)[6], 2);
});

test('bad .npy files give E_AUDIO_FORMAT / E_AUDIO_IO naming the file and what to do', async () => {
  python(
    `import sys, numpy
numpy.save(sys.argv[1] + '/big.npy', numpy.zeros(3, dtype='>f4'))
numpy.save(sys.argv[1] + '/fortran.npy', numpy.asfortranarray(numpy.zeros((2, 3), dtype='<f4')))
numpy.save(sys.argv[1] + '/u8.npy', numpy.zeros(3, dtype='u1'))`,
    tmp,
  );
  const cases: [string, string, RegExp][] = [
    ['big.npy', 'E_AUDIO_FORMAT', /dtype '>f4' is not supported.*astype/],
    ['fortran.npy', 'E_AUDIO_FORMAT', /Fortran order.*ascontiguousarray/],
    ['u8.npy', 'E_AUDIO_FORMAT', /dtype '\|u1' is not supported/],
    ['missing.npy', 'E_AUDIO_IO', /ENOENT/],
  ];
  const good = encodeNpy(ramp(100), [10, 10]);
  writeFileSync(join(tmp, 'cut.npy'), good.subarray(0, good.length - 4));
  writeFileSync(join(tmp, 'cut-header.npy'), good.subarray(0, 40));
  writeFileSync(join(tmp, 'text.npy'), 'not numpy at all');
  cases.push(['cut.npy', 'E_AUDIO_FORMAT', /truncated: shape \(10, 10\) needs 400 data bytes, 396 present/]);
  cases.push(['cut-header.npy', 'E_AUDIO_FORMAT', /header is truncated/]);
  cases.push(['text.npy', 'E_AUDIO_FORMAT', /not a NumPy .npy file/]);
  for (const [name, code, message] of cases) {
    const path = join(tmp, name);
    try {
      await readNpy(path);
      assert.unreachable(`${name} should fail`);
    } catch (e) {
      assert.instance(e, EarshotError, `${name}: ${e}`);
      assert.is((e as EarshotError).code, code, name);
      assert.ok((e as Error).message.includes(path), `${name}: names the file: ${(e as Error).message}`);
      assert.match((e as Error).message, message);
    }
  }
  const noDir = join(tmp, 'no-dir', 'x.npy');
  const err = await writeNpy(noDir, ramp(1), [1]).then(() => undefined, (e: unknown) => e);
  assert.instance(err, EarshotError);
  assert.is((err as EarshotError).code, 'E_AUDIO_IO');
  assert.match((err as Error).message, noDir);
});

test('decodeNpy of an unaligned buffer copies instead of failing', () => {
  const good = encodeNpy(ramp(9), [3, 3]);
  const shifted = new Uint8Array(good.length + 1).subarray(1);
  shifted.set(good);
  const got = decodeNpy(shifted);
  assert.equal(Array.from(got.data), Array.from(ramp(9)));
});

test.run();
