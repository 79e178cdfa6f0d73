/**
 * One audio file through an EmotionPipeline, as the daemon would hear it: decoded, fed in
 * capture-sized chunks (100 ms), segmented by the VAD and classified per segment. The file's
 * overall label is the duration-weighted mean of its segments' probabilities (a file without
 * speech has none); `wholeFile` is the model run once on every frame, silence included. Used by
 * `earshot analyze` and by `earshot eval`, so a reported accuracy is that of the daemon's path.
 */
import { decodeAudioFile } from '../audio/decode.ts';
import { frameCount } from '../frontend/config.ts';
import { Frontend } from '../frontend/frontend.ts';
import { resample } from '../frontend/resampler.ts';
import type { EmotionClassifier } from '../model/session.ts';
import { affectOf } from '../../core/affect.ts';
import type { EmotionPipeline } from './pipeline.ts';
import type { PipelineResult } from './types.ts';

export interface AnalyzedSegment {
  kind: 'utterance' | 'window';
  /** seconds from the start of the file */
  start: number;
  end: number;
  label: string;
  confidence: number;
  probabilities: Record<string, number>;
  /** -1..1, from the probabilities (src/core/affect.ts) */
  arousal: number;
  valence: number;
  /** normalised against a warm speaker baseline (models with normalisation "speaker" or "prosody") */
  adapted: boolean;
}

export interface LabelScore {
  label: string;
  confidence: number;
  probabilities: Record<string, number>;
  /** -1..1, from the probabilities (src/core/affect.ts) */
  arousal: number;
  valence: number;
}

export interface FileAnalysis {
  file: string;
  model: string;
  mode: 'utterance' | 'window';
  durationSec: number;
  sampleRate: number;
  /** seconds covered by classified segments */
  speechSec: number;
  /** duration-weighted mean over the segments; null when the file has no speech */
  overall: LabelScore | null;
  /** the model on the whole file at once, silence included (eval's `wholeFile` score); null if shorter than one frame */
  wholeFile: LabelScore | null;
  segments: AnalyzedSegment[];
  /** segments shorter than the model's minimum, skipped */
  segmentsDropped: number;
  /** the model normalises against a speaker baseline (each segment says whether it was warm) */
  adaptive: boolean;
}

export interface AnalyzeOptions {
  /** samples per chunk fed to the pipeline; default sampleRate / 10 (what capture sources deliver) */
  chunkSamples?: number;
  /** changes the decoded audio before it is fed (robustness evaluation: gain, added noise) */
  transform?: (samples: Float32Array, sampleRate: number) => Float32Array;
  /**
   * Carry the pipeline's speaker baseline over from the files before (`earshot analyze --adapt`:
   * the files are one speaker in one room, in order). Default false: the baseline is forgotten
   * first, so each file is judged on its own.
   */
  adapt?: boolean;
}

/** Runs one file through `pipeline` (reset first) and collects its timeline. */
export async function analyzeFile(path: string, pipeline: EmotionPipeline, opts: AnalyzeOptions = {}): Promise<FileAnalysis> {
  const decoded = await decodeAudioFile(path);
  const audio = opts.transform ? { ...decoded, samples: opts.transform(decoded.samples, decoded.sampleRate) } : decoded;
  const segments: AnalyzedSegment[] = [];
  const onResult = (r: PipelineResult) => {
    segments.push({ kind: r.kind, start: r.startSec, end: r.endSec, label: r.label, confidence: r.confidence, probabilities: r.probabilities, arousal: r.arousal, valence: r.valence, adapted: r.adapted });
  };
  const droppedBefore = pipeline.stats().segmentsDropped;
  const lostBefore = pipeline.stats().droppedInferences;
  pipeline.reset();
  if (!opts.adapt) pipeline.resetBaseline();
  pipeline.on('result', onResult);
  try {
    const chunk = opts.chunkSamples ?? Math.max(1, Math.round(audio.sampleRate / 10));
    for (let i = 0; i < audio.samples.length; i += chunk) {
      pipeline.push({ samples: audio.samples.subarray(i, i + chunk), sampleRate: audio.sampleRate, time: i / audio.sampleRate });
      // back-pressure instead of dropping: a file can wait for the model, a microphone cannot
      if (pipeline.busy) await pipeline.drain();
    }
    await pipeline.end();
  } finally {
    pipeline.off('result', onResult);
  }
  const stats = pipeline.stats();
  if (stats.droppedInferences !== lostBefore) throw new Error(`analyze: ${stats.droppedInferences - lostBefore} segments of ${path} were dropped despite back-pressure`);
  return {
    file: path,
    model: pipeline.modelName,
    mode: pipeline.config.mode,
    durationSec: audio.durationSec,
    sampleRate: audio.sampleRate,
    speechSec: segments.reduce((a, s) => a + (s.end - s.start), 0),
    overall: weightedMean(segments, pipeline.labels),
    wholeFile: await classifyWholeFile(audio.samples, audio.sampleRate, pipeline.classifier),
    segments,
    segmentsDropped: stats.segmentsDropped - droppedBefore,
    adaptive: pipeline.baseline !== null,
  };
}

function weightedMean(segments: AnalyzedSegment[], labels: readonly string[]): LabelScore | null {
  if (segments.length === 0) return null;
  const sum = new Float64Array(labels.length);
  let total = 0;
  for (const s of segments) {
    const w = s.end - s.start;
    total += w;
    labels.forEach((l, k) => (sum[k] += w * s.probabilities[l]));
  }
  return best(labels, sum.map((v) => v / total));
}

function best(labels: readonly string[], p: ArrayLike<number>): LabelScore {
  let k = 0;
  for (let j = 1; j < labels.length; j++) if (p[j] > p[k]) k = j;
  const probabilities: Record<string, number> = {};
  labels.forEach((l, j) => (probabilities[l] = p[j]));
  return { label: labels[k], confidence: p[k], probabilities, ...affectOf(probabilities) };
}

async function classifyWholeFile(samples: Float32Array, rate: number, classifier: EmotionClassifier): Promise<LabelScore | null> {
  const config = classifier.model.frontend;
  const x = rate === config.sampleRate ? samples : resample(samples, rate, config.sampleRate);
  if (frameCount(config, x.length) === 0) return null;
  const frontend = wholeFileFrontends.get(classifier) ?? new Frontend(config);
  wholeFileFrontends.set(classifier, frontend);
  const features = frontend.computeAll(x);
  const c = await classifier.classify(features, features.length / frontend.dim);
  return best(classifier.labels, c.probabilities);
}
const wholeFileFrontends = new WeakMap<EmotionClassifier, Frontend>();

