import { fileURLToPath } from 'node:url';

/** Repository (package) root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The bundled demo clip (RAVDESS actor 01, "Kids are talking by the door", angry, strong;
 * CC BY-NC-SA 4.0, Livingstone & Russo 2018): the embedded default of `earshot run` and of the
 * benchmarks, so they need neither a microphone nor ../shared/data.
 */
export const DEFAULT_CLIP = fileURLToPath(new URL('../../assets/demo-angry.flac', import.meta.url));

/**
 * The `--demo` clip: RAVDESS actor 08 saying "Kids are talking by the door" neutral, happy
 * (strong), sad (strong) and angry (strong), one after the other (15 s; CC BY-NC-SA 4.0).
 */
export const DEMO_CLIP = fileURLToPath(new URL('../../assets/demo-sequence.flac', import.meta.url));
