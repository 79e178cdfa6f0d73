/**
 * The frontend config: the contract between training and serving. It is written into every
 * model's metadata and the runtime rebuilds exactly this frontend from it. One zod schema gives
 * the type, the defaults and the validation (every error, with its path).
 *
 * Framing: windows are periodic, frames are not centred. Frame i covers samples
 * [i*hopLength, i*hopLength + frameLength), zero-padded at the end to fftSize, so a signal of
 * N samples gives 1 + floor((N - frameLength) / hopLength) frames (torchaudio center=False).
 */
import { z } from 'zod';
import { EarshotError } from '../../core/errors.ts';
import { formatIssues } from '../../core/schema.ts';
import { FRAMING_16K } from '../../core/constants.ts';

export const WINDOWS = ['hann', 'hamming', 'none'] as const;
/**
 * Per-frame extras, each of the raw frame x[0..N) (before pre-emphasis and window), N = frameLength
 * (scripts/golden.py item 8 is the reference):
 *  - "rms": sqrt(mean(x^2)).
 *  - "zcr": sign changes between neighbours (zero counts as positive) / N.
 *  - "f0": fundamental frequency in semitones re 100 Hz, 12 log2(F0 / 100 Hz) (level-independent);
 *    0 for a silent frame. With x DC-removed, the normalised cross-correlation
 *    r(tau) = sum_{j<N-tau} x_j x_{j+tau} / sqrt(sum_{j<N-tau} x_j^2 sum_{j<N-tau} x_{j+tau}^2)
 *    over lags tau = floor(sampleRate/500) .. min(ceil(sampleRate/70), floor(3N/4)) (70-500 Hz, at
 *    least N/4 samples of overlap); the period is the shortest lag that is a local peak of r with
 *    r >= 0.9 max r (range ends count only as the maximum; avoids octave-down errors), refined by
 *    parabolic interpolation.
 *  - "voicing": max(0, r) at that lag: 0..1, how periodic the frame is; 0 for a silent frame.
 *  A frame is silent when its energy after DC removal, sum x^2, is below 1e-10 N.
 */
export const EXTRAS = ['rms', 'zcr', 'f0', 'voicing'] as const;
export const NOISE_SUPPRESSION = ['off', 'subtract', 'gate'] as const;

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

const shape = z.object({
  /** Input sample rate of the frontend in Hz; audio at other rates is resampled first. Default 16000. */
  sampleRate: z.number().int().min(8000).max(48000).default(FRAMING_16K.sampleRate),
  /** Samples per frame (window length). Default 400 (25 ms at 16 kHz). */
  frameLength: z.number().int().min(16).max(2048).default(FRAMING_16K.frameLength),
  /** Samples between frame starts. Default 160 (10 ms at 16 kHz). */
  hopLength: z.number().int().min(1).max(2048).default(FRAMING_16K.hopLength),
  /** FFT size, a power of two from 256 to 2048; frames are zero-padded to it. Default 512. */
  fftSize: z.number().int().min(256).max(2048).refine(isPow2, 'must be a power of two (256, 512, 1024 or 2048)').default(512),
  /** Window applied to each frame, periodic. Default "hann". */
  window: z.enum(WINDOWS, { error: `must be one of ${WINDOWS.join(', ')}` }).default('hann'),
  /** Pre-emphasis coefficient a in y[n] = x[n] - a*x[n-1], over the whole stream; 0 = off. Default 0.97. */
  preEmphasis: z.number().min(0).max(1).default(0.97),
  /** Number of mel bands. Default 40. */
  melBands: z.number().int().min(1).max(256).default(40),
  /** Mel scale: "htk" (2595 log10(1 + f/700)) or "slaney" (linear below 1 kHz, log above). Default "htk". */
  melScale: z.enum(['htk', 'slaney']).default('htk'),
  /** Filter normalisation: "slaney" divides each triangle by its width (constant area) or null for peak 1. Default null. */
  melNorm: z.enum(['slaney']).nullable().default(null),
  /** Lowest mel filter edge in Hz. Default 20. */
  fMin: z.number().min(0).default(20),
  /** Highest mel filter edge in Hz, at most sampleRate/2. Default 8000. */
  fMax: z.number().positive().default(8000),
  /** Log of the mel energies: "ln" natural log or "db" 10*log10. Default "ln". */
  log: z.enum(['ln', 'db']).default('ln'),
  /** Mel energies below this (power units) are clamped to it before the log. Default 1e-6. */
  logFloor: z.number().positive().default(1e-6),
  /** Number of MFCCs (orthonormal DCT-II of the log-mel); 0 outputs the log-mel bands instead. Default 20. */
  mfcc: z.number().int().min(0).max(80).default(20),
  /** Cepstral lifter L: c[n] *= 1 + (L/2) sin(pi n / L); 0 = off. Default 0. */
  lifter: z.number().min(0).default(0),
  /** Per-frame extras of the raw frame appended after the cepstra, in this order, each at most once: "rms", "zcr", "f0" (semitones re 100 Hz), "voicing" (0..1); see EXTRAS. Default []. */
  extras: z.array(z.enum(EXTRAS)).default([]),
  /** Append deltas (1) or deltas and delta-deltas (2), 5-frame regression as torchaudio compute_deltas. Default 0. */
  deltas: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
  /** Stationary noise suppression on the power spectrum before the mel stage. Default "off". */
  noiseSuppression: z.enum(NOISE_SUPPRESSION).default('off'),
  /** "f32" float path or "q15" fixed-point path (int16 samples, Q15 FFT with block scaling). Default "f32". */
  arithmetic: z.enum(['f32', 'q15']).default('f32'),
});

type Issue = { path: string; message: string };

/** Checks that span fields; run on every field that parsed, so one pass reports every error. */
function crossFieldIssues(c: Partial<z.output<typeof shape>>): Issue[] {
  const out: Issue[] = [];
  const has = (...k: (keyof typeof c)[]) => k.every((key) => c[key] !== undefined);
  if (has('hopLength', 'frameLength') && c.hopLength! > c.frameLength!) out.push({ path: 'hopLength', message: `must be <= frameLength (${c.frameLength})` });
  if (has('frameLength', 'fftSize') && c.frameLength! > c.fftSize!) out.push({ path: 'frameLength', message: `must be <= fftSize (${c.fftSize})` });
  if (has('fMax', 'sampleRate') && c.fMax! > c.sampleRate! / 2) out.push({ path: 'fMax', message: `must be <= sampleRate/2 (${c.sampleRate! / 2} Hz, Nyquist)` });
  if (has('fMin', 'fMax') && c.fMin! >= c.fMax!) out.push({ path: 'fMin', message: `must be < fMax (${c.fMax} Hz)` });
  if (has('mfcc', 'melBands') && c.mfcc! > c.melBands!) out.push({ path: 'mfcc', message: `must be <= melBands (${c.melBands})` });
  if (has('noiseSuppression', 'arithmetic') && c.noiseSuppression !== 'off' && c.arithmetic === 'q15') {
    out.push({ path: 'noiseSuppression', message: 'is only available with arithmetic "f32" (the noise tracker runs in float); set it to "off" or use f32' });
  }
  if (has('extras') && new Set(c.extras).size !== c.extras!.length) out.push({ path: 'extras', message: 'must not repeat an entry' });
  if (has('extras', 'frameLength', 'sampleRate') && c.extras!.some((e) => e === 'f0' || e === 'voicing')) {
    const { shortestLag, minFrameLength } = pitchLags(c.sampleRate!);
    if (c.frameLength! < minFrameLength) {
      out.push({
        path: 'extras',
        message: `"f0" and "voicing" need frameLength >= ${minFrameLength} at sampleRate ${c.sampleRate} (their lags run from sampleRate/500 = ${shortestLag} samples up to 3/4 of the frame); raise frameLength or drop them`,
      });
    }
  }
  return out;
}

/** The shortest pitch lag, floor(sampleRate/500), and the shortest frame whose 3/4 holds it and two more lags (a peak with both neighbours). */
function pitchLags(sampleRate: number): { shortestLag: number; minFrameLength: number } {
  const shortestLag = Math.floor(sampleRate / 500);
  return { shortestLag, minFrameLength: Math.ceil((4 * (shortestLag + 2)) / 3) };
}

export const frontendConfigSchema = shape.strict().superRefine((c, ctx) => {
  for (const i of crossFieldIssues(c)) ctx.addIssue({ code: 'custom', path: [i.path], message: i.message });
});

export type FrontendConfig = z.output<typeof frontendConfigSchema>;
export type FrontendConfigInput = z.input<typeof frontendConfigSchema>;

/** Validates and fills defaults; throws E_CONFIG listing every error with its path. */
export function parseFrontendConfig(input: unknown, source = 'frontend config'): FrontendConfig {
  const r = frontendConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const lines = formatIssues(r.error.issues, 'frontend');
  // zod skips refinements when a field failed; run the cross-field checks on the fields that parsed.
  if (input && typeof input === 'object') {
    const valid: Record<string, unknown> = {};
    for (const [k, field] of Object.entries(shape.shape)) {
      const f = (field as z.ZodType).safeParse((input as Record<string, unknown>)[k]);
      if (f.success) valid[k] = f.data;
    }
    for (const i of crossFieldIssues(valid)) {
      const line = `frontend.${i.path}: ${i.message}`;
      if (!lines.includes(line)) lines.push(line);
    }
  }
  throw new EarshotError('E_CONFIG', `invalid ${source}:\n  ${lines.join('\n  ')}`);
}

/** Number of base features per frame (before deltas). */
export function baseFeatureCount(c: FrontendConfig): number {
  return (c.mfcc > 0 ? c.mfcc : c.melBands) + c.extras.length;
}

/** Number of features per output frame, deltas included. */
export function featureCount(c: FrontendConfig): number {
  return baseFeatureCount(c) * (1 + c.deltas);
}

/** Frames a signal of n samples yields: 1 + floor((n - frameLength) / hopLength), or 0. */
export function frameCount(c: Pick<FrontendConfig, 'frameLength' | 'hopLength'>, n: number): number {
  return n < c.frameLength ? 0 : 1 + Math.floor((n - c.frameLength) / c.hopLength);
}

/** Human-readable names of the output columns, in order (for metadata and debugging). */
export function featureNames(c: FrontendConfig): string[] {
  const base = c.mfcc > 0 ? Array.from({ length: c.mfcc }, (_, i) => `mfcc${i}`) : Array.from({ length: c.melBands }, (_, i) => `mel${i}`);
  base.push(...c.extras);
  const out = [...base];
  if (c.deltas >= 1) out.push(...base.map((n) => `d_${n}`));
  if (c.deltas >= 2) out.push(...base.map((n) => `dd_${n}`));
  return out;
}
