// The static Silero graph (src/runtime/vad/silero-graph.ts) gives the same probabilities and states
// as the npm package's graph fed `sr`, window by window over real speech, and refuses a graph
// without an `sr` input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { resample } from '../../src/runtime/frontend/resampler.ts';
import { DEMO_CLIP } from '../../src/core/paths.ts';
import { sileroModelPath, SILERO_CONTEXT, SILERO_RATE, SILERO_WINDOW } from '../../src/runtime/vad/silero.ts';
import { staticSileroGraph } from '../../src/runtime/vad/silero-graph.ts';

const require = createRequire(import.meta.url);
interface Native {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, ort.Tensor>, fetches: Record<string, null>, options: object): { output: { data: Float32Array }; stateN: { data: Float32Array } };
}
const { binding, initOrt } = require('onnxruntime-node/dist/binding') as { binding: { InferenceSession: new () => Native }; initOrt: () => void };

function open(bytes: Uint8Array): Native {
  initOrt();
  const s = new binding.InferenceSession();
  s.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', enableCpuMemArena: false });
  return s;
}

function probabilities(s: Native, x: Float32Array, withSr: boolean): Float32Array {
  const n = SILERO_CONTEXT + SILERO_WINDOW;
  const input = new Float32Array(n);
  const state = new Float32Array(256);
  const windows = Math.floor(x.length / SILERO_WINDOW);
  const out = new Float32Array(windows * 2);
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(SILERO_RATE)]), []);
  for (let w = 0; w < windows; w++) {
    const end = (w + 1) * SILERO_WINDOW;
    for (let k = 0; k < n; k++) input[k] = end - n + k < 0 ? 0 : x[end - n + k];
    const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', input, [1, n]), state: new ort.Tensor('float32', state, [2, 1, 128]) };
    if (withSr) feeds.sr = sr;
    const r = s.run(feeds, { output: null, stateN: null }, {});
    state.set(r.stateN.data);
    out[2 * w] = r.output.data[0];
    out[2 * w + 1] = r.stateN.data[37];
  }
  return out;
}

test('static graph: the same probabilities and state as the original fed sr, over the demo clip', async () => {
  const a = await decodeAudioFile(DEMO_CLIP);
  const x = resample(a.samples, a.sampleRate, SILERO_RATE);
  const original = new Uint8Array(readFileSync(sileroModelPath()));
  const want = probabilities(open(original), x, true);
  const got = probabilities(open(staticSileroGraph(original, SILERO_RATE)), x, false);
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i] - got[i]));
  assert.ok(want.length > 100, `${want.length / 2} windows`);
  assert.ok(max <= 1e-6, `max |difference| ${max}`);
  assert.ok(want.some((p, i) => i % 2 === 0 && p > 0.5), 'the clip has speech');
});

test('a graph without an sr input is refused, not silently left dynamic', () => {
  const noSr = Uint8Array.from([0x08, 0x08]); // ModelProto with only ir_version = 8
  assert.throws(() => staticSileroGraph(noSr, SILERO_RATE), /no `sr` input/);
});

test.run();
