/**
 * The canonical emotion set, in RAVDESS's code order (01..08). Every corpus loader maps into it and
 * a model's label order follows it, so both the runtime (model metadata) and training read it here.
 */
export const EMOTIONS = ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'] as const;
export type Emotion = (typeof EMOTIONS)[number];
