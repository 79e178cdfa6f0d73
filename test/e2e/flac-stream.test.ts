// FLAC read in pieces (src/runtime/audio/flac-stream.ts): the pieces are exactly the whole decode
// (./flac.ts, itself checked against sox in test/decode.test.ts) in any piece size, damaged files
// fail with the same errors, and memory stays bounded whatever the length: the 665 kB hour
// of 48 kHz stereo silence is analysed in < 250 MB peak RSS (GNU time %M of `earshot analyze` from
// dist/, so `npm run build` first) and replayed by `run --source file:` likewise; the whole decode
// (training, eval, features) refuses it from STREAMINFO, before decoding.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isEarshotError } from '../../src/core/errors.ts';
import { decodeAudioBuffer, decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { openAudioFile, type AudioPieces } from '../../src/runtime/audio/stream.ts';
import { DATA, ROOT } from '../helpers/paths.ts';
import { waitUntil } from '../helpers/harness.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-flac-stream-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const CLIP = join(DATA, 'emodb/03a01Fa.flac');

function sox(out: string, args: string[], effects: string[] = []): string {
  const r = spawnSync('sox', [...args, join(tmp, out), ...effects]);
  assert.is(r.status, 0, String(r.stderr));
  return join(tmp, out);
}

async function readAll(p: AudioPieces, size: number | (() => number)): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let x = await p.read(typeof size === 'number' ? size : size()); x; x = await p.read(typeof size === 'number' ? size : size())) parts.push(x.slice());
  const out = new Float32Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

async function fails(path: string, ...needles: string[]): Promise<void> {
  try {
    const p = await openAudioFile(path);
    try {
      await readAll(p, 4096);
    } finally {
      await p.close();
    }
  } catch (e) {
    assert.ok(isEarshotError(e) && e.code === 'E_AUDIO_FORMAT', String(e));
    for (const n of needles) assert.match((e as Error).message, n);
    return;
  }
  assert.unreachable(`${path} was read without error`);
}

// 3 minutes of speech at 16 kHz: 44 batches of 64 Ki samples
const LONG = sox('long.flac', [CLIP, '-r', '16000', '-c', '1', '-b', '16'], ['pad', '0', '0.5', 'repeat', '60']);

test('streamed pieces equal the whole decode, in any piece size, after a rewind too', async () => {
  const stereo = sox('stereo.flac', ['-M', CLIP, CLIP, '-b', '24'], ['reverse']);
  const tagged = join(tmp, 'tagged.flac');
  const id3 = [0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 10, ...new Uint8Array(10)];
  const tag1 = [...Buffer.from('TAG'), ...new Uint8Array(125)];
  writeFileSync(tagged, new Uint8Array([...id3, ...readFileSync(LONG), ...tag1]));
  for (const [path, sizes] of [[CLIP, [1, 160, 4096]], [stereo, [160, 1024]], [LONG, [160, 4096, 100_000]], [tagged, [3333]]] as const) {
    const whole = path === tagged ? await decodeAudioBuffer(readFileSync(path), path) : await decodeAudioFile(path);
    for (const size of sizes) {
      const p = await openAudioFile(path);
      assert.equal([p.sampleRate, p.channels, p.format, p.frames], [whole.sampleRate, whole.channels, whole.format, whole.samples.length], path);
      const got = await readAll(p, size);
      assert.is(got.length, whole.samples.length, `${path} in pieces of ${size}`);
      assert.ok(got.every((v, i) => v === whole.samples[i]), `${path} in pieces of ${size}: identical samples`);
      p.rewind();
      const again = await readAll(p, () => 1 + Math.floor(Math.random() * 20_000));
      assert.ok(again.length === got.length && again.every((v, i) => v === got[i]), `${path}: the same after rewind, in random pieces`);
      await p.close();
    }
  }
});

test('a piece stays valid while the next one is read (across a batch boundary)', async () => {
  const p = await openAudioFile(LONG);
  let prev = (await p.read(50_000))!;
  let copy = prev.slice();
  for (let i = 0; i < 10; i++) {
    const next = (await p.read(50_000))!;
    assert.ok(prev.every((v, k) => v === copy[k]), `piece ${i} unchanged after the next read`);
    prev = next;
    copy = next.slice();
  }
  await p.close();
});

test('a read in flight when the reader is closed decodes nothing (libFLAC is freed): null, no runaway allocation', async () => {
  const p = await openAudioFile(LONG);
  await p.read(70_000); // the first batch is used up: the next read decodes
  const inFlight = p.read(70_000);
  await p.close();
  const before = process.memoryUsage().arrayBuffers;
  assert.is(await inFlight.catch(() => null), null);
  assert.is(await p.read(10), null);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 2 ** 20);
});

test('damaged long files: the error of the whole decode, when the damage is reached', async () => {
  const flac = new Uint8Array(readFileSync(LONG));
  const write = (name: string, bytes: Uint8Array) => (writeFileSync(join(tmp, name), bytes), join(tmp, name));
  await fails(write('half.flac', flac.subarray(0, flac.length >> 1)), 'truncated', 'CRC-16');
  const analysis = spawnSync('flac', ['-a', '-c', LONG], { encoding: 'utf8' }).stdout;
  const lastFrame = Number([...analysis.matchAll(/^frame=\d+\toffset=(\d+)/gm)].at(-1)![1]);
  await fails(write('lastframe.flac', flac.subarray(0, lastFrame)), 'STREAMINFO declares', 'but its frames hold');
  const flipped = flac.slice();
  for (let i = 1_000_000; i < 1_000_040; i++) flipped[i]! ^= 0x5a;
  await fails(write('flipped.flac', flipped), 'damaged');
  const badMd5 = flac.slice();
  badMd5[30]! ^= 0xff;
  await fails(write('md5.flac', badMd5), 'MD5');
});

test('STREAMINFO without a sample count (0): the frames are counted first', async () => {
  const flac = new Uint8Array(readFileSync(LONG));
  const whole = await decodeAudioFile(LONG);
  flac[8 + 13]! &= 0xf0;
  flac.fill(0, 8 + 14, 8 + 18);
  writeFileSync(join(tmp, 'unknown.flac'), flac);
  const p = await openAudioFile(join(tmp, 'unknown.flac'));
  assert.is(p.frames, whole.samples.length);
  assert.is((await readAll(p, 8000)).length, whole.samples.length);
  await p.close();
});

// the file: one hour of 48 kHz stereo silence, 665 kB
const ZERO1H = join(tmp, 'zero1h.flac');
function makeZero1h(): void {
  if (existsSync(ZERO1H)) return;
  const r = spawnSync('sh', ['-c', `head -c 691200000 /dev/zero | flac -s --force-raw-format --endian=little --sign=signed --channels=2 --bps=16 --sample-rate=48000 -o ${ZERO1H} -`]);
  assert.is(r.status, 0, String(r.stderr));
}

test('the whole decode (training, eval, features) refuses the silent hour from STREAMINFO, at once', async () => {
  makeZero1h();
  const t0 = Date.now();
  try {
    await decodeAudioFile(ZERO1H);
    assert.unreachable('decoded');
  } catch (e) {
    assert.ok(isEarshotError(e) && e.code === 'E_AUDIO_FORMAT', String(e));
    assert.match((e as Error).message, /60\.0 min of 2-channel audio at 48000 Hz \(345600000 samples\), more than the 16777216/);
  }
  assert.ok(Date.now() - t0 < 1000, `${Date.now() - t0} ms`);
});

test('earshot analyze of the silent hour: < 250 MB peak RSS (was 4.2 GB)', () => {
  makeZero1h();
  const r = spawnSync('/usr/bin/time', ['-f', 'peak-kb %M', process.execPath, 'bin/earshot.js', 'analyze', ZERO1H], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  const mb = Number(/peak-kb (\d+)/.exec(r.stderr)?.[1]) / 1024;
  console.log(`    analyze zero1h.flac: exit ${r.status}, peak RSS ${mb.toFixed(0)} MB`);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /no speech detected in 3600\.0 s/);
  assert.ok(mb < 250, `${mb} MB`);
});

test('earshot run --source file: of the silent hour: bounded while it replays, SIGTERM exits', async () => {
  makeZero1h();
  const child = spawn(process.execPath, ['bin/earshot.js', 'run', '--model', join(ROOT, 'test/fixtures/models/tiny-lstm.json'), '--source', `file:${ZERO1H}`, '--set', 'capture.realtime=false',
    '--state-dir', join(tmp, 'run'), '--device-id', 'flacrun', '--broker', 'mqtt://127.0.0.1:1', '--http-port', '0', '--log-format', 'json'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitUntil('the capture', () => /capture|listening/.test(err), 20_000, () => err);
    // sampled every 50 ms for up to 10 s: on an idle machine the replay (not paced) can reach the
    // end of the hour and exit before that, which is fine as long as it exited cleanly
    let peak = 0;
    for (let i = 0; i < 200 && child.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 50));
      let status = '';
      try {
        status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      } catch {
        break; // it has ended
      }
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m) peak = Number(m[1]) / 1024;
    }
    console.log(`    run --source file:zero1h.flac: peak RSS ${peak.toFixed(0)} MB while it replayed`);
    assert.ok(peak > 0 && peak < 250, `${peak} MB`);
    if (child.exitCode === null) {
      const t0 = Date.now();
      child.kill('SIGTERM');
      await exit;
      assert.ok(Date.now() - t0 < 5000, `SIGTERM took ${Date.now() - t0} ms`);
    } else assert.is(await exit, 0, err.slice(-1500));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test.run();
