/**
 * Scores a model on corpus clips through the runtime path the daemon uses: decode -> resample to
 * the model's frontend rate -> WASM frontend (rebuilt from the model's metadata) -> normalise ->
 * ONNX Runtime -> softmax. Used by `earshot eval` and by `earshot train` for held-out folds, so a
 * reported accuracy is the accuracy of what ships.
 *
 * Label sets: only labels that both the model and the corpus have are scored. Clips of a corpus
 * label the model lacks are left out (counted), and the model's prediction is the most probable
 * of the shared labels (so an 8-class model on EmoDB competes over EmoDB's 6 classes).
 */
import { CORPUS_LABELS, type CorpusItem, type CorpusKind, type Emotion } from '../corpus/index.ts';
import { Frontend } from '../frontend/frontend.ts';
import { fileFeatures } from '../frontend/file-features.ts';
import { EarshotError } from '../errors.ts';
import { confusionMatrix, scoreConfusion, type EvalMetrics } from './metrics.ts';
import type { EmotionClassifier } from './session.ts';

export interface Prediction {
  name: string;
  speaker: string;
  truth: Emotion;
  predicted: Emotion;
  confidence: number;
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
  seconds: number;
  /** Model time (normalise + ONNX + softmax) per second of audio, in ms, single-threaded. */
  inferenceMsPerAudioSecond: number;
}

export interface EvaluateOptions {
  corpus: CorpusKind;
  onProgress?: (done: number, total: number) => void;
  /** Clock, injected for tests; defaults to performance.now(). */
  now?: () => number;
}

export async function evaluateItems(classifier: EmotionClassifier, items: CorpusItem[], opts: EvaluateOptions): Promise<EvalReport> {
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  const corpusLabels = new Set<Emotion>(CORPUS_LABELS[opts.corpus]);
  const scored = classifier.labels.filter((l) => corpusLabels.has(l));
  if (scored.length < 2) {
    throw new EarshotError('E_MODEL', `model ${classifier.meta.name} (labels ${classifier.labels.join(', ')}) shares fewer than 2 labels with ${opts.corpus}; nothing to score`);
  }
  const scoredIndex = scored.map((l) => classifier.labels.indexOf(l));
  const kept = items.filter((i) => scored.includes(i.label));
  const frontend = new Frontend(classifier.model.frontend);
  const predictions: Prediction[] = [];
  let modelMs = 0;
  let audioSec = 0;
  for (const item of kept) {
    const f = await fileFeatures(item.path, frontend);
    const tm = now();
    const r = await classifier.classify(f.data, f.frames);
    modelMs += now() - tm;
    audioSec += f.durationSec;
    let best = scoredIndex[0];
    for (const k of scoredIndex) if (r.probabilities[k] > r.probabilities[best]) best = k;
    let mass = 0;
    for (const k of scoredIndex) mass += r.probabilities[k];
    predictions.push({ name: item.name, speaker: item.speaker, truth: item.label, predicted: classifier.labels[best], confidence: r.probabilities[best] / mass });
    opts.onProgress?.(predictions.length, kept.length);
  }
  const matrix = confusionMatrix(
    scored,
    predictions.map((p) => p.truth),
    predictions.map((p) => p.predicted),
  );
  return {
    ...scoreConfusion(scored, matrix),
    model: classifier.meta.name,
    corpus: opts.corpus,
    scoredLabels: scored,
    sharedLabelsOnly: scored.length < classifier.labels.length,
    excluded: items.length - kept.length,
    speakers: [...new Set(kept.map((i) => i.speaker))].sort(),
    predictions,
    seconds: (now() - t0) / 1000,
    inferenceMsPerAudioSecond: audioSec > 0 ? modelMs / audioSec : 0,
  };
}
