// The noises `earshot eval --noise` and `earshot vad-eval` add: seeded, at the asked SNR, brown
// with its power in the rumble band, babble made of the allowed speakers only, level swings as asked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { activePower, mulberry32 } from '../../src/training/augment.ts';
import { atLevel, loadBabblePool, makeNoise, mixAtSnr, NOISE_KINDS } from '../../src/training/noise.ts';
import { loadCorpus } from '../../src/training/corpus/index.ts';
import { DATA } from '../helpers/paths.ts';

/** The first `per` RAVDESS clips of each actor. */
function firstClips(per: number) {
  const seen = new Map<string, number>();
  return loadCorpus('ravdess', join(DATA, 'ravdess')).filter((i) => (seen.set(i.speaker, (seen.get(i.speaker) ?? 0) + 1).get(i.speaker) ?? 0) <= per);
}

const power = (x: Float32Array, a = 0, b = x.length) => {
  let p = 0;
  for (let i = a; i < b; i++) p += x[i] * x[i];
  return p / (b - a);
};

/** Share of power below `hz`, by a one-pole low-pass split (enough to tell rumble from hiss). */
function lowShare(x: Float32Array, hz: number, rate = 16000): number {
  const a = Math.exp((-2 * Math.PI * hz) / rate);
  let y = 0;
  let low = 0;
  for (let i = 0; i < x.length; i++) {
    y = a * y + (1 - a) * x[i];
    low += y * y;
  }
  return low / x.length / power(x);
}

test('every kind is seeded: the same rng seed gives the same noise, another seed other noise', async () => {
  const pool = await loadBabblePool(firstClips(1));
  for (const kind of NOISE_KINDS) {
    const a = makeNoise(kind, 16000, mulberry32(1), { pool });
    assert.equal(makeNoise(kind, 16000, mulberry32(1), { pool }), a, kind);
    assert.not.equal(makeNoise(kind, 16000, mulberry32(2), { pool }), a, kind);
  }
});

test('brown noise is rumble (most power below 200 Hz), pink is not', () => {
  const brown = makeNoise('brown', 16000 * 4, mulberry32(3));
  const pink = makeNoise('pink', 16000 * 4, mulberry32(3));
  assert.ok(lowShare(brown, 200) > 0.8, `brown: ${lowShare(brown, 200)}`);
  assert.ok(lowShare(pink, 200) < 0.6, `pink: ${lowShare(pink, 200)}`);
});

test('mixAtSnr puts the noise at the asked SNR below the active speech level; atLevel sets dBFS', async () => {
  const { decodeAudioFile } = await import('../../src/runtime/audio/decode.ts');
  const x = (await decodeAudioFile(join(DATA, 'ravdess/Actor_02/03-01-03-01-01-01-02.flac'))).samples;
  for (const snr of [10, 5, 0]) {
    const y = mixAtSnr(x, makeNoise('brown', x.length, mulberry32(snr)), snr);
    const n = y.map((v, i) => v - x[i]);
    const got = 10 * Math.log10(activePower(x) / power(n));
    assert.ok(Math.abs(got - snr) < 0.01, `snr ${snr}: ${got}`);
  }
  const q = atLevel(makeNoise('pink', 16000, mulberry32(1)), -40);
  assert.ok(Math.abs(10 * Math.log10(power(q)) + 40) < 0.01);
});

test('babble: several voices, never an excluded speaker; too few speakers is an error', async () => {
  const pool = await loadBabblePool(firstClips(2));
  const speakers = [...new Set(pool.clips.map((c) => c.speaker))];
  assert.ok(speakers.length >= 8, `${speakers.length} speakers`);
  // a babble from the pool restricted to one speaker's clips reproduces only when that speaker is allowed:
  // excluding all but two speakers must draw from those two only
  const keep = speakers.slice(0, 2);
  const only = { clips: pool.clips.filter((c) => keep.includes(c.speaker)) };
  const a = makeNoise('babble', 16000 * 3, mulberry32(9), { pool, excludeSpeakers: speakers.slice(2) });
  const b = makeNoise('babble', 16000 * 3, mulberry32(9), { pool: only });
  assert.equal(a, b, 'excluded speakers leaked into the babble');
  assert.ok(power(a) > 0);
  assert.throws(() => makeNoise('babble', 16000, mulberry32(1), { pool, excludeSpeakers: speakers.slice(1) }), /at least 2 speakers/);
});

test('level swings: the noise power moves by about +-swingDb over seconds', () => {
  const x = makeNoise('white', 16000 * 20, mulberry32(4), { swingDb: 6 });
  const levels: number[] = [];
  for (let s = 0; s + 8000 <= x.length; s += 8000) levels.push(10 * Math.log10(power(x, s, s + 8000)));
  const range = Math.max(...levels) - Math.min(...levels);
  assert.ok(range > 9 && range < 13.5, `range ${range.toFixed(1)} dB`);
  const steady = makeNoise('white', 16000 * 20, mulberry32(4));
  const sl: number[] = [];
  for (let s = 0; s + 8000 <= steady.length; s += 8000) sl.push(10 * Math.log10(power(steady, s, s + 8000)));
  assert.ok(Math.max(...sl) - Math.min(...sl) < 1, 'steady noise should not swing');
});

test.run();
