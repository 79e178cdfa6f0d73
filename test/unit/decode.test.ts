// Audio decoding against sox, the independent reference: real corpus FLAC must match sox's decode
// sample for sample, and every WAV/AIFF variant sox writes from it must decode back to the same
// audio within the quantisation step of its format. Bad inputs must give an EarshotError naming the file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudioBuffer, decodeAudioFile, type DecodedAudio } from '../../src/runtime/audio/decode.ts';
import { EarshotError } from '../../src/core/errors.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const dataDir = resolve(repoRoot, '..', 'shared', 'data');
const CLIP = join(dataDir, 'ravdess/Actor_01/03-01-01-01-01-01-01.flac');
const CORPUS_CLIPS = [
  CLIP,
  join(dataDir, 'tess/YAF_angry/YAF_back_angry.flac'),
  join(dataDir, 'emodb/03a01Fa.flac'),
  // codec-parser (the decoder's own frame splitter) drops the last frame of these two: 1 and 3342 samples
  join(dataDir, 'tess/YAF_happy/YAF_chief_happy.flac'),
  join(dataDir, 'ravdess/Actor_20/03-01-01-01-02-02-20.flac'),
];
const tmp = mkdtempSync(join(tmpdir(), 'earshot-decode-'));

const sox = (...args: string[]) => execFileSync('sox', args, { maxBuffer: 1 << 28 });
const soxSampleCount = (file: string) => Number(execFileSync('soxi', ['-s', file], { encoding: 'utf8' }).trim());
const soxInt16 = (file: string) => {
  const raw = sox('-D', file, '-t', 'raw', '-e', 'signed', '-b', '16', '-');
  return new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2);
};
const ref = soxInt16(CLIP);
/** Writes the clip to tmp/name with sox output options, then effects (sox's argument order). */
const make = (name: string, outputOptions: string[] = [], effects: string[] = []) => {
  const out = join(tmp, name);
  sox('-D', CLIP, ...outputOptions, out, ...effects); // -D: no dither, so reduced bit depths are plain rounding
  return out;
};
const wavFormatTag = (file: string) => readFileSync(file).readUInt16LE(20);

/** Largest |decoded - expected/32768| over the clip. */
function maxError(d: DecodedAudio, expected: ArrayLike<number>): number {
  assert.is(d.samples.length, expected.length, 'sample count');
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(d.samples[i]! - expected[i]! / 32768));
  return worst;
}

async function rejects(file: string | Uint8Array, code: string, ...mustMention: (string | RegExp)[]): Promise<EarshotError> {
  const name = typeof file === 'string' ? file : 'buffer.bin';
  try {
    const d = typeof file === 'string' ? await decodeAudioFile(file) : await decodeAudioBuffer(file, name);
    throw new Error(`${name} decoded (${d.format}, ${d.samples.length} samples) but should have failed with ${code}`);
  } catch (e) {
    if (!(e instanceof EarshotError)) throw e;
    assert.is(e.code, code, e.message);
    assert.ok(e.message.includes(name), `message names the file: ${e.message}`);
    for (const m of mustMention) assert.ok(typeof m === 'string' ? e.message.includes(m) : m.test(e.message), `message mentions ${m}: ${e.message}`);
    return e;
  }
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('corpus FLAC (RAVDESS, TESS, EmoDB) decodes to 16 kHz mono identical to sox, sample for sample', async () => {
  for (const file of CORPUS_CLIPS) {
    const d = await decodeAudioFile(file);
    const expected = soxInt16(file);
    assert.is(d.format, 'flac/16');
    assert.is(d.sampleRate, 16000);
    assert.is(d.channels, 1);
    assert.is(d.samples.length, soxSampleCount(file));
    assert.ok(d.samples.length > 16000, `${file}: a spoken sentence lasts over a second`);
    assert.is(d.durationSec, d.samples.length / 16000);
    let mismatches = 0;
    for (let i = 0; i < expected.length; i++) if (d.samples[i]! * 32768 !== expected[i]) mismatches++;
    assert.is(mismatches, 0, `${file}: samples differing from sox`);
  }
});

test('24-bit and stereo FLAC (sox-encoded) decode exactly, MD5 verified', async () => {
  const f24 = await decodeAudioFile(make('s24.flac', ['-b', '24']));
  assert.is(f24.format, 'flac/24');
  assert.is(maxError(f24, ref), 0);
  const reversed = make('rev-for-flac.wav', [], ['reverse']);
  const stereo = join(tmp, 'stereo.flac');
  sox('-M', CLIP, reversed, stereo);
  const rev = soxInt16(reversed);
  const st = await decodeAudioFile(stereo);
  assert.is(st.channels, 2);
  assert.is(maxError(st, Array.from(ref, (v, i) => (v + rev[i]!) / 2)), 0);
  // Some taggers put an ID3v2 tag (10-byte header + syncsafe size) before 'fLaC'.
  const id3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 20, ...new Uint8Array(20)]);
  const tagged = await decodeAudioBuffer(new Uint8Array([...id3, ...readFileSync(CLIP)]), 'tagged.flac');
  assert.is(maxError(tagged, ref), 0);
});

// [file name, sox output options, expected format, expected WAV format tag, tolerance vs the 16-bit clip]
const VARIANTS: [string, string[], string, number, number][] = [
  ['u8.wav', ['-b', '8'], 'wav/pcm8', 0x0001, 0.5 / 128], // rounding to 8 bits: half an 8-bit step
  ['s16.wav', ['-b', '16', '-t', 'wavpcm'], 'wav/pcm16', 0x0001, 0],
  ['s24.wav', ['-b', '24', '-t', 'wavpcm'], 'wav/pcm24', 0x0001, 0],
  ['s24-extensible.wav', ['-b', '24'], 'wav/pcm24', 0xfffe, 0], // sox writes EXTENSIBLE for > 16 bits
  ['s32.wav', ['-b', '32'], 'wav/pcm32', 0xfffe, 0],
  ['f32.wav', ['-e', 'floating-point', '-b', '32', '-t', 'wavpcm'], 'wav/float32', 0x0003, 0],
  ['f64.wav', ['-e', 'floating-point', '-b', '64'], 'wav/float64', 0x0003, 0],
];

test('WAV variants decode to the same audio within the quantisation of their format', async () => {
  for (const [name, args, format, tag, tolerance] of VARIANTS) {
    const file = make(name, args);
    assert.is(wavFormatTag(file), tag, `${name}: the fixture exercises format tag 0x${tag.toString(16)}`);
    const d = await decodeAudioFile(file);
    assert.is(d.format, format, name);
    assert.is(d.sampleRate, 16000);
    assert.is(d.channels, 1);
    const err = maxError(d, ref);
    assert.ok(err <= tolerance, `${name}: max error ${err} > ${tolerance}`);
    if (tolerance > 0) assert.ok(err > 0, `${name}: an 8-bit file cannot match 16-bit audio exactly`);
  }
});

/** Rewrites a plain WAV's 'fmt ' chunk as WAVE_FORMAT_EXTENSIBLE (sox never writes it for float). */
function toExtensible(wav: Uint8Array): Uint8Array {
  const fmtSize = new DataView(wav.buffer, wav.byteOffset).getUint32(16, true);
  const fmt = new Uint8Array(8 + 40);
  const v = new DataView(fmt.buffer);
  fmt.set(wav.subarray(12, 12 + 8 + 16)); // 'fmt ', size, and the 16 common bytes
  v.setUint32(4, 40, true);
  v.setUint16(8, 0xfffe, true);
  v.setUint16(24, 22, true); // cbSize
  v.setUint16(26, v.getUint16(22, true), true); // valid bits = container bits
  fmt.set([wav[20]!, wav[21]!, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71], 32); // sub-format GUID
  return new Uint8Array([...wav.subarray(0, 12), ...fmt, ...wav.subarray(12 + 8 + fmtSize)]);
}

test('WAVE_FORMAT_EXTENSIBLE float is read; an unknown sub-format GUID is refused', async () => {
  const plain = new Uint8Array(readFileSync(make('f32-plain.wav', ['-t', 'wavpcm', '-e', 'floating-point', '-b', '32'])));
  const ext = toExtensible(plain);
  assert.is(new DataView(ext.buffer).getUint16(20, true), 0xfffe);
  const d = await decodeAudioBuffer(ext, 'f32-extensible.wav');
  assert.is(d.format, 'wav/float32');
  assert.is(maxError(d, ref), 0);
  ext[12 + 8 + 24 + 10] = 0x42; // corrupt the GUID tail
  await rejects(ext, 'E_AUDIO_FORMAT', 'GUID');
});

test('stereo and 4-channel files are averaged to mono; 4 channels are written as EXTENSIBLE', async () => {
  const reversed = make('rev.wav', [], ['reverse']);
  const stereo = join(tmp, 'stereo.wav');
  sox('-M', CLIP, reversed, stereo);
  const rev = soxInt16(reversed);
  const d = await decodeAudioFile(stereo);
  assert.is(d.channels, 2);
  assert.is(maxError(d, Array.from(ref, (v, i) => (v + rev[i]!) / 2)), 0);

  const quad = join(tmp, 'quad.wav');
  sox('-M', CLIP, reversed, CLIP, CLIP, quad);
  assert.is(wavFormatTag(quad), 0xfffe);
  const q = await decodeAudioFile(quad);
  assert.is(q.channels, 4);
  assert.ok(maxError(q, Array.from(ref, (v, i) => (3 * v + rev[i]!) / 4)) < 1e-7);
});

test('44.1 and 48 kHz files keep their rate and match sox decoding them', async () => {
  for (const [name, options, rate] of [['r44.wav', [], 44100], ['r48-f32.wav', ['-e', 'floating-point', '-b', '32'], 48000]] as const) {
    const file = make(name, [...options], ['rate', String(rate)]);
    const d = await decodeAudioFile(file);
    assert.is(d.sampleRate, rate);
    assert.is(d.samples.length, soxSampleCount(file));
    // sox's own 16-bit decode rounds the float file: within half a 16-bit step.
    assert.ok(maxError(d, soxInt16(file)) <= 0.5 / 32768 + 1e-9, name);
  }
});

test('AIFF 16/24-bit, AIFF-C NONE and sowt decode to the clip exactly', async () => {
  for (const [name, args, format] of [['a16.aiff', [], 'aiff/16'], ['a24.aiff', ['-b', '24'], 'aiff/24'], ['c16.aifc', ['-t', 'aifc'], 'aifc/16']] as const) {
    const d = await decodeAudioFile(make(name, [...args]));
    assert.is(d.format, format);
    assert.is(d.sampleRate, 16000);
    assert.is(maxError(d, ref), 0, name);
  }
  // 'sowt' is AIFF-C with little-endian samples (what macOS writes): rewrite the NONE file.
  const aifc = new Uint8Array(readFileSync(join(tmp, 'c16.aifc')));
  const text = Buffer.from(aifc).toString('latin1');
  aifc.set(Buffer.from('sowt'), text.indexOf('NONE'));
  const ssnd = text.indexOf('SSND') + 16;
  for (let i = ssnd; i + 1 < aifc.length; i += 2) [aifc[i], aifc[i + 1]] = [aifc[i + 1]!, aifc[i]!];
  const d = await decodeAudioBuffer(aifc, 'sowt.aifc');
  assert.is(d.format, 'aifc/sowt16');
  assert.is(maxError(d, ref), 0);
});

/** A canonical 44-byte-header 16-bit WAV of the clip, for the header surgery below. */
const pcm16 = () => new Uint8Array(readFileSync(make('base16.wav', ['-t', 'wavpcm', '-b', '16'])));

test('streamed WAVs (data size 0xFFFFFFFF, arecord 0x7FFFFF00, or 0 with RIFF size 0) read to end of file', async () => {
  for (const [riff, data] of [[0xffffffff, 0xffffffff], [0x7fffff24, 0x7fffff00], [0, 0]]) {
    const b = pcm16();
    const v = new DataView(b.buffer);
    v.setUint32(4, riff, true);
    v.setUint32(40, data, true);
    const withPartialFrame = new Uint8Array([...b, 0x12]); // a writer killed mid-frame
    assert.is(maxError(await decodeAudioBuffer(withPartialFrame, 'streamed.wav'), ref), 0, `sizes ${riff}/${data}`);
  }
});

test('unknown chunks with odd sizes are skipped, RF64 with a ds64 chunk is read', async () => {
  const b = pcm16();
  const list = new Uint8Array([...Buffer.from('LIST'), 5, 0, 0, 0, ...Buffer.from('INFOx'), 0 /* pad byte */]);
  const withList = new Uint8Array([...b.subarray(0, 36), ...list, ...b.subarray(36)]);
  assert.is(maxError(await decodeAudioBuffer(withList, 'list.wav'), ref), 0);

  const ds64 = new Uint8Array(8 + 28);
  const dv = new DataView(ds64.buffer);
  ds64.set(Buffer.from('ds64'));
  dv.setUint32(4, 28, true);
  dv.setUint32(8, b.length + 36 - 8, true); // riff size (low, high)
  dv.setUint32(16, b.length - 44, true); // data size (low, high)
  dv.setUint32(24, ref.length, true); // sample count (low, high); table length 0
  const rf64 = new Uint8Array([...Buffer.from('RF64'), 0xff, 0xff, 0xff, 0xff, ...b.subarray(8, 12), ...ds64, ...b.subarray(12)]);
  new DataView(rf64.buffer).setUint32(rf64.length - (b.length - 40), 0xffffffff, true);
  const d = await decodeAudioBuffer(rf64, 'rf64.wav');
  assert.is(d.format, 'wav/pcm16');
  assert.is(maxError(d, ref), 0);
});

test('bad files: missing, directory, empty, text, PNG, MP3, truncated header', async () => {
  await rejects(join(tmp, 'no-such.wav'), 'E_AUDIO_IO', 'no such file');
  mkdirSync(join(tmp, 'a-dir.wav'));
  await rejects(join(tmp, 'a-dir.wav'), 'E_AUDIO_IO', 'directory');
  const write = (name: string, bytes: Uint8Array | string) => (writeFileSync(join(tmp, name), bytes), join(tmp, name));
  await rejects(write('empty.wav', ''), 'E_AUDIO_FORMAT', 'empty');
  await rejects(write('notes.wav', 'these are my notes, not a recording\n'), 'E_AUDIO_FORMAT', 'text file');
  await rejects(write('image.flac', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])), 'E_AUDIO_FORMAT', 'PNG');
  await rejects(write('song.wav', new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 2, 0, 0, 0xff, 0xfb, 0x90, 0x44])), 'E_AUDIO_FORMAT', 'MP3', 'ffmpeg');
  await rejects(write('voice.wav', new Uint8Array([...Buffer.from('OggS'), 0, 2, ...new Uint8Array(30)])), 'E_AUDIO_FORMAT', 'Ogg');
  await rejects(write('clip.wav', new Uint8Array([...Buffer.from('RIFF'), 100, 0, 0, 0, ...Buffer.from('AVI LIST'), ...new Uint8Array(20)])), 'E_AUDIO_FORMAT', "not WAVE (type 'AVI ')");
  const b = pcm16();
  await rejects(write('hdr8.wav', b.subarray(0, 8)), 'E_AUDIO_FORMAT', 'truncated');
  await rejects(write('hdr2.flac', new Uint8Array([0x66, 0x4c])), 'E_AUDIO_FORMAT', 'truncated');
  await rejects(write('hdr30.wav', b.subarray(0, 30)), 'E_AUDIO_FORMAT', 'truncated');
  await rejects(write('hdr44.wav', b.subarray(0, 44)), 'E_AUDIO_FORMAT', /truncated: its data chunk declares \d+ bytes but only 0/);
});

test('bad WAVs: truncated data, zero-length data, partial frame, unsupported encodings, NaN', async () => {
  const write = (name: string, bytes: Uint8Array) => (writeFileSync(join(tmp, name), bytes), join(tmp, name));
  const b = pcm16();
  const dataBytes = b.length - 44;
  await rejects(write('cut.wav', b.subarray(0, 44 + 1000)), 'E_AUDIO_FORMAT', 'truncated', String(dataBytes), '1000', 're-record');

  const empty = b.slice(0, 44);
  new DataView(empty.buffer).setUint32(4, 36, true);
  new DataView(empty.buffer).setUint32(40, 0, true);
  await rejects(write('zero.wav', empty), 'E_AUDIO_FORMAT', 'no audio');

  const odd = b.slice(0, 44 + 1001);
  new DataView(odd.buffer).setUint32(40, 1001, true);
  await rejects(write('odd.wav', odd), 'E_AUDIO_FORMAT', 'whole number');

  for (const [encoding, tag, what] of [['mu-law', '0x0007', 'mu-law'], ['a-law', '0x0006', 'A-law'], ['ima-adpcm', '0x0011', 'IMA ADPCM'], ['ms-adpcm', '0x0002', 'Microsoft ADPCM']]) {
    await rejects(make(`${encoding}.wav`, ['-e', encoding!]), 'E_AUDIO_FORMAT', tag!, what!, 'sox', '-e signed -b 16');
  }

  const f32 = new Uint8Array(readFileSync(make('nan.wav', ['-t', 'wavpcm', '-e', 'floating-point', '-b', '32'])));
  const sample20000 = Buffer.from(f32).indexOf('data') + 8 + 4 * 20000; // sox adds a 'fact' chunk before the data
  new DataView(f32.buffer).setFloat32(sample20000, NaN, true);
  await rejects(write('nan.wav', f32), 'E_AUDIO_FORMAT', 'NaN', 'frame 20000');
  new DataView(f32.buffer).setFloat32(sample20000, -Infinity, true);
  await rejects(write('inf.wav', f32), 'E_AUDIO_FORMAT', 'Infinity');
});

test('bad FLAC and AIFF: truncated, flipped bytes, wrong MD5, header only', async () => {
  const write = (name: string, bytes: Uint8Array) => (writeFileSync(join(tmp, name), bytes), join(tmp, name));
  const flac = new Uint8Array(readFileSync(CLIP));
  await rejects(write('half.flac', flac.subarray(0, flac.length >> 1)), 'E_AUDIO_FORMAT', 'truncated', 'CRC-16');
  // Cut exactly before the last frame (offset from `flac -a`, the reference tool): every frame is
  // intact, only STREAMINFO's sample count can tell.
  const analysis = execFileSync('flac', ['-a', '-c', CLIP], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const lastFrame = Number([...analysis.matchAll(/^frame=\d+\toffset=(\d+)/gm)].at(-1)![1]);
  await rejects(write('lastframe.flac', flac.subarray(0, lastFrame)), 'E_AUDIO_FORMAT', `declares ${ref.length} samples but its frames hold`);
  const firstFrame = Number(/^frame=0\toffset=(\d+)/m.exec(analysis)![1]);
  await rejects(write('metadata-only.flac', flac.subarray(0, firstFrame)), 'E_AUDIO_FORMAT', 'no audio frames');
  await rejects(write('hdr.flac', flac.subarray(0, 30)), 'E_AUDIO_FORMAT', 'truncated');
  await rejects(write('metadata.flac', flac.subarray(0, 50)), 'E_AUDIO_FORMAT', 'metadata is truncated');
  const flipped = flac.slice();
  for (let i = 12000; i < 12040; i++) flipped[i]! ^= 0x5a;
  await rejects(write('flipped.flac', flipped), 'E_AUDIO_FORMAT', 'damaged');
  const badMd5 = flac.slice();
  badMd5[30]! ^= 0xff; // inside STREAMINFO's MD5 signature (bytes 26..41)
  await rejects(write('md5.flac', badMd5), 'E_AUDIO_FORMAT', 'MD5');

  const aiff = new Uint8Array(readFileSync(make('t.aiff')));
  await rejects(write('cut.aiff', aiff.subarray(0, aiff.length - 1000)), 'E_AUDIO_FORMAT', 'truncated');
  await rejects(write('hdr.aiff', aiff.subarray(0, 40)), 'E_AUDIO_FORMAT', 'truncated');
});

test.run();
