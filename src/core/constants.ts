/**
 * Numbers that several modules must agree on, defined once (issue 30, "one home per setting").
 * A setting a user may change lives in its stage's config schema instead; the schemas take their
 * defaults from here where the same value has a second, fixed use (test/unit/literals.test.ts keeps
 * these literals from being written again elsewhere).
 */

/**
 * The sample rate every shipped model's frontend runs at (Hz), and so the default capture rate:
 * audio captured at it is never resampled. Silero VAD runs at it too (its 16 kHz model).
 */
export const MODEL_SAMPLE_RATE = 16000;

/**
 * The framing of every shipped model at MODEL_SAMPLE_RATE: 25 ms windows every 10 ms (400 and 160
 * samples), the HTK/Kaldi convention; the frontend config's defaults. Tools that run the VAD
 * without a model (vad-eval, bench vad) frame audio with it.
 */
export const FRAMING_16K = { frameLength: 400, hopLength: 160, sampleRate: MODEL_SAMPLE_RATE } as const;

/**
 * Variance floor of every standardisation (per-utterance CMVN, the speaker baseline's features and
 * functionals): x / sqrt(var + floor). training/python/earshot_train/data.py UTTERANCE_VAR_FLOOR
 * is the same value; the shipped models were trained with it.
 */
export const VARIANCE_FLOOR = 1e-6;
