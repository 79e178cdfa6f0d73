// Issue 16, babble alone: can the pitch tracker's voicing tell one near talker from 6-talker babble?
// Per stretch: the share of frames with voicing > 0.8 among its louder half. Babble alone (3 s
// stretches) against RAVDESS actors 17-20 in babble at 10 / 5 / 0 dB (babble from actors 1-12).
//   node --import tsx experiments/babble-voicing.ts
import { Frontend } from '../src/runtime/frontend/frontend.ts';
import { decodeAudioFile } from '../src/runtime/audio/decode.ts';
import { resample } from '../src/runtime/frontend/resampler.ts';
import { loadCorpus } from '../src/training/corpus/index.ts';
import { loadBabblePool, makeNoise, mixAtSnr } from '../src/training/noise.ts';
import { mulberry32 } from '../src/training/augment.ts';

const fe = new Frontend({ melBands: 40, mfcc: 0, extras: ['rms', 'voicing'] });
const items = loadCorpus('ravdess', '../shared/data/ravdess');
const pool = await loadBabblePool(items.filter((i) => Number(i.speaker) <= 12).filter((_, k) => k % 4 === 0));
const rng = mulberry32(7);
const tests = items.filter((i) => Number(i.speaker) >= 17).filter((_, k) => k % 8 === 0);

function voicedShare(x: Float32Array): number {
  const f = fe.computeAll(x);
  fe.reset();
  const d = fe.dim;
  const n = f.length / d;
  const rows = Array.from({ length: n }, (_, t) => [f[t * d + 40], f[t * d + 41]]);
  const median = rows.map((r) => r[0]).sort((a, b) => a - b)[Math.floor(n / 2)];
  const loud = rows.filter((r) => r[0] >= median);
  return loud.filter((r) => r[1] > 0.8).length / loud.length;
}
const q = (v: number[]) => [0.1, 0.5, 0.9].map((p) => [...v].sort((a, b) => a - b)[Math.floor(p * (v.length - 1))].toFixed(2)).join(' / ');

const alone = Array.from({ length: tests.length }, () => voicedShare(makeNoise('babble', 48000, rng, { pool })));
console.log(`babble alone, ${alone.length} stretches of 3 s: p10 / median / p90 ${q(alone)}`);
const by: Record<string, number[]> = { clean: [], '10 dB': [], '5 dB': [], '0 dB': [] };
for (const it of tests) {
  const a = await decodeAudioFile(it.path);
  const x = resample(a.samples, a.sampleRate, 16000);
  const noise = makeNoise('babble', x.length, rng, { pool });
  by.clean.push(voicedShare(x));
  for (const snr of [10, 5, 0]) by[`${snr} dB`].push(voicedShare(mixAtSnr(x, noise, snr)));
}
for (const [k, v] of Object.entries(by)) console.log(`talker ${k.padEnd(5)} (${v.length} clips): p10 / median / p90 ${q(v)}`);
