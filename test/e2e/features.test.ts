/**
 * `earshot features` end to end as a user runs it: real corpus files in, .npy files that NumPy
 * reads and that equal the frontend's output, a manifest for training, bad files named and
 * skipped, bad configs refused before any work.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { Frontend } from '../../src/runtime/frontend/frontend.ts';
import { readNpy } from '../../src/training/npy.ts';
import { DATA } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-features-'));
const earshot = (...args: string[]) => spawnSync(process.execPath, ['bin/earshot.js', ...args], { encoding: 'utf8' });

test('features of two corpus clips and a corrupt file: .npy equal to the frontend, the bad file named, exit 1', async () => {
  const inDir = join(tmp, 'in');
  const out = join(tmp, 'out');
  spawnSync('mkdir', ['-p', inDir]);
  copyFileSync(`${DATA}/emodb/03a01Fa.flac`, join(inDir, '03a01Fa.flac'));
  copyFileSync(`${DATA}/ravdess/Actor_03/03-01-04-01-02-02-03.flac`, join(inDir, 'sad.flac'));
  const flac = readFileSync(`${DATA}/emodb/03a01Wa.flac`);
  writeFileSync(join(inDir, 'broken.flac'), flac.subarray(0, flac.length >> 1)); // truncated
  writeFileSync(join(tmp, 'cfg.json'), JSON.stringify({ mfcc: 13, extras: ['rms'], deltas: 1 }));
  const r = earshot('features', inDir, '--out', out, '--config', join(tmp, 'cfg.json'));
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /broken\.flac/);
  assert.match(r.stderr, /wrote 2 file\(s\)/);
  const fe = new Frontend({ mfcc: 13, extras: ['rms'], deltas: 1 });
  for (const name of ['03a01Fa', 'sad']) {
    const npy = await readNpy(join(out, `${name}.npy`));
    const src = name === 'sad' ? `${DATA}/ravdess/Actor_03/03-01-04-01-02-02-03.flac` : `${DATA}/emodb/03a01Fa.flac`;
    const expected = fe.computeAll((await decodeAudioFile(src)).samples);
    assert.equal(npy.shape, [expected.length / 28, 28]);
    assert.equal(Array.from(npy.data), Array.from(expected));
  }
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  assert.is(manifest.items.length, 2);
  assert.is(manifest.featureNames.length, 28);
  assert.is(manifest.frontend.mfcc, 13);
  assert.is(manifest.failed.length, 1);
  const py = spawnSync('/usr/bin/python3', ['-c', `import numpy; a = numpy.load('${join(out, 'sad.npy')}'); print(a.dtype, a.shape[1])`], { encoding: 'utf8' });
  assert.is(py.stdout.trim(), 'float32 28', py.stderr);
});

test('--corpus puts labels and speakers in the manifest', () => {
  const root = join(tmp, 'emodb');
  spawnSync('mkdir', ['-p', root]);
  for (const f of ['03a01Fa.flac', '08a01Na.flac']) copyFileSync(`${DATA}/emodb/${f}`, join(root, f));
  const out = join(tmp, 'emodb-out');
  const r = earshot('features', root, '--corpus', 'emodb', '--out', out, '--quiet');
  assert.is(r.status, 0, r.stderr);
  const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  assert.equal(m.items.map((i: { label: string; speaker: string }) => `${i.speaker}:${i.label}`), ['03:happy', '08:neutral']);
});

test('an invalid frontend config is refused with every error, before any file is written', () => {
  writeFileSync(join(tmp, 'bad.json'), JSON.stringify({ hopLength: 900, window: 'kaiser' }));
  const out = join(tmp, 'never');
  const r = earshot('features', `${DATA}/emodb/03a01Fa.flac`, '--out', out, '--config', join(tmp, 'bad.json'));
  assert.is(r.status, 78, 'EX_CONFIG');
  assert.match(r.stderr, /frontend\.hopLength: must be <= frameLength/);
  assert.match(r.stderr, /frontend\.window: must be one of/);
  assert.not.ok(existsSync(out));
});

test('a missing input is a clear error', () => {
  const r = earshot('features', join(tmp, 'nope.wav'), '--out', join(tmp, 'x'));
  assert.is(r.status, 66, 'EX_NOINPUT');
  assert.match(r.stderr, /nope\.wav: no such file or folder/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
