// The resampler against its stated specification (src/runtime/frontend/resampler.ts): pass-band gain,
// stop-band rejection, streaming invariance, output length, time alignment, rate validation,
// and a real TESS clip taken to 44.1/48/22.05 kHz by sox and brought back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PASSBAND_RIPPLE_DB,
  Resampler,
  STOPBAND_DB,
  SUPPORTED_RATES,
  resample,
} from '../../src/runtime/frontend/resampler.ts';
import { EarshotError } from '../../src/core/errors.ts';

// Build the kernel if it is missing or older than its source (scripts/build-wasm.sh's command),
// so this file also runs on its own.
const wasm = 'dist/wasm/resampler.wasm';
const source = 'assembly/resampler.ts';
const stale = (() => {
  try {
    return statSync(wasm).mtimeMs < statSync(source).mtimeMs;
  } catch {
    return true;
  }
})();
if (stale) {
  execFileSync('node_modules/.bin/asc', [source, '--config', 'asconfig.json', '--target', 'release', '-o', wasm], { stdio: 'inherit' });
}

const TO = 16000;
const CONVERTING = SUPPORTED_RATES.filter((r) => r !== TO);

function sine(rate: number, hz: number, seconds: number, amplitude = 0.5, phase = 0.3): Float32Array {
  const x = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < x.length; i++) x[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / rate + phase);
  return x;
}

/** Output samples to ignore at each end (filter start-up/tail against the zero padding). */
const EDGE = 1600;

/** Least-squares fit of a sinusoid at `hz` to y[EDGE .. len-EDGE): amplitude and the RMS left over. */
function fitSine(y: Float32Array, hz: number, rate = TO): { amplitude: number; residualRms: number } {
  let s = 0, c = 0, ss = 0, cc = 0, sc = 0;
  const a = EDGE, b = y.length - EDGE;
  for (let j = a; j < b; j++) {
    const t = (2 * Math.PI * hz * j) / rate;
    const sn = Math.sin(t), cs = Math.cos(t);
    s += y[j] * sn; c += y[j] * cs; ss += sn * sn; cc += cs * cs; sc += sn * cs;
  }
  const det = ss * cc - sc * sc;
  const A = (s * cc - c * sc) / det;
  const B = (c * ss - s * sc) / det;
  let e = 0;
  for (let j = a; j < b; j++) {
    const t = (2 * Math.PI * hz * j) / rate;
    const r = y[j] - A * Math.sin(t) - B * Math.cos(t);
    e += r * r;
  }
  return { amplitude: Math.hypot(A, B), residualRms: Math.sqrt(e / (b - a)) };
}

function rms(y: Float32Array): number {
  let e = 0;
  for (let j = EDGE; j < y.length - EDGE; j++) e += y[j] * y[j];
  return Math.sqrt(e / (y.length - 2 * EDGE));
}

/** Frequency from rising zero crossings between the first and last one in the steady part. */
function zeroCrossingHz(y: Float32Array, rate = TO): number {
  let first = -1, last = -1, count = 0;
  for (let j = EDGE + 1; j < y.length - EDGE; j++) {
    if (y[j - 1] < 0 && y[j] >= 0) {
      const at = j - 1 + y[j - 1] / (y[j - 1] - y[j]); // linear interpolation of the crossing
      if (first < 0) first = at;
      else count++;
      last = at;
    }
  }
  return (count * rate) / (last - first);
}

const db = (ratio: number): number => 20 * Math.log10(ratio);

for (const from of CONVERTING) {
  test(`${from} Hz: a 1 kHz sine at 0.5 stays 1 kHz at 0.5 (+-${PASSBAND_RIPPLE_DB} dB)`, () => {
    const y = resample(sine(from, 1000, 1.5), from);
    const fit = fitSine(y, 1000);
    assert.ok(Math.abs(db(fit.amplitude / 0.5)) <= PASSBAND_RIPPLE_DB, `amplitude ${fit.amplitude}`);
    assert.ok(db(fit.residualRms / 0.5) < -80, `residual ${db(fit.residualRms / 0.5).toFixed(1)} dB: not a clean 1 kHz sine`);
    const hz = zeroCrossingHz(y);
    assert.ok(Math.abs(hz - 1000) < 0.05, `zero crossings say ${hz} Hz`);
  });

  // The pass-band edge region: 0.875 of the lower Nyquist (7 kHz for 16 kHz output, 3.5 kHz from 8 kHz).
  const edgeHz = 0.875 * (Math.min(from, TO) / 2);
  test(`${from} Hz: a ${edgeHz} Hz tone near the pass-band edge keeps its amplitude (+-${PASSBAND_RIPPLE_DB} dB)`, () => {
    const y = resample(sine(from, edgeHz, 1.5), from);
    const fit = fitSine(y, edgeHz);
    assert.ok(Math.abs(db(fit.amplitude / 0.5)) <= PASSBAND_RIPPLE_DB, `amplitude ${fit.amplitude} = ${db(fit.amplitude / 0.5)} dB`);
  });

  test(`${from} Hz: the whole pass-band (40 tones up to ${0.9 * (Math.min(from, TO) / 2)} Hz) is flat within +-${PASSBAND_RIPPLE_DB} dB`, () => {
    const top = 0.9 * (Math.min(from, TO) / 2);
    let worst = 0;
    for (let i = 0; i < 40; i++) {
      const hz = 100 + ((top - 102) * i) / 39 + 1.7; // odd frequencies, up to 0.3 Hz below the edge
      const y = resample(sine(from, hz, 0.4), from);
      worst = Math.max(worst, Math.abs(db(fitSine(y, hz).amplitude / 0.5)));
    }
    assert.ok(worst <= PASSBAND_RIPPLE_DB, `ripple ${worst.toExponential(2)} dB`);
  });

  if (from > TO) {
    // Just above the 8 kHz stop-band edge, 10 kHz, and 0.95 of the input's Nyquist frequency.
    const tones = [8025, 8100, 8300, 10000, 0.95 * (from / 2)].filter((hz) => hz < from / 2);
    for (const hz of tones) {
      test(`${from} Hz: a ${Math.round(hz)} Hz tone is at least ${STOPBAND_DB} dB down`, () => {
        const y = resample(sine(from, hz, 1.5), from);
        const down = db(rms(y) / (0.5 / Math.SQRT2));
        assert.ok(down <= -STOPBAND_DB, `only ${down.toFixed(1)} dB down`);
      });
    }
  } else {
    // Upsampling: what must not appear is the image of the tone mirrored about the input's Nyquist.
    for (const hz of [1000, 3000, 0.9 * (from / 2)]) {
      test(`${from} Hz: the image of a ${hz} Hz tone (at ${from - hz} Hz) is at least ${STOPBAND_DB} dB down`, () => {
        const y = resample(sine(from, hz, 1.5), from);
        const image = fitSine(y, from - hz);
        const rest = fitSine(y, hz).residualRms;
        assert.ok(db(image.amplitude / 0.5) <= -STOPBAND_DB, `image ${db(image.amplitude / 0.5).toFixed(1)} dB`);
        assert.ok(db(rest / (0.5 / Math.SQRT2)) <= -STOPBAND_DB, `everything but the tone: ${db(rest / (0.5 / Math.SQRT2)).toFixed(1)} dB`);
      });
    }
  }

  test(`${from} Hz: chunks of 1, 160, 1000, 4096 samples and one whole chunk all give resample()'s output bit for bit`, () => {
    const x = new Float32Array(Math.round(from * 0.7) + 13);
    let s = 12345;
    for (let i = 0; i < x.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      x[i] = s / 2 ** 32 - 0.5;
    }
    const whole = resample(x, from);
    const r = new Resampler(from);
    for (const size of [1, 160, 1000, 4096, x.length]) {
      const got = new Float32Array(whole.length + 8);
      let n = 0;
      for (let i = 0; i < x.length; i += size) {
        const y = r.process(x.subarray(i, i + size));
        got.set(y, n);
        n += y.length;
      }
      const tail = r.flush();
      got.set(tail, n);
      n += tail.length;
      assert.is(n, whole.length, `chunk ${size}: length`);
      let maxDiff = 0;
      for (let j = 0; j < n; j++) maxDiff = Math.max(maxDiff, Math.abs(got[j] - whole[j]));
      assert.is(maxDiff, 0, `chunk ${size}: differs by ${maxDiff}`);
    }
  });

  test(`${from} Hz: output length is ceil(n * to / from), within 1 of round`, () => {
    for (const n of [0, 1, 2, 7, 441, 12207, 22051, Math.round(from * 1.234)]) {
      const y = resample(new Float32Array(n).fill(0.1), from);
      const exact = (n * TO) / from;
      assert.ok(y.length === Math.ceil(exact - 1e-9) && Math.abs(y.length - Math.round(exact)) <= 1, `n=${n}: ${y.length} vs ${exact}`);
    }
  });

  test(`${from} Hz: a click at 0.5 s is at 0.5 s in the output; latencySamples is what the stream holds back`, () => {
    const x = new Float32Array(from);
    const k0 = Math.round(0.5 * from);
    x[k0] = 1;
    const y = resample(x, from);
    let peak = 0;
    for (let j = 1; j < y.length; j++) if (Math.abs(y[j]) > Math.abs(y[peak])) peak = j;
    const expected = (k0 * TO) / from;
    assert.is(peak, Math.round(expected));
    if (Number.isInteger(expected)) {
      // Zero phase: the response is symmetric about the click.
      for (let d = 1; d < 20; d++) assert.ok(Math.abs(y[peak - d] - y[peak + d]) < 1e-6, `asymmetric at +-${d}`);
    }
    const r = new Resampler(from);
    const streamed = r.process(x).length;
    const all = Math.ceil((x.length * TO) / from);
    assert.ok(Math.abs(all - r.latencySamples - streamed) <= 1, `held back ${all - streamed}, latencySamples ${r.latencySamples}`);
  });
}

test('process() reuses one output block: consecutive equal chunks come back in the same memory', () => {
  const r = new Resampler(44100);
  const x = sine(44100, 440, 0.1);
  r.process(x);
  const a = r.process(x);
  const b = r.process(x);
  assert.is(a.buffer, b.buffer);
  assert.is(a.byteOffset, b.byteOffset);
});

test('16 kHz is the identity: the input itself comes back, nothing is held back', () => {
  const x = sine(16000, 1000, 0.1);
  const r = new Resampler(16000);
  assert.is(r.process(x), x);
  assert.is(r.flush().length, 0);
  assert.is(r.latencySamples, 0);
  assert.is(resample(x, 16000), x);
});

test('24414 and 24414.0625 Hz (TESS) are each converted at their own exact rate', () => {
  // The two differ by 2.6 ppm, which over 1 s moves a 440 Hz tone by 0.007 rad (0.0035 at
  // amplitude 0.5); each signal generated at its own rate must come out as the same 16 kHz tone.
  const a = resample(sine(24414.0625, 440, 1), 24414.0625);
  const b = resample(sine(24414, 440, 1), 24414);
  let maxDiff = 0;
  for (let j = EDGE; j < Math.min(a.length, b.length) - EDGE; j++) maxDiff = Math.max(maxDiff, Math.abs(a[j] - b[j]));
  assert.ok(maxDiff < 1e-5, `differ by ${maxDiff}`);
});

test('an unsupported rate is refused with E_SAMPLE_RATE, naming it, the supported ones and a sox command', () => {
  for (const bad of [11025, 44000, 0, -16000, NaN]) {
    try {
      new Resampler(bad);
      assert.unreachable(`${bad} accepted`);
    } catch (e) {
      assert.instance(e, EarshotError);
      const err = e as EarshotError;
      assert.is(err.code, 'E_SAMPLE_RATE');
      assert.match(err.message, String(bad));
      assert.match(err.message, '44100');
      assert.match(err.message, 'sox in.wav -r 16000 out.wav');
    }
  }
  assert.throws(() => resample(new Float32Array(10), 44100, 12345), (e: unknown) => e instanceof EarshotError && e.code === 'E_SAMPLE_RATE');
});

// A real recording: sox (its default high-quality `rate`) takes a TESS clip from 16 kHz up to
// `rate`, we bring it back, and compare with the original away from the ends. Our pass-band ends
// at 7.2 kHz and this clip has 2.9 % (-28.6 dB) of its energy above that, which caps the
// full-band SNR near 40 dB (sox's own round trip through 44.1 kHz measures 43 dB); below 7 kHz
// the two must agree to the stop-band level.
const CLIP = '../shared/data/tess/OAF_angry/OAF_bar_angry.flac';
const FULL_BAND_SNR_DB = 38;
const IN_BAND_SNR_DB = 90;
const IN_BAND_HZ = 7000;

function soxFloat(file: string, rate: number | null, out: string): Float32Array {
  execFileSync('sox', [file, '-e', 'floating-point', '-b', '32', '-t', 'raw', out, ...(rate ? ['rate', String(rate)] : [])]);
  const bytes = readFileSync(out);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
}

/** Energy of x (Hann-windowed, zero-padded to a power of two) in the bins at or below `hz`:
 *  an in-place radix-2 FFT, enough for a test. */
function energyBelow(x: Float64Array, hz: number, rate = TO): number {
  let n = 1;
  while (n < x.length) n *= 2;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < x.length; i++) re[i] = x[i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (x.length - 1)));
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len *= 2) {
    const w = (-2 * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const cr = Math.cos(w * k), ci = Math.sin(w * k);
        const a = i + k, b = a + len / 2;
        const tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
        re[b] = re[a] - tr; im[b] = im[a] - ti;
        re[a] += tr; im[a] += ti;
      }
    }
  }
  let e = 0;
  for (let k = 0; k <= n / 2 && (k * rate) / n <= hz; k++) e += re[k] * re[k] + im[k] * im[k];
  return e;
}

for (const rate of [22050, 44100, 48000, 96000]) {
  test(`a TESS clip taken to ${rate} Hz by sox comes back within ${FULL_BAND_SNR_DB} dB (full band) and ${IN_BAND_SNR_DB} dB (below 7 kHz) SNR`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'earshot-resampler-'));
    try {
      const original = soxFloat(CLIP, null, join(dir, 'orig.f32'));
      const up = soxFloat(CLIP, rate, join(dir, 'up.f32'));
      const back = resample(up, rate);
      assert.ok(Math.abs(back.length - original.length) <= 1, `${back.length} vs ${original.length}`);
      const skip = 1600; // 0.1 s at each end
      const ref = new Float64Array(original.length - 2 * skip);
      const err = new Float64Array(ref.length);
      let signal = 0, noise = 0;
      for (let i = 0; i < ref.length; i++) {
        ref[i] = original[i + skip];
        err[i] = back[i + skip] - original[i + skip];
        signal += ref[i] * ref[i];
        noise += err[i] * err[i];
      }
      const full = 10 * Math.log10(signal / noise);
      const inBand = 10 * Math.log10(energyBelow(ref, IN_BAND_HZ) / energyBelow(err, IN_BAND_HZ));
      console.log(`  ${rate} Hz round trip: SNR ${full.toFixed(1)} dB full band, ${inBand.toFixed(1)} dB below ${IN_BAND_HZ} Hz`);
      assert.ok(full >= FULL_BAND_SNR_DB, `full-band SNR ${full.toFixed(1)} dB`);
      assert.ok(inBand >= IN_BAND_SNR_DB, `in-band SNR ${inBand.toFixed(1)} dB`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
