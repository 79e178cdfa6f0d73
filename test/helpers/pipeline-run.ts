// Audio through an EmotionPipeline as capture feeds it: fixed chunks, waiting while it is busy.
import type { EmotionPipeline } from '../../src/runtime/pipeline/pipeline.ts';
import type { PipelineResult, PipelineState } from '../../src/runtime/pipeline/types.ts';

/** Pushes `samples` in chunks of `chunk` and ends the pipeline: its results, smoothed states, the crowd scores it held back, its stats. */
export async function runPipeline(p: EmotionPipeline, samples: Float32Array, sampleRate = 16000, chunk = 1600) {
  const results: PipelineResult[] = [];
  const held: number[] = [];
  const states: PipelineState[] = [];
  p.on('result', (r) => results.push(r));
  p.on('state', (st) => states.push(st));
  p.on('crowd', (u) => held.push(u.score));
  for (let i = 0; i < samples.length; i += chunk) {
    p.push({ samples: samples.subarray(i, i + chunk), sampleRate, time: i / sampleRate });
    if (p.busy) await p.drain();
  }
  await p.end();
  return { results, states, held, stats: p.stats() };
}
