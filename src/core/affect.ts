/**
 * Arousal and valence from class probabilities: each emotion class sits at a point of Russell's
 * circumplex (Russell 1980, "A circumplex model of affect"; positions after the class placements
 * of Russell's Figure 2 and Scherer 2005's "Geneva emotion wheel"), and an utterance's arousal
 * and valence are the probability-weighted mean of its classes' points. Both lie in [-1, 1] by
 * construction (a mean of points inside the square). A mapping, not a trained head: it inherits the
 * classifier's errors, and a class the model lacks contributes nothing (the probabilities are
 * renormalised over the classes that have a point).
 *
 * Binary views for evaluation (`earshot eval`): high arousal = arousal > 0 (happy, angry, fearful,
 * disgust, surprised; neutral, calm and sad are low); negative valence = valence < 0 (sad, angry,
 * fearful, disgust; neutral, calm, happy and surprised are not negative).
 */
import type { Emotion } from './labels.ts';

/** [arousal, valence] of each canonical class. */
export const AFFECT: Record<Emotion, readonly [number, number]> = {
  neutral: [0, 0],
  calm: [-0.6, 0.4],
  happy: [0.5, 0.8],
  sad: [-0.6, -0.7],
  angry: [0.8, -0.6],
  fearful: [0.7, -0.7],
  disgust: [0.2, -0.7],
  surprised: [0.8, 0.3],
};

export interface Affect {
  /** -1 (sleepy, low energy) .. 1 (excited, high energy) */
  arousal: number;
  /** -1 (unpleasant) .. 1 (pleasant) */
  valence: number;
}

/** Probability-weighted arousal and valence; labels without a point are ignored. {0, 0} when none has one. */
export function affectOf(probabilities: Record<string, number>): Affect {
  let a = 0;
  let v = 0;
  let mass = 0;
  for (const [label, p] of Object.entries(probabilities)) {
    const point = (AFFECT as Record<string, readonly [number, number]>)[label];
    if (!point || !(p > 0)) continue;
    a += p * point[0];
    v += p * point[1];
    mass += p;
  }
  if (mass <= 0) return { arousal: 0, valence: 0 };
  return { arousal: clamp(a / mass), valence: clamp(v / mass) };
}

/** The binary class of a true label: high arousal, negative valence (see the header). */
export function affectClassOf(label: string): { highArousal: boolean; negativeValence: boolean } | null {
  const point = (AFFECT as Record<string, readonly [number, number]>)[label];
  return point ? { highArousal: point[0] > 0, negativeValence: point[1] < 0 } : null;
}

const clamp = (x: number) => Math.max(-1, Math.min(1, Math.round(x * 1e4) / 1e4));
