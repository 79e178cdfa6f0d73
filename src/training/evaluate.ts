/**
 * Scores a model on corpus clips through the path the daemon uses: each clip is fed in 100 ms
 * chunks through an EmotionPipeline (resample -> WASM frontend rebuilt from the model's metadata ->
 * VAD -> utterance segments -> normalise -> ONNX Runtime -> softmax), and its label is the
 * duration-weighted mean over its segments, as `earshot analyze` reports it. Used by `earshot eval`
 * and by `earshot train` for held-out folds, so a reported accuracy is that of what ships, on the
 * audio the daemon would classify (speech, not the corpus's silent lead-in and tail).
 * The same model run once on every frame of the clip, silence included, is scored beside it
 * (`wholeFile`), the way most papers score; a clip without speech for the VAD is scored on the
 * whole clip (counted in `noSpeech`).
 *
 * Adaptation (`adapt`): each speaker's clips stream in a seeded random order through one pipeline,
 * so a model trained with normalisation "speaker" or "prosody" normalises each clip against the baseline of
 * the speaker's clips before it; a clip classified while the baseline was still warming up (any of
 * its segments normalised on its own) is a warm-up clip, and the metrics are also reported for the
 * warm-up clips and the others apart. Without it, every clip starts cold (per-utterance).
 *
 * Beside accuracy: the expected calibration error (before and after the model's temperature, if
 * it has one), accuracy at 100/80/50% coverage (the most confident clips), and binary arousal and
 * valence UAR from the class probabilities (src/core/affect.ts).
 *
 * Label sets: only labels that both the model and the corpus have are scored. Clips of a corpus
 * label the model lacks are left out (counted), and the model's prediction is the most probable
 * of the shared labels (so an 8-class model on EmoDB competes over EmoDB's 6 classes).
 */
import { CORPUS_LABELS, type CorpusItem, type CorpusKind, type Emotion } from './corpus/index.ts';
import { addNoise, mulberry32, seedOf } from './augment.ts';
import { makeNoise, mixAtSnr, type BabblePool, type NoiseKind } from './noise.ts';
import type { VadKind } from '../runtime/vad/config.ts';
import { EarshotError } from '../core/errors.ts';
import { analyzeFile, type LabelScore } from '../runtime/pipeline/analyze-file.ts';
import { EmotionPipeline } from '../runtime/pipeline/pipeline.ts';
import { parsePipelineConfig } from '../runtime/pipeline/config.ts';
import { openCrowdDetector } from '../runtime/model/crowd.ts';
import { needsBaseline } from '../runtime/model/metadata.ts';
import { confusionMatrix, scoreConfusion, type EvalMetrics } from './metrics.ts';
import { accuracyAtCoverage, binaryUar, expectedCalibrationError, tempered } from './calibration.ts';
import { affectClassOf, affectOf } from '../core/affect.ts';
import type { EmotionClassifier } from '../runtime/model/session.ts';

export interface Prediction {
  name: string;
  speaker: string;
  truth: Emotion;
  /** the daemon's answer: duration-weighted mean over the VAD segments */
  predicted: Emotion;
  confidence: number;
  /** the model on the whole clip, silence included */
  wholeFile: Emotion;
  /** seconds of speech the VAD found */
  speechSec: number;
  /** the clip's probabilities (duration-weighted over its segments), in scoredLabels order */
  probabilities: number[];
  /** from the probabilities over the scored labels, -1..1 */
  arousal: number;
  valence: number;
  /** classified while the speaker baseline was warming up (some segment normalised on its own); false without adaptation */
  warmup: boolean;
  /** a model with a functional head that spoke (adaptation, warm baseline): `fusedTemperature` applies */
  fused: boolean;
  /** the pipeline published an answer for the clip (false: no speech found, or with `crowd: suppress` every utterance held back) */
  answered: boolean;
}

/** Confidence, coverage and affect figures of a set of predictions. */
export interface ConfidenceReport {
  /** ECE (15 bins) of the probabilities as scored (after the model's temperature, if any) */
  ece: number;
  /** ECE of the probabilities before the temperature (the same as `ece` when the model has none) */
  eceUncalibrated: number;
  temperature: number;
  /** the temperature of fused predictions (a functional head that spoke; `temperature` when none) */
  fusedTemperature: number;
  /** accuracy of the most confident 100 / 80 / 50% of the clips */
  coverage: Record<string, number>;
  /** binary UAR: high vs low arousal, negative vs other valence (src/core/affect.ts) */
  arousalUar: number;
  valenceUar: number;
}

export interface EvalReport extends EvalMetrics {
  model: string;
  corpus: CorpusKind;
  /** Labels scored (model ∩ corpus), in the model's order. */
  scoredLabels: Emotion[];
  /** True when the shared set is smaller than the model's label set. */
  sharedLabelsOnly: boolean;
  /** Clips left out because the model has no such label. */
  excluded: number;
  speakers: string[];
  predictions: Prediction[];
  /** the same clips scored on the whole clip (silence included), as most papers score */
  wholeFile: EvalMetrics;
  /** clips in which the VAD found no speech (scored on the whole clip) */
  noSpeech: number;
  /** utterances (VAD segments) classified, over all clips */
  segments: number;
  seconds: number;
  /** The daemon's processing time (frontend, VAD, model on the segments; not decoding) per second of audio, in ms. */
  inferenceMsPerAudioSecond: number;
  confidence: ConfidenceReport;
  /** with `adapt`: the warm-up clips and the rest scored apart */
  adaptation?: { seed: number; warmup: EvalMetrics & { confidence: ConfidenceReport }; adapted: EvalMetrics & { confidence: ConfidenceReport } };
  /** with `crowd`: utterances the detector held back (suppress) or marked, and the clips with an answer scored alone */
  crowd?: { mode: 'suppress' | 'mark'; heldBack: number; marked: number; clips: number; answered: number; onAnswered: EvalMetrics };
}

export interface EvaluateOptions {
  corpus: CorpusKind;
  onProgress?: (done: number, total: number) => void;
  /** Robustness: scale every clip by this gain (dB) before the pipeline. */
  gainDb?: number;
  /** Robustness: add noise at this SNR (dB, against the clip's active speech level) before the pipeline. */
  noiseSnrDb?: number;
  /** The noise added at noiseSnrDb (default pink). */
  noise?: NoiseKind;
  /** Level changes of the added noise, +- dB (default 0). */
  noiseSwingDb?: number;
  /** babble: clips of other speakers; never the speakers under test (`excludeSpeakers`, or else each clip's own speaker) */
  babblePool?: BabblePool;
  excludeSpeakers?: readonly string[];
  /** The VAD of the pipeline (pipeline.vad.kind; default: the daemon's default). */
  vad?: VadKind;
  /** Clock, injected for tests; defaults to performance.now(). */
  now?: () => number;
  /** Stream each speaker's clips through one pipeline (speaker baseline carried over), in an order seeded by `seed`. */
  adapt?: boolean;
  /**
   * With `adapt`: the share (0 to 0.95) of what each speaker's baseline hears that is neutral or calm
   * speech, as on a device where most talk is neutral: between the scored clips, unscored neutral/calm
   * clips of the same speaker (seeded draws, repeats allowed) are streamed through the pipeline.
   */
  mixNeutral?: number;
  /** Seed of the clip order under `adapt`; default 1. */
  seed?: number;
  /** Run the crowd detector (models/earshot-crowd) as pipeline.crowd does: suppress or mark. */
  crowd?: 'suppress' | 'mark';
}

/** The audio change a robustness evaluation asks for (seeded per clip, so runs repeat), or none. */
function degrade(item: CorpusItem, opts: EvaluateOptions): ((x: Float32Array, rate: number) => Float32Array) | undefined {
  const { gainDb, noiseSnrDb } = opts;
  if (gainDb === undefined && noiseSnrDb === undefined) return undefined;
  const kind = opts.noise ?? 'pink';
  const swing = opts.noiseSwingDb ?? 0;
  return (x, rate) => {
    let y = x;
    if (noiseSnrDb !== undefined) {
      // steady pink keeps the seed it always had, so earlier figures reproduce
      if (kind === 'pink' && swing === 0) y = addNoise(x, noiseSnrDb, mulberry32(seedOf(`${item.name}/eval/${noiseSnrDb}`)));
      else {
        const rng = mulberry32(seedOf(`${item.name}/eval/${kind}/${swing}/${noiseSnrDb}`));
        const noise = makeNoise(kind, x.length, rng, { pool: opts.babblePool, excludeSpeakers: opts.excludeSpeakers ?? [item.speaker], swingDb: swing, sampleRate: rate });
        y = mixAtSnr(x, noise, noiseSnrDb);
      }
    }
    if (gainDb !== undefined) {
      const g = 10 ** (gainDb / 20);
      y = Float32Array.from(y, (v) => Math.max(-1, Math.min(1, v * g)));
    }
    return y;
  };
}

/**
 * The unscored neutral/calm clips of `mixNeutral`: `perScored` of them per scored clip (so they make
 * that share of what the baseline hears), `next(speaker)` a seeded draw among that speaker's.
 */
function fillerClips(items: CorpusItem[], opts: EvaluateOptions, seed: number): { perScored: number; next: (speaker: string) => CorpusItem } {
  const share = opts.mixNeutral ?? 0;
  if (share === 0) return { perScored: 0, next: () => items[0] };
  if (!opts.adapt) throw new EarshotError('E_USAGE', '--mix-neutral: only with --adapt (it feeds the speaker baseline)');
  if (!(share > 0 && share <= 0.95)) throw new EarshotError('E_USAGE', `--mix-neutral ${share}: give a share between 0 and 0.95, e.g. 0.7`);
  const pool = new Map<string, CorpusItem[]>();
  for (const i of items) if (i.label === 'neutral' || i.label === 'calm') pool.set(i.speaker, [...(pool.get(i.speaker) ?? []), i]);
  const rng = mulberry32(seedOf(`mix-neutral/${seed}`));
  return {
    perScored: share / (1 - share),
    next: (speaker) => {
      const clips = pool.get(speaker);
      if (!clips?.length) throw new EarshotError('E_CORPUS', `--mix-neutral: speaker ${speaker} has no neutral or calm clip to stream between the scored ones`);
      return clips[Math.floor(rng() * clips.length)];
    },
  };
}

export async function evaluateItems(classifier: EmotionClassifier, items: CorpusItem[], opts: EvaluateOptions): Promise<EvalReport> {
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  const corpusLabels = new Set<Emotion>(CORPUS_LABELS[opts.corpus]);
  const scored = classifier.labels.filter((l) => corpusLabels.has(l));
  if (scored.length < 2) {
    throw new EarshotError('E_MODEL', `model ${classifier.meta.name} (labels ${classifier.labels.join(', ')}) shares fewer than 2 labels with ${opts.corpus}; nothing to score`);
  }
  let kept = items.filter((i) => scored.includes(i.label));
  const seed = opts.seed ?? 1;
  // every check that can refuse the run comes before the crowd detector's session is opened
  const config = parsePipelineConfig({ mode: 'utterance', vad: opts.vad ? { kind: opts.vad } : {}, crowd: opts.crowd ?? 'off' });
  if (opts.adapt) {
    if (!needsBaseline(classifier.meta)) {
      throw new EarshotError('E_CONFIG', `--adapt: model ${classifier.meta.name} normalises per ${classifier.meta.normalization.mode}, not against a speaker baseline, and has no functional head; adapt a model trained with earshot_train --norm prosody or speaker, or one with a functional head (training/python/earshot_train/functionals.py --export-head)`);
    }
    kept = streamOrder(kept, seed);
  }
  const filler = fillerClips(items, opts, seed);
  const crowd = opts.crowd ? await openCrowdDetector(opts.crowd, classifier.model.frontend, classifier.meta.name, (m) => process.stderr.write(`earshot: ${m}\n`)) : null;
  const pipeline = new EmotionPipeline({ classifier, config, crowd });
  const predictions: Prediction[] = [];
  let noSpeech = 0;
  let segments = 0;
  const pick = (r: LabelScore): [Emotion, number] => {
    let best = scored[0];
    let mass = 0;
    for (const l of scored) {
      mass += r.probabilities[l];
      if (r.probabilities[l] > r.probabilities[best]) best = l;
    }
    return [best, r.probabilities[best] / mass];
  };
  let speaker: string | null = null;
  let owed = 0;
  try {
    for (const item of kept) {
      // a new speaker (under adapt): a new voice and room, so the baseline starts over
      if (opts.adapt && item.speaker !== speaker) pipeline.resetBaseline();
      speaker = item.speaker;
      // everyday talk: neutral/calm clips of this speaker, heard but not scored, before the scored one
      for (owed += filler.perScored; filler.perScored > 0 && owed >= 1; owed--) await analyzeFile(filler.next(item.speaker).path, pipeline, { adapt: true });
      const a = await analyzeFile(item.path, pipeline, { transform: degrade(item, opts), adapt: opts.adapt });
      if (!a.wholeFile) throw new EarshotError('E_AUDIO_FORMAT', `${item.path}: shorter than one frame; nothing to score`);
      if (!a.overall) noSpeech++;
      segments += a.segments.length;
      const overall = a.overall ?? a.wholeFile;
      const [predicted, confidence] = pick(overall);
      const probabilities = scored.map((l) => overall.probabilities[l]);
      const affect = affectOf(Object.fromEntries(scored.map((l, k) => [l, probabilities[k]])));
      const warmup = !!opts.adapt && (a.segments.length === 0 || a.segments.some((s) => !s.adapted));
      const fused = !!opts.adapt && !warmup && classifier.head !== null;
      predictions.push({ name: item.name, speaker: item.speaker, truth: item.label, predicted, confidence, wholeFile: pick(a.wholeFile)[0], speechSec: a.speechSec, probabilities, ...affect, warmup, fused, answered: a.overall !== null });
      opts.onProgress?.(predictions.length, kept.length);
    }
  } finally {
    await crowd?.close(); // the detector's session, whatever the loop ended with
  }
  const truth = predictions.map((p) => p.truth);
  const matrix = confusionMatrix(scored, truth, predictions.map((p) => p.predicted));
  const wholeFile = scoreConfusion(scored, confusionMatrix(scored, truth, predictions.map((p) => p.wholeFile)));
  const part = (ps: Prediction[]) => ({ ...scoreConfusion(scored, confusionMatrix(scored, ps.map((p) => p.truth), ps.map((p) => p.predicted))), confidence: confidenceReport(ps, classifier.temperature, classifier.fusedTemperature) });
  return {
    ...scoreConfusion(scored, matrix),
    confidence: confidenceReport(predictions, classifier.temperature, classifier.fusedTemperature),
    ...(opts.adapt ? { adaptation: { seed, warmup: part(predictions.filter((p) => p.warmup)), adapted: part(predictions.filter((p) => !p.warmup)) } } : {}),
    ...(opts.crowd ? { crowd: crowdReport(opts.crowd, pipeline, predictions, scored) } : {}),
    model: classifier.meta.name,
    corpus: opts.corpus,
    scoredLabels: scored,
    sharedLabelsOnly: scored.length < classifier.labels.length,
    excluded: items.length - kept.length,
    speakers: [...new Set(kept.map((i) => i.speaker))].sort(),
    predictions,
    wholeFile,
    noSpeech,
    segments,
    seconds: (now() - t0) / 1000,
    inferenceMsPerAudioSecond: pipeline.stats().realTimeFactor * 1000,
  };
}

/** What the crowd detector held back or marked, and the figures of the clips that got an answer. */
function crowdReport(mode: 'suppress' | 'mark', pipeline: EmotionPipeline, ps: Prediction[], scored: Emotion[]): NonNullable<EvalReport['crowd']> {
  const answered = ps.filter((p) => p.answered);
  const { crowdSuppressed, crowdMarked } = pipeline.stats();
  const onAnswered = scoreConfusion(scored, confusionMatrix(scored, answered.map((p) => p.truth), answered.map((p) => p.predicted)));
  return { mode, heldBack: crowdSuppressed ?? 0, marked: crowdMarked ?? 0, clips: ps.length, answered: answered.length, onAnswered };
}

/**
 * The clips grouped by speaker (speakers in sorted order), each speaker's clips shuffled by a
 * seeded Fisher-Yates: the order a live stream of that speaker might bring them in.
 */
export function streamOrder(items: CorpusItem[], seed: number): CorpusItem[] {
  const speakers = [...new Set(items.map((i) => i.speaker))].sort();
  return speakers.flatMap((s) => {
    const mine = items.filter((i) => i.speaker === s);
    const rand = mulberry32(seedOf(`${seed}/order/${s}`));
    for (let i = mine.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [mine[i], mine[j]] = [mine[j], mine[i]];
    }
    return mine;
  });
}

/** ECE before/after the temperature, coverage and binary arousal/valence UAR of the predictions. */
export function confidenceReport(ps: readonly Prediction[], temperature: number, fusedTemperature = temperature): ConfidenceReport {
  const conf = ps.map((p) => Math.max(...p.probabilities) / p.probabilities.reduce((a, b) => a + b, 0));
  const correct = ps.map((p) => p.predicted === p.truth);
  // the scored probabilities are p_raw^(1/T) renormalised, so p^T renormalised is the raw model's
  const raw = ps.map((p) => Math.max(...tempered(p.probabilities, 1 / (p.fused ? fusedTemperature : temperature))));
  const classes = ps.map((p) => affectClassOf(p.truth));
  const withAffect = ps.map((p, i) => [p, classes[i]] as const).filter(([, c]) => c !== null) as [Prediction, { highArousal: boolean; negativeValence: boolean }][];
  return {
    ece: expectedCalibrationError(conf, correct),
    eceUncalibrated: expectedCalibrationError(raw, correct),
    temperature,
    fusedTemperature,
    coverage: accuracyAtCoverage(conf, correct),
    arousalUar: binaryUar(withAffect.map(([, c]) => c.highArousal), withAffect.map(([p]) => p.arousal > 0)),
    valenceUar: binaryUar(withAffect.map(([, c]) => c.negativeValence), withAffect.map(([p]) => p.valence < 0)),
  };
}
