/**
 * Audio-domain augmentation for training: additive noise at a target SNR, so a model trained on
 * studio recordings has heard the fans, hum and hiss of a real room. Deterministic: the noise of
 * a clip depends only on the seed (derived from the clip name and SNR), so features are reproducible.
 */

export { mulberry32 } from '../core/random.ts';

/** FNV-1a of a string: a stable seed per clip. */
export function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Power of the active part of a signal: the mean power of the 20 ms blocks within 30 dB of the
 * loudest block, so leading and trailing silence does not lower the reference (ITU-T P.56 measures
 * active speech level for the same reason).
 */
export function activePower(x: Float32Array, block = 320): number {
  const powers: number[] = [];
  for (let s = 0; s + block <= x.length; s += block) {
    let p = 0;
    for (let i = s; i < s + block; i++) p += x[i] * x[i];
    powers.push(p / block);
  }
  if (powers.length === 0) return 0;
  const floor = Math.max(...powers) * 1e-3;
  const active = powers.filter((p) => p >= floor);
  return active.reduce((a, b) => a + b, 0) / active.length;
}

export type NoiseColour = 'white' | 'pink';

/**
 * x + noise scaled to `snrDb` below the active speech power. "pink" is white noise through
 * Paul Kellet's economy 1/f filter (three one-pole sections), closer to room and fan noise.
 */
export function addNoise(x: Float32Array, snrDb: number, rng: () => number, colour: NoiseColour = 'pink'): Float32Array {
  const n = new Float32Array(x.length);
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  for (let i = 0; i < n.length; i++) {
    // Box-Muller: a standard normal sample from two uniforms.
    const g = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    if (colour === 'white') n[i] = g;
    else {
      b0 = 0.99765 * b0 + g * 0.099046;
      b1 = 0.963 * b1 + g * 0.2965164;
      b2 = 0.57 * b2 + g * 1.0526913;
      n[i] = b0 + b1 + b2 + g * 0.1848;
    }
  }
  return mixAtSnr(x, n, snrDb);
}

/** x plus `noise` scaled so that x's active speech power is `snrDb` above the noise's mean power. */
export function mixAtSnr(x: Float32Array, noise: Float32Array, snrDb: number): Float32Array {
  let pn = 0;
  for (let i = 0; i < noise.length; i++) pn += noise[i] * noise[i];
  pn /= Math.max(1, noise.length);
  const ps = activePower(x);
  const gain = pn > 0 && ps > 0 ? Math.sqrt(ps / (pn * 10 ** (snrDb / 10))) : 0;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] + gain * noise[i];
  return out;
}
