/**
 * Noise like the rooms earshot is put in, for `earshot eval --noise` and training copies:
 *
 * - `pink`: 1/f, fans and hiss (Paul Kellet's economy filter, as ./augment.ts always had);
 * - `brown`: 1/f^2, the rumble of an engine or a car cabin: white noise through a leaky
 *   integrator (pole 0.995, corner about 13 Hz at 16 kHz), so nearly all power is below 200 Hz;
 * - `babble`: other people talking: BABBLE_TALKERS clips of different speakers (never the speakers
 *   under test), each brought to the same active level, laid end to end from random offsets and
 *   summed, the cafeteria/kiosk noise of the speech-in-noise literature (e.g. NOISEX-92 "babble").
 *
 * `swingDb` adds level changes: the noise gain follows a slow sinusoid of +-swingDb with a period
 * drawn from 3-9 s (a lorry passing, the music turned up), which the VAD's adaptive floor must follow.
 * Everything is seeded: the same rng gives the same noise.
 */
import { decodeAudioFile } from '../runtime/audio/decode.ts';
import { resample } from '../runtime/frontend/resampler.ts';
import { activePower } from './augment.ts';
import { MODEL_SAMPLE_RATE } from '../core/constants.ts';

export const NOISE_KINDS = ['pink', 'brown', 'babble', 'white'] as const;
export type NoiseKind = (typeof NOISE_KINDS)[number];

/** Talkers mixed into babble (4-8 is where babble stops being intelligible; 6 here). */
export const BABBLE_TALKERS = 6;

/** Clips of other speakers for babble, at 16 kHz, each trimmed to its active part and scaled to unit active power. */
export interface BabblePool {
  clips: { speaker: string; samples: Float32Array }[];
}

/** Decodes `items` (speaker + path) into a babble pool. */
export async function loadBabblePool(items: { speaker: string; path: string }[], sampleRate = MODEL_SAMPLE_RATE): Promise<BabblePool> {
  const clips = [];
  for (const it of items) {
    const a = await decodeAudioFile(it.path);
    const x = resample(a.samples, a.sampleRate, sampleRate);
    const trimmed = trimActive(x);
    const p = activePower(trimmed);
    if (p <= 0) continue;
    const g = 1 / Math.sqrt(p);
    clips.push({ speaker: it.speaker, samples: Float32Array.from(trimmed, (v) => v * g) });
  }
  return { clips };
}

/** The part of x between the first and last 20 ms block within 30 dB of the loudest (the corpora's silent lead-in and tail cut). */
function trimActive(x: Float32Array, block = 320): Float32Array {
  const powers: number[] = [];
  for (let s = 0; s + block <= x.length; s += block) {
    let p = 0;
    for (let i = s; i < s + block; i++) p += x[i] * x[i];
    powers.push(p / block);
  }
  const floor = Math.max(0, ...powers) * 1e-3;
  const first = powers.findIndex((p) => p >= floor);
  let last = powers.length - 1;
  while (last > first && powers[last] < floor) last--;
  return first < 0 ? x : x.subarray(first * block, (last + 1) * block);
}

function gaussian(rng: () => number): number {
  // Box-Muller: a standard normal sample from two uniforms
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

export interface NoiseOptions {
  /** babble only: the clips to draw talkers from */
  pool?: BabblePool;
  /** babble only: speakers never used (the speaker or fold under test) */
  excludeSpeakers?: readonly string[];
  /** slow level changes of the noise, +- dB (0 = steady) */
  swingDb?: number;
  sampleRate?: number;
}

/** `length` samples of noise of `kind` (unscaled: callers set the level). */
export function makeNoise(kind: NoiseKind, length: number, rng: () => number, opts: NoiseOptions = {}): Float32Array {
  const n = new Float32Array(length);
  if (kind === 'babble') babble(n, rng, opts);
  else {
    let b0 = 0;
    let b1 = 0;
    let b2 = 0;
    for (let i = 0; i < length; i++) {
      const g = gaussian(rng);
      if (kind === 'white') n[i] = g;
      else if (kind === 'pink') {
        b0 = 0.99765 * b0 + g * 0.099046;
        b1 = 0.963 * b1 + g * 0.2965164;
        b2 = 0.57 * b2 + g * 1.0526913;
        n[i] = b0 + b1 + b2 + g * 0.1848;
      } else {
        b0 = 0.995 * b0 + g;
        n[i] = b0;
      }
    }
  }
  const swing = opts.swingDb ?? 0;
  if (swing > 0) {
    const rate = opts.sampleRate ?? MODEL_SAMPLE_RATE;
    const period = (3 + 6 * rng()) * rate;
    const phase = 2 * Math.PI * rng();
    for (let i = 0; i < length; i++) n[i] *= 10 ** ((swing * Math.sin((2 * Math.PI * i) / period + phase)) / 20);
  }
  return n;
}

function babble(out: Float32Array, rng: () => number, opts: NoiseOptions): void {
  const exclude = new Set(opts.excludeSpeakers ?? []);
  const clips = (opts.pool?.clips ?? []).filter((c) => !exclude.has(c.speaker));
  const speakers = [...new Set(clips.map((c) => c.speaker))];
  if (speakers.length < 2) throw new Error(`babble needs clips of at least 2 speakers outside the ones under test (${exclude.size} excluded, ${speakers.length} left)`);
  // one talker per speaker where possible, so the babble is several voices, not one voice twice
  const talkers = Math.min(BABBLE_TALKERS, speakers.length);
  const chosen = speakers.map((s) => [rng(), s] as const).sort((a, b) => a[0] - b[0]).slice(0, talkers).map(([, s]) => s);
  for (const speaker of chosen) {
    const own = clips.filter((c) => c.speaker === speaker);
    let pos = -Math.floor(rng() * MODEL_SAMPLE_RATE); // a random offset of up to 1 s into the first clip
    while (pos < out.length) {
      const clip = own[Math.floor(rng() * own.length)].samples;
      for (let i = Math.max(0, -pos); i < clip.length && pos + i < out.length; i++) out[pos + i] += clip[i];
      pos += clip.length;
    }
  }
}

export { mixAtSnr } from './augment.ts';

/** `noise` scaled to a mean power of `dbfs` (dBFS, mean square): noise alone at a given room level. */
export function atLevel(noise: Float32Array, dbfs: number): Float32Array {
  let p = 0;
  for (let i = 0; i < noise.length; i++) p += noise[i] * noise[i];
  p /= Math.max(1, noise.length);
  const g = p > 0 ? Math.sqrt(10 ** (dbfs / 10) / p) : 0;
  return Float32Array.from(noise, (v) => v * g);
}
