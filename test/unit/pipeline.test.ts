// EmotionPipeline on real corpus audio with a real (tiny, committed) ONNX model: results do not
// depend on how the audio is chunked, silence never reaches the model, long speech is cut,
// short bursts are dropped and counted, one inference runs at a time (newest queued segment
// wins), latency and wall-clock times follow the injected clock, and the events match the MQTT
// payload contract.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { frameCount } from '../../src/runtime/frontend/config.ts';
import { resample } from '../../src/runtime/frontend/resampler.ts';
import { EmotionClassifier } from '../../src/runtime/model/session.ts';
import { parsePipelineConfig, type PipelineConfigInput } from '../../src/runtime/pipeline/config.ts';
import { EmotionPipeline } from '../../src/runtime/pipeline/pipeline.ts';
import type { PipelineClock, PipelineResult, PipelineState } from '../../src/runtime/pipeline/types.ts';
import { toEmotionEvent, toEmotionState } from '../../src/runtime/publish/from-pipeline.ts';
import { emotionEventSchema, emotionStateSchema } from '../../src/runtime/publish/payloads.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');
const RATE = 16000;
const classifier = await EmotionClassifier.load(MODEL);

const CLIPS = ['Actor_05/03-01-05-02-01-01-05.flac', 'Actor_10/03-01-07-02-02-02-10.flac', 'Actor_17/03-01-04-01-02-01-17.flac', 'Actor_03/03-01-03-01-02-02-03.flac'];
const clips = await Promise.all(CLIPS.map(async (c) => (await decodeAudioFile(join(DATA, 'ravdess', c))).samples));

function noise(n: number, rmsDb: number, seed = 3): Float32Array {
  const x = new Float32Array(n);
  const amp = 10 ** (rmsDb / 20) * Math.sqrt(12);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32 - 0.5) * amp;
  }
  return x;
}

/** The clips one after another with `gapSec` of silence around each, plus low noise throughout. */
function conversation(parts: Float32Array[], gapSec = 1): Float32Array {
  const gap = Math.round(gapSec * RATE);
  const x = noise(parts.reduce((a, p) => a + p.length + gap, gap), -65);
  let at = gap;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) x[at + i] += p[i];
    at += p.length + gap;
  }
  return x;
}

type Chunking = number | 'random' | 'whole';

/** Feeds x at `rate` in chunks (with back-pressure, as analyze does) and collects the results. */
async function run(x: Float32Array, chunking: Chunking, config: PipelineConfigInput = {}, rate = RATE): Promise<{ results: PipelineResult[]; p: EmotionPipeline }> {
  const p = new EmotionPipeline({ classifier, config: parsePipelineConfig({ queueDepth: 8, ...config }) });
  const results: PipelineResult[] = [];
  p.on('result', (r) => results.push(r));
  let seed = 12345;
  for (let i = 0; i < x.length; ) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const n = chunking === 'whole' ? x.length : chunking === 'random' ? 1 + (seed % 5000) : chunking;
    p.push({ samples: x.subarray(i, i + n), sampleRate: rate, time: i / rate });
    i += n;
    if (p.busy) await p.drain();
  }
  await p.end();
  assert.is(p.stats().droppedInferences, 0);
  return { results, p };
}

function assertSameResults(a: PipelineResult[], b: PipelineResult[], what: string): void {
  assert.is(b.length, a.length, `${what}: ${b.length} results vs ${a.length}`);
  a.forEach((r, i) => {
    const q = b[i];
    assert.is(q.kind, r.kind);
    assert.ok(Math.abs(q.startSec - r.startSec) < 1e-9 && Math.abs(q.endSec - r.endSec) < 1e-9, `${what} #${i}: ${q.startSec}-${q.endSec} vs ${r.startSec}-${r.endSec}`);
    assert.is(q.frames, r.frames);
    assert.is(q.label, r.label, `${what} #${i}`);
    for (const l of classifier.labels) {
      if (Math.abs(q.probabilities[l] - r.probabilities[l]) > 1e-6) assert.unreachable(`${what} #${i} ${l}: ${q.probabilities[l]} vs ${r.probabilities[l]}`);
    }
  });
}

const speech = conversation(clips);

for (const mode of ['utterance', 'window'] as const) {
  test(`${mode} mode: the same results for 1600-sample, random and whole-signal chunks`, async () => {
    const config = { mode, maxUtteranceSeconds: 1.5 };
    const ref = await run(speech, 1600, config);
    assert.ok(ref.results.length >= CLIPS.length, `${ref.results.length} results`);
    for (const c of ['random', 'whole', 160] as const) assertSameResults(ref.results, (await run(speech, c, config)).results, `${mode}/${c}`);
  });
}

test('44.1 kHz input is resampled in the stream: same results for any chunking', async () => {
  const x = resample(conversation(clips.slice(0, 2)), RATE, 44100);
  const ref = await run(x, 4410, {}, 44100);
  assert.is(ref.results.length, 2);
  assertSameResults(ref.results, (await run(x, 'random', {}, 44100)).results, '44.1k random');
  // and it finds the same utterances as the 16 kHz original (edges within a hop)
  const orig = await run(conversation(clips.slice(0, 2)), 1600);
  orig.results.forEach((r, i) => assert.ok(Math.abs(r.startSec - ref.results[i].startSec) < 0.011 && Math.abs(r.endSec - ref.results[i].endSec) < 0.011));
});

test('silence and noise never reach the model', async () => {
  let calls = 0;
  const counting = Object.create(classifier) as EmotionClassifier;
  counting.classify = (f, n) => {
    calls++;
    return classifier.classify(f, n);
  };
  const p = new EmotionPipeline({ classifier: counting });
  // 10 s of noise, then 10 s of digital silence (a microphone muted). Not the other way round: a
  // noise that starts suddenly passes for speech until the floor learns it (see test/vad.test.ts)
  const x = new Float32Array(20 * RATE);
  x.set(noise(10 * RATE, -45));
  for (let i = 0; i < x.length; i += 1600) p.push({ samples: x.subarray(i, i + 1600), sampleRate: RATE, time: i / RATE });
  await p.end();
  const s = p.stats();
  assert.is(calls, 0);
  assert.is(s.segments, 0);
  assert.is(s.results, 0);
  assert.is(s.speechFrames, 0);
  assert.is(s.framesProcessed, frameCount(classifier.model.frontend, x.length));
  // the same pipeline then hears speech
  const r = await run(conversation([clips[0]]), 1600);
  assert.is(r.results.length, 1);
});

test('utterance mode cuts long speech into pieces of at most maxUtteranceSeconds', async () => {
  const { results } = await run(conversation([clips[1]]), 1600, { maxUtteranceSeconds: 1 });
  // clip 1 holds ~2.9 s of speech: two 1 s pieces and the rest
  assert.is(results.length, 3, JSON.stringify(results.map((r) => [r.startSec, r.endSec])));
  const frameSec = classifier.model.frontend.frameLength / RATE;
  const hopSec = classifier.model.frontend.hopLength / RATE;
  for (let i = 0; i < 2; i++) {
    assert.is(results[i].frames, 100);
    assert.ok(Math.abs(results[i + 1].startSec - results[i].startSec - 1) < 1e-9, 'pieces are contiguous');
    assert.ok(Math.abs(results[i].endSec - results[i].startSec - (99 * hopSec + frameSec)) < 1e-9);
  }
  assert.ok(results[2].frames < 100 && results[2].frames >= classifier.meta.window.minFrames);
});

test('window mode: windows of meta.window.frames every hopFrames, a last one aligned to the end', async () => {
  // the speech of three clips (edges from test/vad.test.ts) 0.1 s apart, inside the hang-over:
  // one stretch of about 5.9 s of speech
  const spans = [[1.0, 2.5], [1.03, 3.85], [1.0, 2.35]];
  const x = conversation(spans.map(([a, b], i) => clips[i].subarray(Math.round(a * RATE), Math.round(b * RATE))), 0.1);
  const { results, p } = await run(x, 1600, { mode: 'window' });
  const w = classifier.meta.window;
  const hopSec = classifier.model.frontend.hopLength / RATE;
  const where = JSON.stringify(results.map((r) => [r.startSec, r.endSec, r.frames]));
  // 5.9 s: windows at 0, 1, 2 s (3 s long), then one ending with the speech (0.9 s uncovered)
  assert.is(results.length, 4, where);
  assert.ok(results.every((r) => r.frames === w.frames), where);
  for (let i = 1; i < 3; i++) assert.ok(Math.abs(results[i].startSec - results[i - 1].startSec - w.hopFrames * hopSec) < 1e-9, where);
  const last = results[3];
  assert.ok(last.endSec - results[2].endSec >= w.minFrames * hopSec - 1e-9, `the last window covers at least minFrames the others did not: ${where}`);
  assert.ok(Math.abs(last.endSec - (x.length / RATE - 0.1)) < 0.1, `ends with the speech (${last.endSec})`);
  assert.ok(results.every((r) => r.kind === 'window'));
  assert.is(p.stats().segmentsDropped, 0);
});

test('segments shorter than the model minimum are dropped and counted', async () => {
  const x = noise(3 * RATE, -65);
  for (let i = RATE; i < RATE + 0.3 * RATE; i++) x[i] += 0.1 * Math.sin((2 * Math.PI * 200 * i) / RATE); // 300 ms "ah"
  const { results, p } = await run(x, 1600);
  assert.is(results.length, 0);
  assert.is(p.stats().segmentsDropped, 1);
});

test('one inference in flight; while it runs the newest segment waits, older ones are dropped', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const gated = Object.create(classifier) as EmotionClassifier;
  let calls = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  gated.classify = async (f, n) => {
    calls++;
    maxConcurrent = Math.max(maxConcurrent, ++concurrent);
    await gate;
    try {
      return await classifier.classify(f, n);
    } finally {
      concurrent--;
    }
  };
  const p = new EmotionPipeline({ classifier: gated }); // queueDepth 1
  const results: PipelineResult[] = [];
  p.on('result', (r) => results.push(r));
  const x = conversation(clips);
  for (let i = 0; i < x.length; i += 1600) p.push({ samples: x.subarray(i, i + 1600), sampleRate: RATE, time: i / RATE });
  const ended = p.end();
  assert.is(p.stats().segments, 4);
  assert.is(p.stats().droppedInferences, 2, 'segments 2 and 3 were replaced while 1 ran');
  release();
  await ended;
  assert.is(calls, 2);
  assert.is(maxConcurrent, 1);
  assert.is(results.length, 2);
  const ref = (await run(x, 1600)).results;
  assertSameResults([ref[0], ref[3]], results, 'first and newest');
});

test('latency and wall-clock times follow the injected clock', async () => {
  const clock = { t: 0, now() { return this.t; }, epochMs() { return 1_700_000_000_000 + this.t; } } satisfies PipelineClock & { t: number };
  const p = new EmotionPipeline({ classifier, clock, config: parsePipelineConfig({ smoothing: { minConfidence: 0, minDwellMs: 0 } }) });
  const results: PipelineResult[] = [];
  const states: PipelineState[] = [];
  p.on('result', (r) => results.push(r));
  p.on('state', (s) => states.push(s));
  const x = conversation([clips[0]]);
  for (let k = 0; k * 1600 < x.length; k++) {
    clock.t = k * 100; // chunk k arrives 100 ms after chunk k-1: real time
    p.push({ samples: x.subarray(k * 1600, (k + 1) * 1600), sampleRate: RATE, time: k * 0.1 });
  }
  clock.t = 60_000; // the result is taken at 60 s
  await p.end();
  assert.is(results.length, 1);
  const r = results[0];
  // the last audio of the utterance arrived with chunk k = ceil(end / 0.1) - 1, at k * 100 ms
  const k = Math.ceil(r.endSec / 0.1) - 1;
  assert.ok(Math.abs(r.latencyMs - (60_000 - k * 100)) < 1e-9, `latency ${r.latencyMs} vs ${60_000 - k * 100}`);
  // it was handed over when the hang-over (300 ms) had passed, a chunk or so later
  const waited = r.latencyMs - r.inferenceLatencyMs;
  assert.ok(waited >= 200 && waited <= 500, `handed over ${waited} ms after its end arrived`);
  // wall clock: the chunk holding stream time t ends at the epoch of its arrival
  assert.ok(Math.abs(Date.parse(r.end) - (1_700_000_000_000 + r.endSec * 1000 - 100)) <= 1);
  assert.ok(Math.abs(Date.parse(r.end) - Date.parse(r.start) - r.durationMs) <= 1);
  const s = p.stats();
  assert.equal(s.latencyMs, { p50: r.latencyMs, p99: r.latencyMs });
  // payloads: the publisher adds the id
  assert.ok(emotionEventSchema.safeParse(toEmotionEvent(r, 'kitchen-x-000001')).success);
  assert.is(states.length, 1);
  assert.ok(emotionStateSchema.safeParse(toEmotionState(states[0])).success, JSON.stringify(states[0]));
  assert.is(states[0].label, r.label);
  assert.is(states[0].timestamp, new Date(1_700_000_060_000).toISOString());
});

test('stats: frames, real-time factor, capture gaps', async () => {
  const x = conversation([clips[0]]);
  const p = new EmotionPipeline({ classifier });
  for (let i = 0; i < x.length; i += 1600) {
    // chunk 10 comes 0.5 s late in capture time: 50 hops of audio were lost upstream
    const time = i / RATE + (i >= 16000 ? 0.5 : 0);
    p.push({ samples: x.subarray(i, i + 1600), sampleRate: RATE, time });
  }
  await p.end();
  const s = p.stats();
  assert.ok(Math.abs(s.audioSeconds - x.length / RATE) < 1e-9);
  assert.is(s.framesProcessed, frameCount(classifier.model.frontend, x.length));
  assert.is(s.droppedFrames, 50);
  assert.ok(s.realTimeFactor > 0 && s.realTimeFactor < 0.5, `RTF ${s.realTimeFactor}`);
  assert.ok(s.speechFrames > 100 && s.speechFrames < 200, `${s.speechFrames} speech frames`);
  assert.is(s.results, 1);
});

test('a throwing listener or a failing inference is logged and counted, not fatal', async () => {
  const warnings: string[] = [];
  let fail = true;
  const flaky = Object.create(classifier) as EmotionClassifier;
  flaky.classify = async (f, n) => {
    if (fail) {
      fail = false;
      throw new Error('session lost');
    }
    return classifier.classify(f, n);
  };
  const p = new EmotionPipeline({ classifier: flaky, log: { warn: (m) => warnings.push(m) } });
  const got: PipelineResult[] = [];
  const errors: Error[] = [];
  p.on('result', () => {
    throw new Error('consumer bug');
  });
  p.on('result', (r) => got.push(r));
  p.on('error', (e) => errors.push(e));
  const x = conversation(clips.slice(0, 3));
  for (let i = 0; i < x.length; i += 1600) {
    p.push({ samples: x.subarray(i, i + 1600), sampleRate: RATE, time: i / RATE });
    if (p.busy) await p.drain();
  }
  await p.end();
  assert.is(errors.length, 1);
  assert.match(errors[0].message, /inference failed on .*session lost/);
  assert.is(got.length, 2, 'the other two utterances still came through');
  const s = p.stats();
  assert.is(s.inferenceErrors, 1);
  assert.is(s.listenerErrors, 2);
  assert.is(warnings.length, 1, 'the listener bug is logged once');
  assert.match(warnings[0], /consumer bug/);
});

test('an unsupported capture rate is refused up front with E_SAMPLE_RATE', () => {
  const p = new EmotionPipeline({ classifier });
  assert.throws(() => p.prepare(11025), (e: Error & { code?: string }) => e.code === 'E_SAMPLE_RATE' && /11025/.test(e.message));
  assert.throws(() => p.push({ samples: new Float32Array(1103), sampleRate: 11025, time: 0 }), /11025/);
  p.prepare(48000); // fine
});

test('config errors name every bad field', () => {
  assert.throws(
    () => new EmotionPipeline({ classifier, config: parsePipelineConfig({ mode: 'sentence' as 'window', vad: { thresholdDb: -1 }, smoothing: { alpha: 2 } }) }),
    (e: Error) => /mode/.test(e.message) && /vad\.thresholdDb/.test(e.message) && /smoothing\.alpha/.test(e.message),
  );
});

test.after(() => classifier.close());
test.run();
