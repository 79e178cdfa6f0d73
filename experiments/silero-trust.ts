// Issue 16, the daemon's CPU: how many Silero calls does `sileroTrustDb` save inside confirmed
// speech, and how much do the speech frames move? Per setting: Silero calls per second of audio,
// spans, and the share of frames whose speech/non-speech decision differs from the setting off.
// RAVDESS actors 17-20 (every 6th clip, with 1 s of -70 dBFS pink noise around each), clean and
// with pink / brown / babble at 5 dB; the demo clip looped to 30 s.
//   node --import tsx experiments/silero-trust.ts [trustDb[:lookBackMs],...]
import { decodeAudioFile } from '../src/runtime/audio/decode.ts';
import { resample } from '../src/runtime/frontend/resampler.ts';
import { loadCorpus } from '../src/training/corpus/index.ts';
import { atLevel, loadBabblePool, makeNoise, mixAtSnr } from '../src/training/noise.ts';
import { mulberry32 } from '../src/training/augment.ts';
import { VoiceDetector } from '../src/runtime/vad/voice-detector.ts';
import { parseVadConfig } from '../src/runtime/vad/config.ts';
import { DEFAULT_CLIP } from '../src/core/paths.ts';

const FR = { frameLength: 400, hopLength: 160, sampleRate: 16000 };
// each setting: trustDb or trustDb:lookBackMs
const trusts = (process.argv[2] ?? '0,10,15,20').split(',');
const items = loadCorpus('ravdess', '../shared/data/ravdess');
const rng = mulberry32(11);
const pool = await loadBabblePool(items.filter((i) => Number(i.speaker) <= 12).filter((_, k) => k % 4 === 0));
const tests = items.filter((i) => Number(i.speaker) >= 17).filter((_, k) => k % 6 === 0);

async function load(path: string): Promise<Float32Array> {
  const a = await decodeAudioFile(path);
  return resample(a.samples, a.sampleRate, 16000);
}
function padded(x: Float32Array): Float32Array {
  const out = atLevel(makeNoise('pink', x.length + 32000, rng), -70);
  for (let i = 0; i < x.length; i++) out[16000 + i] += x[i];
  return out;
}
function run(x: Float32Array, trust: string): { speech: Uint8Array; calls: number; spans: number } {
  const n = Math.floor((x.length - FR.frameLength) / FR.hopLength) + 1;
  const speech = new Uint8Array(Math.max(0, n) + 1);
  let spans = 0;
  let start = -1;
  const d = new VoiceDetector(parseVadConfig({ kind: 'cascade', sileroTrustDb: Number(trust.split(':')[0]), ...(trust.includes(':') ? { lookBackMs: Number(trust.split(':')[1]) } : {}) }), FR, {
    speechStart: (f) => (start = f),
    speechActive() {},
    speechEnd: (f) => {
      spans++;
      speech.fill(1, start, Math.min(f, speech.length));
    },
  });
  for (let i = 0; i < x.length; i += 1600) d.push(x.subarray(i, i + 1600));
  d.finish();
  return { speech, calls: d.networkCalls, spans };
}

const clips = await Promise.all(tests.map((t) => load(t.path)));
const demo = await load(DEFAULT_CLIP);
const looped = new Float32Array(30 * 16000);
for (let i = 0; i < looped.length; i++) looped[i] = demo[i % demo.length];
const conditions: [string, Float32Array[]][] = [['clean', clips.map(padded)]];
for (const kind of ['pink', 'brown', 'babble'] as const) {
  conditions.push([`${kind} 5 dB`, clips.map((x) => { const p = padded(x); return mixAtSnr(p, makeNoise(kind, p.length, rng, { pool }), 5); })]);
}
conditions.push(['demo clip looped 30 s', [looped]]);

console.log(`${'audio'.padEnd(24)}${'trust dB'.padStart(9)}${'Silero/s'.padStart(10)}${'spans'.padStart(7)}${'frames changed'.padStart(16)}`);
for (const [name, xs] of conditions) {
  const seconds = xs.reduce((a, x) => a + x.length, 0) / 16000;
  const base = xs.map((x) => run(x, '0'));
  for (const t of trusts) {
    const r = t === '0' ? base : xs.map((x) => run(x, t));
    let changed = 0;
    let frames = 0;
    r.forEach((o, k) => { for (let i = 0; i < o.speech.length; i++) changed += o.speech[i] !== base[k].speech[i] ? 1 : 0; frames += o.speech.length; });
    const calls = r.reduce((a, o) => a + o.calls, 0);
    const spans = r.reduce((a, o) => a + o.spans, 0);
    console.log(`${name.padEnd(24)}${t.padStart(9)}${(calls / seconds).toFixed(1).padStart(10)}${String(spans).padStart(7)}${`${((100 * changed) / frames).toFixed(2)}%`.padStart(16)}`);
  }
}
