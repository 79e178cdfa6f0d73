// Reads without bounds: `earshot analyze` and `--source file:` read WAV/AIFF in pieces, so memory
// does not grow with a file's length, and a device such as /dev/zero is refused before a byte is
// read (it used to grow to gigabytes). The long file is generated with sox from a corpus clip into
// a temp dir at test time (never committed).
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { openAudioFile } from '../../src/runtime/audio/stream.ts';
import { FileReplaySource } from '../../src/runtime/capture/file-replay.ts';
import { CAPTURE_DEFAULTS } from '../../src/runtime/capture/config.ts';
import { EmotionClassifier } from '../../src/runtime/model/session.ts';
import { analyzeFile, WHOLE_FILE_MAX_SEC } from '../../src/runtime/pipeline/analyze-file.ts';
import { EmotionPipeline } from '../../src/runtime/pipeline/pipeline.ts';
import { parsePipelineConfig } from '../../src/runtime/pipeline/config.ts';
import { isEarshotError } from '../../src/core/errors.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-long-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');

// Memory is sampled after a full collection, so the figure is what the reader holds, not garbage
// V8 has not collected yet (that depends on GC timing and made the bound flaky on a loaded machine).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const liveExternal = (): number => {
  gc();
  return process.memoryUsage().arrayBuffers;
};
const CLIP = join(DATA, 'emodb/03a01Fa.flac');

/** `minutes` of the clip with pauses, 16 kHz mono 16-bit WAV (about 1.9 MB a minute). */
function longWav(minutes: number): string {
  const one = join(tmp, 'one.wav');
  const out = join(tmp, `long-${minutes}.wav`);
  let r = spawnSync('sox', [CLIP, '-r', '16000', '-c', '1', '-b', '16', one, 'pad', '0', '0.6']);
  assert.is(r.status, 0, String(r.stderr));
  r = spawnSync('sox', [one, out, 'repeat', String(Math.ceil((minutes * 60) / 2.5) - 1)]);
  assert.is(r.status, 0, String(r.stderr));
  return out;
}

test('/dev/zero and /dev/urandom are refused at once (E_AUDIO_IO), by analyze and by file replay', async () => {
  for (const dev of ['/dev/zero', '/dev/urandom']) {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['bin/earshot.js', 'analyze', '--model', MODEL, dev], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
    assert.is(r.status, 1, `analyze ${dev}: status ${r.status} ${r.signal ?? ''} ${r.stderr}`); // analyze: per-file errors exit 1
    assert.match(r.stderr, /character device/);
    assert.ok(Date.now() - t0 < 60000);
    for (const open of [openAudioFile, decodeAudioFile, (p: string) => FileReplaySource.fromFile(p, { ...CAPTURE_DEFAULTS, realtime: false })]) {
      try {
        await open(dev);
        assert.unreachable(`${dev} accepted`);
      } catch (e) {
        assert.ok(isEarshotError(e) && e.code === 'E_AUDIO_IO', String(e));
      }
    }
  }
});

test('a long WAV is analysed in pieces: external memory stays far below the file, the timeline is complete', async () => {
  const minutes = 20; // > WHOLE_FILE_MAX_SEC, so no whole-file copy either
  assert.ok(minutes * 60 > WHOLE_FILE_MAX_SEC);
  const path = longWav(minutes);
  const classifier = await EmotionClassifier.load(MODEL);
  const pipeline = new EmotionPipeline({ classifier, config: parsePipelineConfig({ vad: { kind: 'energy' } }) });
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)), 5);
  const a = await analyzeFile(path, pipeline);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
  await classifier.close();
  const wholeBytes = minutes * 60 * 16000 * (2 + 4); // file bytes + Float32 samples, as a whole read held them
  assert.ok(a.durationSec > minutes * 60 - 5, `duration ${a.durationSec}`);
  assert.ok(a.segments.length > minutes * 10, `only ${a.segments.length} segments`);
  assert.ok(a.segments.at(-1)!.end > minutes * 60 - 10, 'results reach the end of the file');
  assert.is(a.wholeFile, null);
  assert.ok(peak < wholeBytes / 3, `external memory grew by ${(peak / 2 ** 20).toFixed(1)} MiB; a whole read takes ${(wholeBytes / 2 ** 20).toFixed(0)} MiB`);
});

test('file replay of a long WAV reads pieces: every sample arrives, memory stays bounded', async () => {
  const path = longWav(15);
  const reader = await openAudioFile(path);
  const total = reader.frames;
  await reader.close();
  const source = await FileReplaySource.fromFile(path, { ...CAPTURE_DEFAULTS, realtime: false, chunkSamples: 1600, stallTimeoutMs: 0 });
  const base = liveExternal();
  let peak = 0;
  let got = 0;
  source.on('chunk', (c) => {
    got += c.samples.length;
    if (got % (1600 * 100) === 0) peak = Math.max(peak, liveExternal() - base);
  });
  const ended = new Promise<void>((r) => source.once('end', () => r()));
  await source.start();
  await ended;
  await source.stop();
  assert.is(got, total);
  // a whole read would hold total * 6 bytes (file + Float32 samples); the pieces hold about two of 5 s
  assert.ok(peak < (total * 6) / 20, `external memory grew by ${(peak / 2 ** 20).toFixed(1)} MiB; a whole read takes ${((total * 6) / 2 ** 20).toFixed(0)} MiB`);
});

test.run();
