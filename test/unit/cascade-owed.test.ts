// The cascade owes Silero windows whose answer cannot matter (frames at or below minSpeechDb) and
// runs them only when a later frame needs a probability (src/runtime/vad/voice-detector.ts). What
// must hold: the boundaries are exactly those of running every window the cascade reaches, as it
// did before (a reference written out here, eager, from the same parts), for any chunking, with
// fewer network calls in a quiet room.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { VoiceDetector } from '../../src/runtime/vad/voice-detector.ts';
import { EnergyVad, type VadSink } from '../../src/runtime/vad/energy-vad.ts';
import { FrameEnergy } from '../../src/runtime/vad/frame-energy.ts';
import { SILERO_WINDOW, SileroState } from '../../src/runtime/vad/silero.ts';
import { parseVadConfig, type VadConfigInput } from '../../src/runtime/vad/config.ts';
import { mulberry32 } from '../../src/training/augment.ts';
import { atLevel, makeNoise } from '../../src/training/noise.ts';
import { ROOT } from '../helpers/paths.ts';

const FR = { frameLength: 400, hopLength: 160, sampleRate: 16000 };

function recorder(): { events: string[]; sink: VadSink } {
  const events: string[] = [];
  return { events, sink: { speechStart: (f) => events.push(`s${f}`), speechActive: (f) => events.push(`a${f}`), speechEnd: (f) => events.push(`e${f}`) } };
}

/** The cascade as it was: every window up to the one a running frame needs is run at once. */
function eager(x: Float32Array, input: VadConfigInput): { events: string[]; calls: number } {
  const c = parseVadConfig({ kind: 'cascade', ...input });
  const { events, sink } = recorder();
  const vad = new EnergyVad(c, FR.hopLength / FR.sampleRate, sink);
  const energy = new FrameEnergy(FR.frameLength, FR.hopLength);
  const levels: number[] = [];
  for (let i = 0; i < x.length; i += 2048) {
    const n = energy.push(x.subarray(i, i + 2048));
    for (let k = 0; k < n; k++) levels.push(energy.levels()[k]);
  }
  const silero = new SileroState();
  const look = Math.round((c.lookBackMs / 1000) * (FR.sampleRate / SILERO_WINDOW));
  const hold = Math.round(c.gateHoldMs / 10);
  const get = (i: number) => (i >= x.length ? 0 : x[i]);
  let lastWindow = -1;
  let lastProb = 0;
  let lastGate = -Infinity;
  let calls = 0;
  const probability = (w: number) => {
    if (w === lastWindow) return lastProb;
    let from = lastWindow + 1;
    if (from < w - look || lastWindow < 0) {
      silero.reset();
      from = Math.max(0, w - look);
    }
    for (let k = from; k <= w; k++, calls++) lastProb = silero.run(get, (k + 1) * SILERO_WINDOW);
    lastWindow = w;
    return lastProb;
  };
  levels.forEach((level, f) => {
    const w = Math.floor((f * FR.hopLength + FR.frameLength / 2) / SILERO_WINDOW);
    if (vad.above(level, c.gateDb)) lastGate = f;
    const running = vad.inSpeech || f - lastGate <= hold;
    const trusted = c.sileroTrustDb > 0 && vad.inSpeech && vad.above(level, c.sileroTrustDb);
    const p = trusted ? 1 : running ? probability(w) : 0;
    vad.step(level, vad.inSpeech ? p >= c.sileroNegThreshold : p >= c.sileroThreshold && (c.sileroOnsetDb === 0 || vad.above(level, c.sileroOnsetDb)));
  });
  vad.finish();
  return { events, calls };
}

function owed(x: Float32Array, input: VadConfigInput, chunk: number): { events: string[]; calls: number } {
  const { events, sink } = recorder();
  const d = new VoiceDetector(parseVadConfig({ kind: 'cascade', ...input }), FR, sink);
  for (let i = 0; i < x.length; i += chunk) d.push(x.subarray(i, i + chunk));
  d.finish();
  return { events, calls: d.networkCalls };
}

test('cascade: the same boundaries as running every window, for any chunking, with fewer calls in a quiet room', async () => {
  const speech = (await decodeAudioFile(join(ROOT, 'assets/demo-sequence.flac'))).samples;
  const room = atLevel(makeNoise('pink', speech.length * 2, mulberry32(9)), -72); // below the -60 dBFS gate
  const x = new Float32Array(room);
  x.set(speech, 8000);
  for (let i = 0; i < speech.length; i++) x[speech.length + 24000 + i] += 0.5 * speech[i];
  // the default; a hang-over and gate hold longer than the look-back ring holds (owed windows run early)
  for (const config of [{}, { hangoverMs: 2500, gateHoldMs: 3000 }, { sileroTrustDb: 20 }] as VadConfigInput[]) {
    const ref = eager(x, config);
    assert.ok(ref.events.length > 100, JSON.stringify(config));
    for (const chunk of [160, 1600, 4096]) {
      const got = owed(x, config, chunk);
      assert.equal(got.events, ref.events, `${JSON.stringify(config)}, chunks of ${chunk}`);
      // the long hold keeps needing what it owes: no fewer calls there, never more
      const fewer = config.hangoverMs === undefined ? got.calls < ref.calls : got.calls <= ref.calls;
      assert.ok(fewer, `${JSON.stringify(config)}: ${got.calls} calls, eager ${ref.calls}`);
    }
  }
});

test.run();
