/**
 * One audio file through an EmotionPipeline, as the daemon would hear it: decoded, fed in
 * capture-sized chunks (100 ms), segmented by the VAD and classified per segment. The file's
 * overall label is the duration-weighted mean of its segments' probabilities (a file without
 * speech has none); `wholeFile` is the model run once on every frame, silence included. Used by
 * `earshot analyze` and by `earshot eval`, so a reported accuracy is that of the daemon's path.
 * With a crowd detector in the pipeline, marked segments say `crowd: true` and held-back ones are
 * only counted (`crowd`), as the daemon publishes them.
 */
import { decodeAudioFile } from '../audio/decode.ts';
import { openAudioFile, piecesOf, type AudioPieces } from '../audio/stream.ts';
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
  /** true: the crowd detector found no dominant talker (--crowd mark); absent otherwise, as in the MQTT event */
  crowd?: true;
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
  /** the model on the whole file at once, silence included (eval's `wholeFile` score); null if shorter than one frame, longer than WHOLE_FILE_MAX_SEC or not asked for (AnalyzeOptions.wholeFile) */
  wholeFile: LabelScore | null;
  segments: AnalyzedSegment[];
  /** segments shorter than the model's minimum, skipped */
  segmentsDropped: number;
  /** the model normalises against a speaker baseline (each segment says whether it was warm) */
  adaptive: boolean;
  /** when the crowd detector ran: its mode, utterances it marked (flagged in `segments`) and held back (not in `segments`) */
  crowd?: { mode: 'suppress' | 'mark'; marked: number; suppressed: number };
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
  /**
   * Also run the model once on the whole file (`wholeFile`); default true. `earshot analyze`'s text
   * output leaves it out: it prints one verdict per file, and the whole-file pass costs a second
   * inference over every frame.
   */
  wholeFile?: boolean;
}

/**
 * The whole-file score runs the model once over every frame, so it needs the whole file in memory;
 * it is given for files up to this long (clips, corpora) and null beyond (recordings of hours).
 */
export const WHOLE_FILE_MAX_SEC = 600;

/** Audio read per step: a bounded piece, so memory does not grow with the file's length. */
const PIECE_SEC = 10;

/**
 * Runs one file through `pipeline` (reset first) and collects its timeline. The file is read in
 * pieces (../audio/stream.ts), so a recording of hours takes the memory of a few seconds of it.
 */
export async function analyzeFile(path: string, pipeline: EmotionPipeline, opts: AnalyzeOptions = {}): Promise<FileAnalysis> {
  const reader = opts.transform ? await wholeTransformed(path, opts.transform) : await openAudioFile(path);
  const rate = reader.sampleRate;
  const keepWhole = opts.wholeFile !== false && reader.durationSec <= WHOLE_FILE_MAX_SEC;
  const whole = keepWhole ? new Float32Array(reader.frames) : null;
  const segments: AnalyzedSegment[] = [];
  const onResult = (r: PipelineResult) => {
    segments.push({ kind: r.kind, start: r.startSec, end: r.endSec, label: r.label, confidence: r.confidence, probabilities: r.probabilities, arousal: r.arousal, valence: r.valence, adapted: r.adapted, ...(r.crowd ? { crowd: true as const } : {}) });
  };
  const before = pipeline.stats();
  pipeline.reset();
  if (!opts.adapt) pipeline.resetBaseline();
  pipeline.on('result', onResult);
  try {
    const chunk = opts.chunkSamples ?? Math.max(1, Math.round(rate / 10));
    // whole chunks per piece, so the chunking (and the results) do not depend on the piece size
    const pieceFrames = chunk * Math.max(1, Math.round((PIECE_SEC * rate) / chunk));
    let at = 0;
    for (let piece = await reader.read(pieceFrames); piece; piece = await reader.read(pieceFrames)) {
      whole?.set(piece, at);
      for (let i = 0; i < piece.length; i += chunk) {
        pipeline.push({ samples: piece.subarray(i, i + chunk), sampleRate: rate, time: (at + i) / rate });
        // back-pressure instead of dropping: a file can wait for the model, a microphone cannot
        if (pipeline.busy) await pipeline.drain();
      }
      at += piece.length;
    }
    await pipeline.end();
  } finally {
    pipeline.off('result', onResult);
    await reader.close();
  }
  const stats = pipeline.stats();
  if (stats.droppedInferences !== before.droppedInferences) throw new Error(`analyze: ${stats.droppedInferences - before.droppedInferences} segments of ${path} were dropped despite back-pressure`);
  const mode = pipeline.crowdMode;
  return {
    file: path,
    model: pipeline.modelName,
    mode: pipeline.config.mode,
    durationSec: reader.durationSec,
    sampleRate: rate,
    speechSec: segments.reduce((a, s) => a + (s.end - s.start), 0),
    overall: weightedMean(segments, pipeline.labels),
    wholeFile: whole ? await classifyWholeFile(whole, rate, pipeline.classifier) : null,
    segments,
    segmentsDropped: stats.segmentsDropped - before.segmentsDropped,
    adaptive: pipeline.baseline !== null,
    ...(mode !== 'off' ? { crowd: { mode, marked: (stats.crowdMarked ?? 0) - (before.crowdMarked ?? 0), suppressed: (stats.crowdSuppressed ?? 0) - (before.crowdSuppressed ?? 0) } } : {}),
  };
}

/** eval's degraded copies (gain, noise) need the whole clip: decoded whole, then handed over as pieces. */
async function wholeTransformed(path: string, transform: NonNullable<AnalyzeOptions['transform']>): Promise<AudioPieces> {
  const decoded = await decodeAudioFile(path);
  return piecesOf({ ...decoded, samples: transform(decoded.samples, decoded.sampleRate) });
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

