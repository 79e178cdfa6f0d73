/**
 * The pitch extras "f0" (semitones re 100 Hz) and "voicing" on signals whose answer is known:
 * harmonic complexes at fixed F0, a glide, white noise, digital silence, gain changes, other
 * sample rates, and the extras in any order; then real speech for plausibility. Every synthetic
 * check runs on all four kernels (f32 and q15, SIMD and scalar): one contract, four
 * implementations. The float64 reference comparison is in golden.test.ts ("pitch" config).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import type { FrontendConfigInput } from '../../src/runtime/frontend/config.ts';
import { Frontend } from '../../src/runtime/frontend/frontend.ts';
import { DATA } from '../helpers/paths.ts';

const SR = 16000;
const KERNELS = [
  { name: 'f32 simd', arithmetic: 'f32', simd: true },
  { name: 'f32 scalar', arithmetic: 'f32', simd: false },
  { name: 'q15 simd', arithmetic: 'q15', simd: true },
  { name: 'q15 scalar', arithmetic: 'q15', simd: false },
] as const;
type Kernel = (typeof KERNELS)[number];

/** f0 and voicing per frame (8 small mel bands keep the rest of the row cheap). */
function pitchTrack(x: Float32Array, kernel: Kernel, config: FrontendConfigInput = {}): { f0: number[]; voicing: number[] } {
  const fe = new Frontend({ mfcc: 0, melBands: 8, ...config, extras: ['f0', 'voicing'], arithmetic: kernel.arithmetic }, { simd: kernel.simd });
  const y = fe.computeAll(x);
  const f0: number[] = [];
  const voicing: number[] = [];
  for (let o = 0; o < y.length; o += fe.dim) {
    f0.push(y[o + 8]!);
    voicing.push(y[o + 9]!);
  }
  return { f0, voicing };
}

const semitones = (hz: number) => 12 * Math.log2(hz / 100);
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;

function lcg(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
}

/**
 * 5 harmonics with amplitudes 1/k and random phases, F0 given per second of time (phase-continuous),
 * scaled to peak 0.3 (so x3 stays below full scale for the q15 path).
 */
function harmonicComplex(f0: (t: number) => number, seconds: number, rate = SR, seed = 1): Float32Array {
  const rand = lcg(seed);
  const phases = Array.from({ length: 5 }, () => 2 * Math.PI * rand());
  const x = new Float32Array(Math.round(seconds * rate));
  let phase = 0;
  let peak = 0;
  for (let i = 0; i < x.length; i++) {
    let v = 0;
    for (let k = 1; k <= 5; k++) v += Math.sin(k * phase + phases[k - 1]!) / k;
    x[i] = v;
    peak = Math.max(peak, Math.abs(v));
    phase += (2 * Math.PI * f0(i / rate)) / rate;
  }
  return x.map((v) => (0.3 * v) / peak);
}

// Measured (all four kernels): every frame within 0.0015 semitone of the truth, voicing >= 0.996.
for (const kernel of KERNELS) {
  test(`${kernel.name}: harmonic complexes at 75, 110, 180, 260, 400 Hz: every frame within 0.3 semitone, voicing > 0.9`, () => {
    for (const hz of [75, 110, 180, 260, 400]) {
      const { f0, voicing } = pitchTrack(harmonicComplex(() => hz, 1, SR, hz), kernel);
      assert.is(f0.length, 98);
      f0.forEach((v, t) => {
        const err = Math.abs(v - semitones(hz));
        assert.ok(err < 0.3, `${hz} Hz frame ${t}: f0 ${(100 * 2 ** (v / 12)).toFixed(1)} Hz (${err.toFixed(3)} semitones off)`);
        assert.ok(voicing[t]! > 0.9, `${hz} Hz frame ${t}: voicing ${voicing[t]}`);
      });
    }
  });
}

// A linear glide 100 -> 300 Hz over 1 s moves up to 0.9 semitone within one 25 ms frame; the
// correlation sees the period around the frame centre. Measured: within 0.017 semitone, voicing >= 0.99.
for (const kernel of KERNELS) {
  test(`${kernel.name}: a glide 100 -> 300 Hz is tracked frame by frame within 0.5 semitone of the F0 at the frame centre`, () => {
    const glide = (t: number) => 100 + 200 * t;
    const { f0, voicing } = pitchTrack(harmonicComplex(glide, 1), kernel);
    f0.forEach((v, t) => {
      const truth = semitones(glide((t * 160 + 200) / SR));
      assert.ok(Math.abs(v - truth) < 0.5, `frame ${t}: f0 ${v.toFixed(3)} want ${truth.toFixed(3)} semitones`);
      assert.ok(voicing[t]! > 0.9, `frame ${t}: voicing ${voicing[t]}`);
    });
  });
}

// Measured on 2 s of uniform white noise (fixed seed): median voicing 0.160, largest 0.235.
for (const kernel of KERNELS) {
  test(`${kernel.name}: white noise is unvoiced: median voicing < 0.3, every frame < 0.5`, () => {
    const rand = lcg(99);
    const noise = new Float32Array(2 * SR).map(() => 0.3 * (2 * rand() - 1));
    const { voicing } = pitchTrack(noise, kernel);
    assert.ok(median(voicing) < 0.3, `median voicing ${median(voicing)}`);
    assert.ok(Math.max(...voicing) < 0.5, `largest voicing ${Math.max(...voicing)}`);
  });
}

for (const kernel of KERNELS) {
  test(`${kernel.name}: digital silence and a constant offset give f0 = 0, voicing = 0`, () => {
    for (const [name, x] of [['silence', new Float32Array(SR)], ['DC 0.5', new Float32Array(SR).fill(0.5)]] as const) {
      const { f0, voicing } = pitchTrack(x, kernel);
      assert.ok(f0.every((v) => v === 0) && voicing.every((v) => v === 0), `${name}: f0 ${f0.slice(0, 3)} voicing ${voicing.slice(0, 3)}`);
    }
  });
}

// Level-independent: r is a ratio of sums of products, so gain cancels up to rounding (and, on the
// q15 path, the 16-bit quantisation of the quieter signal). Measured: f32 within 2e-5 semitone,
// q15 within 1.2e-4 (at x0.1).
for (const kernel of KERNELS) {
  test(`${kernel.name}: gain x0.1 and x3 leave f0 unchanged within 1e-3 semitone`, () => {
    const x = harmonicComplex((t) => 120 * 2 ** t, 1); // 120 -> 240 Hz
    const ref = pitchTrack(x, kernel).f0;
    for (const gain of [0.1, 3]) {
      const f0 = pitchTrack(x.map((v) => v * gain), kernel).f0;
      const worst = Math.max(...f0.map((v, t) => Math.abs(v - ref[t]!)));
      assert.ok(worst < 1e-3, `gain ${gain}: f0 moved by up to ${worst} semitone`);
    }
  });
}

// The lag range follows the sample rate: floor(sr/500) .. min(ceil(sr/70), 3/4 frame). Measured:
// within 1e-3 semitone, voicing >= 0.999.
for (const kernel of KERNELS) {
  test(`${kernel.name}: 8 kHz (frame 200) and 48 kHz (frame 1200) track 75 and 400 Hz within 0.3 semitone`, () => {
    const rates: [number, FrontendConfigInput][] = [
      [8000, { sampleRate: 8000, frameLength: 200, hopLength: 80, fftSize: 256, fMax: 4000 }],
      [48000, { sampleRate: 48000, frameLength: 1200, hopLength: 480, fftSize: 2048, fMax: 8000 }],
    ];
    for (const [rate, config] of rates) {
      for (const hz of [75, 400]) {
        const { f0, voicing } = pitchTrack(harmonicComplex(() => hz, 0.5, rate), kernel, config);
        const worst = Math.max(...f0.map((v) => Math.abs(v - semitones(hz))));
        assert.ok(worst < 0.3, `${rate} Hz, ${hz} Hz: f0 up to ${worst} semitones off`);
        assert.ok(Math.min(...voicing) > 0.9, `${rate} Hz, ${hz} Hz: voicing down to ${Math.min(...voicing)}`);
      }
    }
  });
}

test('the extras come out in config order, each the same whatever its neighbours', () => {
  const x = harmonicComplex(() => 150, 0.5);
  const run = (extras: FrontendConfigInput['extras']) => {
    const fe = new Frontend({ mfcc: 13, extras });
    const y = fe.computeAll(x);
    const cols: Record<string, number[]> = {};
    fe.config.extras.forEach((e, k) => {
      cols[e] = [];
      for (let o = 13 + k; o < y.length; o += fe.dim) cols[e]!.push(y[o]!);
    });
    return cols;
  };
  const all = run(['rms', 'zcr', 'f0', 'voicing']);
  for (const order of [['voicing', 'zcr', 'f0', 'rms'], ['f0'], ['voicing'], ['zcr', 'voicing']] as const) {
    const cols = run([...order]);
    for (const e of order) assert.equal(cols[e], all[e], `${e} in ${order.join(', ')}`);
  }
  assert.ok(all.f0!.every((v) => Math.abs(v - semitones(150)) < 0.01), 'f0 of 150 Hz');
});

// Real speech (RAVDESS neutral statement 1, at 16 kHz). Measured: median f0 over frames with
// voicing > 0.8 is 110 Hz (52 frames) for actor 01 (male) and 212 Hz (85 frames) for actor 02
// (female); emotional takes of the same actors reach 270 and 390 Hz. The bounds are the usual
// speaking ranges, an octave error of either voice would leave them.
test('real speech: median f0 of the voiced frames is 85-180 Hz for a male voice and 160-330 Hz for a female one', async () => {
  const voices = [
    ['male (RAVDESS actor 01)', 'ravdess/Actor_01/03-01-01-01-01-01-01.flac', 85, 180],
    ['female (RAVDESS actor 02)', 'ravdess/Actor_02/03-01-01-01-01-01-02.flac', 160, 330],
  ] as const;
  for (const [name, path, lo, hi] of voices) {
    const audio = await decodeAudioFile(`${DATA}/${path}`);
    assert.is(audio.sampleRate, SR, `${path} rate`);
    const { f0, voicing } = pitchTrack(audio.samples, KERNELS[0]);
    const voiced = f0.filter((_, t) => voicing[t]! > 0.8);
    assert.ok(voiced.length >= 30, `${name}: only ${voiced.length} voiced frames`);
    const hz = 100 * 2 ** (median(voiced) / 12);
    assert.ok(hz >= lo && hz <= hi, `${name}: median f0 ${hz.toFixed(1)} Hz outside ${lo}-${hi} Hz`);
  }
});

test.run();
