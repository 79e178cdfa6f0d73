/** The recipes of the shipped models: frontend, earshot_train arguments, noisy copies, ensemble members, head. */
import type { Tta } from '../runtime/model/metadata.ts';

/** The LSTMs' frontend: 20 MFCCs + RMS + ZCR per 25 ms frame, 10 ms hop. */
export const DEFAULT_TRAIN_FRONTEND = { extras: ['rms', 'zcr'] };

export interface Recipe {
  frontend: object;
  /** earshot_train (training/python) arguments */
  trainArgs: string;
  /** SNRs (dB) of the noisy training copies, as --noise takes them */
  noise?: string;
  /** the noise of those copies, as --noise-type takes it (default pink) */
  noiseType?: string;
  /**
   * More ensemble members from another recipe, trained as separate runs and merged into the same
   * graph (e.g. members that never see the noisy copies); the first recipe's --weights applies.
   */
  extraMembers?: { trainArgs: string; noise?: string };
  /** Test-time augmentation the runtime applies (written to the model's metadata) */
  tta?: Tta;
  /**
   * A functional head fused with the network (functional-head.ts): trained by
   * earshot_train/functionals.py on the same actors as the network (a fold model's head never sees
   * the fold's actors), written into each model's metadata; such models are scored with adaptation.
   */
  head?: { C: number; fusion: 'mean' | 'geometric'; fusionWeight: number };
  /** the architecture, when the recipe's name is not one (`--recipe crnn-ensemble`) */
  arch?: string;
  /** the corpora it trains on, as --corpora takes them (default ravdess) */
  corpora?: string;
}

/**
 * The recipes of the shipped models (MODELS.md), used when `--config` / `--train-args` are not
 * given, so `npm run train` with no options rebuilds the default model (`--jobs 2` on two cores:
 * one thread per run, as the shipped models were trained; thread counts change the rounding).
 * The CRNN's frontend is training/configs/logmel40-rms-zcr-pitch.json: 40 log-mel bands +
 * RMS + ZCR + F0 + voicing, 25 ms / 10 ms.
 * - `crnn` (the default, earshot-crnn, since 2026-12-07, issue 28): one small CRNN (conv channels
 *   8,16,24, LSTM 64) trained on every corpus of ../shared/data (RAVDESS, EmoDB 03/08,
 *   emotiontts-kr, nEMO, TESS), each clip's loss over its own corpus's labels, 3000 training spans
 *   drawn per epoch (batches of 48) with the corpora balanced by sqrt(recordings x speakers) and
 *   each corpus's classes equally (`--balance corpus`), 48 epochs, a room and microphone drawn
 *   for half the training spans (`--room 0.5`: speed, reverberation, band limits; the two together
 *   gained 2-5 points of UAR on every corpus left out, each alone 1-3); a copy of every RAVDESS
 *   clip in pink noise and one in babble of its fold-mates at 10 dB SNR (`noise`, `noiseType`); fused with a functional head trained on the same
 *   corpora (geometric mean, equal weights) once the speaker baseline is warm: one network run per
 *   utterance, about 0.45 ms per second of speech.
 * - `crnn-ravdess` (earshot-crnn-ravdess, the default from the night of 2026-12-01 to 2026-12-07):
 *   the same network trained on RAVDESS only, 60 epochs over every clip and its two noisy copies.
 * - `crnn-large` (earshot-crnn-large, the default on the evening of 2026-12-01): the same with
 *   channels 16,32,48 and LSTM 96, 1.6x the model time for 0.8 points on the folds
 *   (docs/experiments/2026-12-01-small-network-and-distillation.md).
 * - `crnn-ensemble` (earshot-crnn-ensemble, the default until 2026-12-01): 5 members of the large
 *   network stored as int8, 3 as above, 2 on the clean clips only for as many steps (twice the
 *   epochs over half the data); the runtime averages each utterance over tempo 1/1.1 x a start 0
 *   or 2 frames in (`tta`): 20 network runs per utterance.
 * A fold model of any recipe can learn from another run's fold models (`--teacher`,
 * docs/experiments/2026-12-01-small-network-and-distillation.md).
 */
/** The pitch CRNNs' frontend (40 log-mel + RMS + ZCR + F0 + voicing) and the single networks' noisy copies and head. */
export const PITCH_FRONTEND = { mfcc: 0, extras: ['rms', 'zcr', 'f0', 'voicing'] };
const ONE_CRNN = { frontend: PITCH_FRONTEND, noise: '10', head: { C: 0.1, fusion: 'geometric', fusionWeight: 0.5 } } as const;

export const SHIPPED_RECIPES: Record<string, Recipe> = {
  crnn: {
    ...ONE_CRNN,
    noiseType: 'pink,babble',
    corpora: 'ravdess,emodb,emotiontts-kr,nemo,tess',
    trainArgs: '--epochs 48 --batch 48 --channels 8,16,24 --hidden 64 --max-frames 400 --norm utterance --threads 1 --seed 1 --balance corpus --epoch-items 3000 --room 0.5',
  },
  'crnn-ravdess': { ...ONE_CRNN, arch: 'crnn', noiseType: 'pink,babble', trainArgs: '--epochs 60 --channels 8,16,24 --hidden 64 --max-frames 400 --norm utterance --threads 1 --seed 1' },
  'crnn-large': { ...ONE_CRNN, arch: 'crnn', trainArgs: '--epochs 60 --hidden 96 --max-frames 400 --norm utterance --threads 1 --seed 1' },
  'crnn-ensemble': {
    arch: 'crnn',
    frontend: PITCH_FRONTEND,
    trainArgs: '--epochs 60 --hidden 96 --max-frames 400 --norm utterance --threads 1 --ensemble 3 --weights int8',
    noise: '10',
    extraMembers: { trainArgs: '--epochs 120 --hidden 96 --max-frames 400 --norm utterance --threads 1 --ensemble 2 --weights int8', noise: 'none' },
    tta: { tempo: [1, 1.1], shiftFrames: [0, 2] },
    head: { C: 0.1, fusion: 'mean', fusionWeight: 0.5 },
  },
  'lstm-attn': { frontend: DEFAULT_TRAIN_FRONTEND, trainArgs: '--epochs 25 --hidden 120 --layers 2 --stack 4 --max-frames 320 --norm utterance --threads 1' },
};
