/**
 * The live pipeline (resample -> frontend -> VAD -> segments -> ONNX -> smoother) on a corpus clip
 * looped to `seconds`, fed in capture-sized chunks. Called by `earshot bench`.
 *
 * - unpaced (default): as fast as the pipeline takes it, waiting for the model when a segment is
 *   queued (nothing dropped). Gives the real-time factor and the pure processing latency.
 * - paced: one chunk every chunkMs of wall time, as a microphone delivers; adds the share of one
 *   core used, and latencies as a listener sees them (they include the VAD hang-over).
 * A warm-up pass over one loop of the clip runs first, so ONNX Runtime's first-run cost is not
 * counted.
 */
import { decodeAudioFile } from '../runtime/audio/decode.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { parsePipelineConfig, type PipelineConfigInput } from '../runtime/pipeline/config.ts';
import { EmotionPipeline } from '../runtime/pipeline/pipeline.ts';
import { CAPTURE_DEFAULTS } from '../runtime/capture/config.ts';
import { DEFAULT_CLIP } from '../core/paths.ts';

export interface PipelineBenchOptions {
  /** seconds of audio to run (the clip is looped); default 60 */
  seconds?: number;
  /** feed at real time instead of as fast as possible; default false */
  paced?: boolean;
  /** model name or path; default the default model */
  model?: string;
  /** audio clip (any supported rate); default the bundled demo clip */
  clip?: string;
  /** chunk length (ms), as a capture source delivers; default 100 */
  chunkMs?: number;
  config?: PipelineConfigInput;
  /** the frontend's arithmetic; default the model's own */
  arithmetic?: 'f32' | 'q15';
}

export interface PipelineBenchResult {
  model: string;
  mode: 'utterance' | 'window';
  paced: boolean;
  audioSeconds: number;
  wallSeconds: number;
  /** processing time (push + inference) / audio time */
  realTimeFactor: number;
  /** from the arrival of a segment's last audio to its result (ms); paced: includes the hang-over */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** from handing a segment to the model to its result (ms) */
  inferenceLatencyP50Ms: number;
  inferenceLatencyP99Ms: number;
  /** CPU time (user + system) / wall time, in % of one core */
  cpuPercent: number;
  /** resident set size at the end (MiB) */
  rssMb: number;
  results: number;
  droppedInferences: number;
}

/** `clip` followed by itself until `seconds`, with low noise (-70 dBFS) so pauses are not digital zero. */
function loopClip(clip: Float32Array, rate: number, seconds: number): Float32Array {
  const x = new Float32Array(Math.round(seconds * rate));
  for (let i = 0; i < x.length; i += clip.length) x.set(clip.subarray(0, Math.min(clip.length, x.length - i)), i);
  let s = 1;
  const amp = 10 ** (-70 / 20) * Math.sqrt(12);
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] += (s / 2 ** 32 - 0.5) * amp;
  }
  return x;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export async function benchPipeline(opts: PipelineBenchOptions = {}): Promise<PipelineBenchResult> {
  const seconds = opts.seconds ?? 60;
  const paced = opts.paced ?? false;
  const audio = await decodeAudioFile(opts.clip ?? DEFAULT_CLIP);
  const rate = audio.sampleRate;
  const chunk = Math.max(1, Math.round((rate * (opts.chunkMs ?? CAPTURE_DEFAULTS.chunkMs)) / 1000));
  const classifier = await EmotionClassifier.load(opts.model, { arithmetic: opts.arithmetic });
  try {
    const feed = async (p: EmotionPipeline, x: Float32Array, pace: boolean) => {
      const t0 = performance.now();
      for (let i = 0, k = 0; i < x.length; i += chunk, k++) {
        if (pace) await sleep(t0 + (k * chunk * 1000) / rate - performance.now());
        p.push({ samples: x.subarray(i, i + chunk), sampleRate: rate, time: i / rate });
        if (!pace && p.busy) await p.drain();
      }
      await p.end();
    };
    const config = parsePipelineConfig(opts.config);
    await feed(new EmotionPipeline({ classifier, config }), loopClip(audio.samples, rate, audio.durationSec), false);

    const x = loopClip(audio.samples, rate, seconds);
    const pipeline = new EmotionPipeline({ classifier, config });
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await feed(pipeline, x, paced);
    const wallMs = performance.now() - w0;
    const cpu = process.cpuUsage(cpu0);
    const s = pipeline.stats();
    return {
      model: pipeline.modelName,
      mode: pipeline.config.mode,
      paced,
      audioSeconds: s.audioSeconds,
      wallSeconds: wallMs / 1000,
      realTimeFactor: s.realTimeFactor,
      latencyP50Ms: s.latencyMs.p50,
      latencyP99Ms: s.latencyMs.p99,
      inferenceLatencyP50Ms: s.inferenceLatencyMs.p50,
      inferenceLatencyP99Ms: s.inferenceLatencyMs.p99,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      rssMb: process.memoryUsage().rss / (1 << 20),
      results: s.results,
      droppedInferences: s.droppedInferences,
    };
  } finally {
    await classifier.close();
  }
}
