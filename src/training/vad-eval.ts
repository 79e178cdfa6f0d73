/**
 * How well each VAD keeps finding speech in noise, without a model: `earshot vad-eval`.
 *
 * - Recall: for each VAD kind, the utterances it finds on clean clips (speech spans of at least the
 *   pipeline's minimum, 0.5 s) are the reference; in each noise condition an utterance counts as
 *   found when the noisy spans cover at least half of it. `extra` counts noisy spans that cover no
 *   clean utterance by half (speech invented by the noise). Spans come from speechSpans, the code the
 *   pipeline and the training spans share (test/e2e/analyze.test.ts holds them equal to the daemon's
 *   segments).
 * - Noise alone: a long noise-only recording through the daemon's pipeline (EmotionPipeline with
 *   the real model): every result would be an MQTT event, so the target is zero.
 */
import { mulberry32, seedOf } from './augment.ts';
import { atLevel, makeNoise, mixAtSnr, type BabblePool, type NoiseKind } from './noise.ts';
import { speechSpans, type Span } from '../runtime/vad/speech-spans.ts';
import { parseVadConfig, type VadConfig, type VadConfigInput, type VadKind } from '../runtime/vad/config.ts';
import { FRAMING_16K as FRAMING } from '../core/constants.ts';
import { EmotionPipeline } from '../runtime/pipeline/pipeline.ts';
import { parsePipelineConfig } from '../runtime/pipeline/config.ts';
import type { EmotionClassifier } from '../runtime/model/session.ts';


export interface VadClip {
  name: string;
  speaker: string;
  /** 16 kHz */
  samples: Float32Array;
}

export interface RecallRow {
  vad: VadKind;
  noise: NoiseKind | 'clean';
  snrDb: number | null;
  /** utterances found on the clean clips (the reference) */
  clean: number;
  /** of those, found again in this condition */
  found: number;
  recall: number;
  /** spans in this condition that match no clean utterance */
  extra: number;
  /** seconds of speech found here / seconds found clean (above 1: noise taken for speech, or utterances run together) */
  speechRatio: number;
  /** Silero network calls per second of audio (the cascade's cost; 0 for energy) */
  networkCallsPerSec: number;
}

/** Spans of at least minFrames (the pipeline drops shorter segments). */
function utterances(x: Float32Array, vad: VadConfig, minFrames: number, calls: { n: number }): Span[] {
  const spans = speechSpans(x, FRAMING, vad, calls);
  return spans.filter(([a, b]) => b - a >= minFrames);
}

function overlap(a: Span, spans: Span[]): number {
  let o = 0;
  for (const s of spans) o += Math.max(0, Math.min(a[1], s[1]) - Math.max(a[0], s[0]));
  return o;
}

export interface RecallOptions {
  vads: readonly VadKind[];
  noises: readonly NoiseKind[];
  snrs: readonly number[];
  pool?: BabblePool;
  swingDb?: number;
  /** shortest utterance counted (frames of 10 ms); default 50, the default model's minimum */
  minFrames?: number;
  /** settings of pipeline.vad other than the kind (default: the schema's) */
  vadConfig?: Omit<VadConfigInput, 'kind'>;
  onRow?: (row: RecallRow) => void;
}

export function measureRecall(clips: VadClip[], opts: RecallOptions): RecallRow[] {
  const minFrames = opts.minFrames ?? 50;
  const rows: RecallRow[] = [];
  const seconds = clips.reduce((a, c) => a + c.samples.length / FRAMING.sampleRate, 0);
  for (const vad of opts.vads) {
    const calls = { n: 0 };
    const cfg = parseVadConfig({ ...opts.vadConfig, kind: vad });
    const ref = clips.map((c) => utterances(c.samples, cfg, minFrames, calls));
    const clean = ref.reduce((a, r) => a + r.length, 0);
    const push = (r: RecallRow) => {
      rows.push(r);
      opts.onRow?.(r);
    };
    const frames = (spans: Span[]) => spans.reduce((a, [x, y]) => a + y - x, 0);
    const cleanFrames = ref.reduce((a, r) => a + frames(r), 0);
    push({ vad, noise: 'clean', snrDb: null, clean, found: clean, recall: 1, extra: 0, speechRatio: 1, networkCallsPerSec: calls.n / seconds });
    for (const noise of opts.noises) {
      for (const snr of opts.snrs) {
        const c2 = { n: 0 };
        let found = 0;
        let extra = 0;
        let noisyFrames = 0;
        clips.forEach((clip, i) => {
          const rng = mulberry32(seedOf(`${clip.name}/vad/${noise}/${opts.swingDb ?? 0}/${snr}`));
          const n = makeNoise(noise, clip.samples.length, rng, { pool: opts.pool, excludeSpeakers: [clip.speaker], swingDb: opts.swingDb });
          const spans = utterances(mixAtSnr(clip.samples, n, snr), cfg, minFrames, c2);
          for (const u of ref[i]) if (overlap(u, spans) >= 0.5 * (u[1] - u[0])) found++;
          for (const s of spans) if (overlap(s, ref[i]) < 0.5 * (s[1] - s[0])) extra++;
          noisyFrames += frames(spans);
        });
        push({ vad, noise, snrDb: snr, clean, found, recall: clean ? found / clean : 0, extra, speechRatio: cleanFrames ? noisyFrames / cleanFrames : 0, networkCallsPerSec: c2.n / seconds });
      }
    }
  }
  return rows;
}

export interface NoiseOnlyRow {
  vad: VadKind;
  noise: NoiseKind;
  levelDbfs: number;
  seconds: number;
  /** results the pipeline produced (each an MQTT event in the daemon) */
  events: number;
  /** utterance segments handed to the model (events + dropped) and those too short to classify */
  segments: number;
  segmentsDropped: number;
  networkCallsPerSec: number;
}

/** `seconds` of noise alone at `levelDbfs` through an EmotionPipeline in 100 ms chunks; counts what would be published. */
export async function noiseOnlyEvents(classifier: EmotionClassifier, vad: VadKind, noise: NoiseKind, opts: { seconds: number; levelDbfs: number; swingDb?: number; pool?: BabblePool; vadConfig?: Omit<VadConfigInput, 'kind'> }): Promise<NoiseOnlyRow> {
  const rate = FRAMING.sampleRate;
  const rng = mulberry32(seedOf(`noise-only/${noise}/${opts.swingDb ?? 0}/${opts.levelDbfs}`));
  const x = atLevel(makeNoise(noise, Math.round(opts.seconds * rate), rng, { pool: opts.pool, swingDb: opts.swingDb }), opts.levelDbfs);
  const pipeline = new EmotionPipeline({ classifier, config: parsePipelineConfig({ mode: 'utterance', vad: { ...opts.vadConfig, kind: vad } }) });
  let events = 0;
  pipeline.on('result', () => events++);
  const chunk = rate / 10;
  for (let i = 0; i < x.length; i += chunk) {
    pipeline.push({ samples: x.subarray(i, i + chunk), sampleRate: rate, time: i / rate });
    if (pipeline.busy) await pipeline.drain();
  }
  await pipeline.end();
  const s = pipeline.stats();
  return { vad, noise, levelDbfs: opts.levelDbfs, seconds: opts.seconds, events, segments: s.segments, segmentsDropped: s.segmentsDropped, networkCallsPerSec: pipeline.vadNetworkCalls / opts.seconds };
}
