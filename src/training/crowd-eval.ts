/**
 * The crowd detector measured as `earshot vad-eval` measures VADs (`earshot vad-eval --crowd`),
 * through the daemon's own EmotionPipeline and detector, on the speakers of the detector's test
 * split (crowdSplit: neither its training nor its validation voices):
 *
 * - talkers over babble: every chosen clip alone (clean) and with babble of other test speakers at
 *   each SNR (against the clip's active speech level), through the pipeline with pipeline.crowd
 *   "mark": utterances published, how many were not marked (kept by "suppress"), and the emotion
 *   accuracy of the kept ones (result label = the clip's label);
 * - babble alone: a long babble recording through the pipeline with "suppress": events published
 *   (the target is zero) beside the events the same recording gives with the detector "off".
 *
 * Each clip is its own stream (pipeline.end() between clips), as `earshot analyze` runs files. The
 * speaker baseline is off (baseline: null), so a result does not depend on the clips before it.
 */
import { mulberry32, seedOf } from './augment.ts';
import { atLevel, makeNoise, mixAtSnr, type BabblePool } from './noise.ts';
import { EmotionPipeline } from '../runtime/pipeline/pipeline.ts';
import { parsePipelineConfig, type CrowdMode } from '../runtime/pipeline/config.ts';
import type { PipelineResult } from '../runtime/pipeline/types.ts';
import type { EmotionClassifier } from '../runtime/model/session.ts';
import type { CrowdScorer } from '../runtime/model/crowd.ts';
import type { VadKind } from '../runtime/vad/config.ts';
import { MODEL_SAMPLE_RATE } from '../core/constants.ts';

export interface CrowdClip {
  name: string;
  speaker: string;
  label: string;
  /** 16 kHz */
  samples: Float32Array;
}

export interface CrowdTalkerRow {
  /** null: clean */
  snrDb: number | null;
  clips: number;
  /** utterances the pipeline classified (each an event with pipeline.crowd "mark") */
  utterances: number;
  /** of those, not marked as crowd (what "suppress" publishes) */
  kept: number;
  keptShare: number;
  /** clips with at least one kept utterance */
  clipsKept: number;
  /** kept utterances whose label is the clip's; accuracy = correct / kept */
  correct: number;
  accuracy: number;
  /** the same over every utterance, as without the detector */
  accuracyAll: number;
  /** the detector's score of every utterance (for other thresholds: kept = score >= threshold) */
  scores: number[];
}

export interface CrowdBabbleRow {
  seconds: number;
  levelDbfs: number;
  /** events with pipeline.crowd "suppress" (the target is 0) and with "off" */
  events: number;
  eventsWithoutDetector: number;
  suppressed: number;
  segments: number;
  /** the detector's score of every babble segment */
  scores: number[];
}

interface Context {
  classifier: EmotionClassifier;
  crowd: CrowdScorer;
  vad: VadKind;
}

/** A pipeline whose detector's scores land in `scores`, in the order of the segments. */
function pipelineFor(ctx: Context, crowd: CrowdMode, scores: number[] = []): EmotionPipeline {
  const recording: CrowdScorer = { threshold: ctx.crowd.threshold, score: async (f, n) => scores[scores.push(await ctx.crowd.score(f, n)) - 1] };
  return new EmotionPipeline({ classifier: ctx.classifier, crowd: recording, baseline: null, config: parsePipelineConfig({ mode: 'utterance', crowd, vad: { kind: ctx.vad } }) });
}

/** The highest threshold at which at least `keep` of `scores` pass (score >= threshold). */
export function thresholdKeeping(scores: readonly number[], keep: number): number {
  const sorted = [...scores].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((1 - keep) * sorted.length))];
}

/** Share of `scores` at or above `threshold`. */
export const keptAt = (scores: readonly number[], threshold: number): number => (scores.length ? scores.filter((v) => v >= threshold).length / scores.length : 0);

/** Runs `x` through the pipeline as one stream in 100 ms chunks; resolves with its results. */
async function run(p: EmotionPipeline, x: Float32Array): Promise<PipelineResult[]> {
  const out: PipelineResult[] = [];
  const on = (r: PipelineResult) => out.push(r);
  p.on('result', on);
  const chunk = MODEL_SAMPLE_RATE / 10;
  for (let i = 0; i < x.length; i += chunk) {
    p.push({ samples: x.subarray(i, i + chunk), sampleRate: MODEL_SAMPLE_RATE, time: i / MODEL_SAMPLE_RATE });
    if (p.busy) await p.drain();
  }
  await p.end();
  p.off('result', on);
  return out;
}

/** Every clip clean and over babble at each SNR, with pipeline.crowd "mark". */
export async function measureCrowdTalkers(ctx: Context, clips: CrowdClip[], pool: BabblePool, snrs: readonly number[], onRow?: (r: CrowdTalkerRow) => void): Promise<CrowdTalkerRow[]> {
  const rows: CrowdTalkerRow[] = [];
  for (const snr of [null, ...snrs]) {
    const scores: number[] = [];
    const p = pipelineFor(ctx, 'mark', scores);
    const row: CrowdTalkerRow = { snrDb: snr, clips: clips.length, utterances: 0, kept: 0, keptShare: 0, clipsKept: 0, correct: 0, accuracy: 0, accuracyAll: 0, scores };
    let correctAll = 0;
    for (const clip of clips) {
      const rng = mulberry32(seedOf(`${clip.name}/crowd/${snr}`));
      const x = snr === null ? clip.samples : mixAtSnr(clip.samples, makeNoise('babble', clip.samples.length, rng, { pool, excludeSpeakers: [clip.speaker] }), snr);
      const results = await run(p, x);
      const kept = results.filter((r) => !r.crowd);
      row.utterances += results.length;
      row.kept += kept.length;
      row.clipsKept += kept.length > 0 ? 1 : 0;
      row.correct += kept.filter((r) => r.label === clip.label).length;
      correctAll += results.filter((r) => r.label === clip.label).length;
    }
    row.keptShare = row.utterances ? row.kept / row.utterances : 0;
    row.accuracy = row.kept ? row.correct / row.kept : 0;
    row.accuracyAll = row.utterances ? correctAll / row.utterances : 0;
    rows.push(row);
    onRow?.(row);
  }
  return rows;
}

/** `seconds` of babble alone at `levelDbfs`, with pipeline.crowd "suppress" and "off". */
export async function measureCrowdBabble(ctx: Context, pool: BabblePool, seconds: number, levelDbfs: number): Promise<CrowdBabbleRow> {
  const rng = mulberry32(seedOf(`crowd/babble-only/${levelDbfs}`));
  const x = atLevel(makeNoise('babble', Math.round(seconds * MODEL_SAMPLE_RATE), rng, { pool }), levelDbfs);
  const scores: number[] = [];
  const suppress = pipelineFor(ctx, 'suppress', scores);
  const events = (await run(suppress, x)).length;
  const off = pipelineFor(ctx, 'off');
  const eventsWithoutDetector = (await run(off, x)).length;
  const s = suppress.stats();
  return { seconds, levelDbfs, events, eventsWithoutDetector, suppressed: s.crowdSuppressed ?? 0, segments: s.segments, scores };
}
