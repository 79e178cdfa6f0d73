import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Package root: the checkout, or the installed package (/usr/lib/earshot, node_modules/earshot).
 * This file sits two levels below it both as TypeScript (src/core/) and compiled (dist/core/).
 */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The compiled WASM kernels (`npm run build:wasm`), inside the build's output folder. */
export const WASM_DIR = join(ROOT, 'dist', 'wasm');

/** The shipped models (`NAME.onnx` + `NAME.json`). */
export const MODELS_DIR = join(ROOT, 'models');

/**
 * The bundled demo clip (RAVDESS actor 01, "Kids are talking by the door", angry, strong;
 * CC BY-NC-SA 4.0, Livingstone & Russo 2018): the embedded default of `earshot run` and of the
 * benchmarks, so they need neither a microphone nor ../shared/data.
 */
export const DEFAULT_CLIP = join(ROOT, 'assets', 'demo-angry.flac');

/**
 * The `--demo` clip: RAVDESS actor 08 saying "Kids are talking by the door" neutral, happy
 * (strong), sad (strong) and angry (strong), one after the other (15 s; CC BY-NC-SA 4.0).
 */
export const DEMO_CLIP = join(ROOT, 'assets', 'demo-sequence.flac');
