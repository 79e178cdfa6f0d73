// The Silero VAD and the cascade on real audio: the bundled 4-utterance demo clip and RAVDESS
// speech, with noise from test/noise.test.ts's generators. What must hold: the same spans for any
// chunking; the demo's utterances found clean and at 0 dB SNR in brown noise; no speech in a
// minute of brown or pink noise alone where the energy gate does open; the cascade does not run
// the network in silence and does in speech.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { VoiceDetector } from '../../src/runtime/vad/voice-detector.ts';
import { speechSpans, type Span } from '../../src/runtime/vad/speech-spans.ts';
import { parseVadConfig as vad, type VadConfigInput } from '../../src/runtime/vad/config.ts';
import { mulberry32 } from '../../src/training/augment.ts';
import { atLevel, makeNoise, mixAtSnr } from '../../src/training/noise.ts';
import { DATA, ROOT } from '../helpers/paths.ts';

const FR = { frameLength: 400, hopLength: 160, sampleRate: 16000 };
const DEMO = join(ROOT, 'assets/demo-sequence.flac');

function detect(x: Float32Array, config: VadConfigInput, chunk: number): { spans: Span[]; calls: number } {
  const spans: Span[] = [];
  let start = -1;
  const d = new VoiceDetector(vad(config), FR, { speechStart: (f) => (start = f), speechActive() {}, speechEnd: (f) => spans.push([start, f]) });
  for (let i = 0; i < x.length; i += chunk) d.push(x.subarray(i, i + chunk));
  d.finish();
  return { spans, calls: d.networkCalls };
}

const long = (spans: Span[]) => spans.filter(([a, b]) => b - a >= 50);

test('silero and cascade: the same spans for any chunk size (streaming-exact)', async () => {
  const x = (await decodeAudioFile(DEMO)).samples;
  const noisy = mixAtSnr(x, makeNoise('brown', x.length, mulberry32(7)), 5);
  for (const kind of ['silero', 'cascade'] as const) {
    const ref = detect(noisy, { kind }, noisy.length);
    assert.ok(ref.spans.length >= 3, `${kind}: ${JSON.stringify(ref.spans)}`);
    for (const chunk of [1, 160, 1024, 4096]) assert.equal(detect(noisy, { kind }, chunk), ref, `${kind}, chunks of ${chunk}`);
  }
});

test('the demo clip: the utterances the energy VAD finds clean, Silero finds clean and in brown noise at 5 dB SNR, and 3 of 4 at 0 dB', async () => {
  const x = (await decodeAudioFile(DEMO)).samples;
  const energy = long(speechSpans(x, FR, vad({ kind: 'energy' })));
  assert.is(energy.length, 4, JSON.stringify(energy));
  const found = (spans: Span[]) =>
    energy.filter(([a, b]) => spans.reduce((o, [c, d]) => o + Math.max(0, Math.min(b, d) - Math.max(a, c)), 0) >= 0.5 * (b - a)).length;
  for (const kind of ['silero', 'cascade'] as const) {
    for (const [snr, need] of [[null, 4], [5, 4], [0, 3]] as const) {
      const audio = snr === null ? x : mixAtSnr(x, makeNoise('brown', x.length, mulberry32(3)), snr);
      const spans = long(speechSpans(audio, FR, vad({ kind })));
      assert.ok(found(spans) >= need, `${kind} ${snr ?? 'clean'}: found ${found(spans)} of ${JSON.stringify(energy)} in ${JSON.stringify(spans)}`);
    }
  }
  // the energy VAD, for contrast, merges the whole clip into one span in brown noise at 0 dB
  assert.ok(long(speechSpans(mixAtSnr(x, makeNoise('brown', x.length, mulberry32(3)), 0), FR, vad({ kind: 'energy' }))).length < 3);
});

test('noise alone: the energy gate opens on a minute of brown noise, Silero and the cascade find no speech in brown or pink', () => {
  const seconds = 60;
  const n = 16000 * seconds;
  const brown = atLevel(makeNoise('brown', n, mulberry32(11), { swingDb: 6 }), -40);
  const pink = atLevel(makeNoise('pink', n, mulberry32(12), { swingDb: 6 }), -40);
  assert.ok(long(speechSpans(brown, FR, vad({ kind: 'energy' }))).length > 0, 'the energy VAD was expected to fire on brown noise (else this test proves nothing)');
  for (const kind of ['silero', 'cascade'] as const) {
    assert.equal(long(speechSpans(brown, FR, vad({ kind }))), [], `${kind} on brown noise`);
    assert.equal(long(speechSpans(pink, FR, vad({ kind }))), [], `${kind} on pink noise`);
  }
});

test('the cascade does not run the network in silence and does in speech; silero runs it on every window', async () => {
  const speech = (await decodeAudioFile(join(DATA, 'ravdess/Actor_01/03-01-05-02-01-01-01.flac'))).samples;
  const quiet = atLevel(makeNoise('pink', 16000 * 10, mulberry32(5)), -70); // a quiet room, below the -60 dBFS gate
  const x = new Float32Array(quiet.length + speech.length);
  x.set(quiet);
  x.set(speech, quiet.length);
  const windows = Math.ceil(x.length / 512);
  const silent = detect(quiet, { kind: 'cascade' }, 1600);
  assert.is(silent.calls, 0, 'network calls in a quiet room');
  const both = detect(x, { kind: 'cascade' }, 1600);
  assert.ok(both.calls > 20 && both.calls < 0.3 * windows, `cascade: ${both.calls} calls of ${windows} windows`);
  assert.is(long(both.spans).length, 1, JSON.stringify(both.spans));
  assert.is(detect(x, { kind: 'silero' }, 1600).calls, windows);
});

test('sileroTrustDb: loud frames inside confirmed speech skip the network, streaming-exact; off by default', async () => {
  const x = (await decodeAudioFile(DEMO)).samples;
  const plain = detect(x, { kind: 'cascade' }, 1600);
  assert.equal(detect(x, { kind: 'cascade', sileroTrustDb: 0 }, 1600), plain, '0 is the cascade as before');
  const trusted = detect(x, { kind: 'cascade', sileroTrustDb: 15 }, 1600);
  assert.ok(trusted.calls < 0.75 * plain.calls, `calls: ${trusted.calls} with trust against ${plain.calls}`);
  assert.is(long(trusted.spans).length, long(plain.spans).length, `${JSON.stringify(trusted.spans)} against ${JSON.stringify(plain.spans)}`);
  for (const chunk of [1, 160, 4096]) assert.equal(detect(x, { kind: 'cascade', sileroTrustDb: 15 }, chunk), trusted, `chunks of ${chunk}`);
});

test('a frontend at another rate is refused for Silero with E_CONFIG; energy still works', () => {
  const sink = { speechStart() {}, speechActive() {}, speechEnd() {} };
  assert.throws(() => new VoiceDetector(vad({ kind: 'cascade' }), { ...FR, sampleRate: 8000, hopLength: 80, frameLength: 200 }, sink), (e: Error & { code?: string }) => e.code === 'E_CONFIG' && /16 kHz/.test(e.message));
  new VoiceDetector(vad({ kind: 'energy' }), { ...FR, sampleRate: 8000, hopLength: 80, frameLength: 200 }, sink);
});

test.run();
