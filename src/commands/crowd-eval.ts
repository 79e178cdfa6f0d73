/**
 * `earshot vad-eval --crowd [DATA_ROOT]`: the crowd detector (models/earshot-crowd) through the
 * daemon's pipeline, on the speakers of its test split (src/training/crowd-eval.ts says what is
 * measured). DATA_ROOT holds the corpora (ravdess, tess, emodb, emotiontts-kr, nemo).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { EarshotError } from '../core/errors.ts';
import { MODEL_SAMPLE_RATE } from '../core/constants.ts';
import { decodeAudioFile } from '../runtime/audio/decode.ts';
import { resample } from '../runtime/frontend/resampler.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { CrowdDetector, CROWD_MODEL_PATH } from '../runtime/model/crowd.ts';
import { VAD_KINDS, type VadKind } from '../runtime/vad/config.ts';
import { mulberry32, seedOf } from '../training/augment.ts';
import { loadBabblePool } from '../training/noise.ts';
import { crowdItems, crowdSplit, type CrowdSplit } from '../training/crowd-mixtures.ts';
import { keptAt, measureCrowdBabble, measureCrowdTalkers, thresholdKeeping, type CrowdBabbleRow, type CrowdClip, type CrowdTalkerRow } from '../training/crowd-eval.ts';

export interface CrowdEvalOptions {
  root: string;
  /** clips per test speaker (seeded) */
  clips: number;
  snrs: number[];
  noiseOnly: number;
  noiseLevel: number;
  vad: string;
  model?: string;
  detector?: string;
  json?: string;
  /** whose voices: the detector's test speakers (default) or its validation speakers (to choose a threshold) */
  split?: CrowdSplit;
  /** write a threshold into the detector's JSON: the one keeping this share of the clean utterances, or ("babble") the lowest no babble segment reaches */
  writeThreshold?: number | 'babble';
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);

export async function runCrowdEval(o: CrowdEvalOptions, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)) {
  if (!VAD_KINDS.includes(o.vad as VadKind)) throw new EarshotError('E_USAGE', `--vads ${o.vad}: with --crowd give one of ${VAD_KINDS.join(', ')}`);
  const split = o.split ?? 'test';
  const test = crowdItems(o.root).filter((i) => crowdSplit(i.speaker) === split);
  if (test.length === 0) throw new EarshotError('E_AUDIO_IO', `--crowd ${o.root}: no corpus clips found there (it should hold ravdess/, tess/, emodb/, emotiontts-kr/, nemo/)`);
  // `clips` of each speaker for talkers (seeded), the rest of the test speakers' clips for babble
  const rng = mulberry32(seedOf('crowd-eval'));
  const shuffled = test.map((i) => [rng(), i] as const).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
  const count = new Map<string, number>();
  const chosen = shuffled.filter((i) => (count.set(i.speaker, (count.get(i.speaker) ?? 0) + 1).get(i.speaker) ?? 0) <= o.clips);
  const names = new Set(chosen.map((c) => c.name));
  const pool = await loadBabblePool(test.filter((i) => !names.has(i.name)));
  const clips: CrowdClip[] = [];
  for (const it of chosen) {
    const a = await decodeAudioFile(it.path);
    clips.push({ name: it.name, speaker: it.speaker, label: it.label, samples: resample(a.samples, a.sampleRate, MODEL_SAMPLE_RATE) });
  }
  const classifier = await EmotionClassifier.load(o.model);
  const crowd = await CrowdDetector.load(o.detector ?? CROWD_MODEL_PATH);
  try {
    crowd.checkFrontend(classifier.model.frontend, classifier.meta.name);
    const ctx = { classifier, crowd, vad: o.vad as VadKind };
    log(`crowd detector ${crowd.name} (threshold ${crowd.threshold.toFixed(3)}), model ${classifier.meta.name}, VAD ${o.vad}`);
    log(`talkers: ${clips.length} clips of ${count.size} ${split} speakers (${[...count.keys()].join(' ')}), ${o.clips} a speaker; babble of the other ${split} speakers; pipeline.crowd mark`);
    const fmt = (r: CrowdTalkerRow) =>
      `  ${(r.snrDb === null ? 'clean' : `${r.snrDb} dB`).padEnd(6)} utterances ${String(r.utterances).padStart(4)}  kept ${String(r.kept).padStart(4)} (${pct(r.keptShare)})  clips with one kept ${String(r.clipsKept).padStart(3)}/${r.clips}  accuracy of kept ${pct(r.accuracy)} (of all ${pct(r.accuracyAll)})`;
    const talkers = await measureCrowdTalkers(ctx, clips, pool, o.snrs, (r) => log(fmt(r)));
    const babble = o.noiseOnly > 0 ? await measureCrowdBabble(ctx, pool, o.noiseOnly, o.noiseLevel) : null;
    if (babble) log(`babble alone, ${babble.seconds} s at ${babble.levelDbfs} dBFS: events ${babble.events} with suppress (${babble.suppressed} suppressed of ${babble.segments} segments), ${babble.eventsWithoutDetector} with the detector off`);
    sweep(talkers, babble, crowd.threshold, log);
    const result = { detector: crowd.name, threshold: crowd.threshold, model: classifier.meta.name, vad: o.vad, split, speakers: [...count.keys()], talkers, babble };
    if (o.writeThreshold !== undefined) writeThreshold(o.detector ?? CROWD_MODEL_PATH, thresholdBy(o.writeThreshold, talkers, babble), o.writeThreshold, split, log);
    if (o.json) writeFileSync(o.json, `${JSON.stringify(result, null, 1)}\n`);
    return result;
  } finally {
    await crowd.close();
    await classifier.close();
  }
}

/** Kept shares at other thresholds: the detector's own, and those keeping 90-99 % of the clean utterances. */
function sweep(talkers: CrowdTalkerRow[], babble: CrowdBabbleRow | null, own: number, log: (s: string) => void): void {
  const ts = [own, ...[0.9, 0.95, 0.97, 0.99].map((k) => thresholdKeeping(talkers[0].scores, k))];
  log('kept at other thresholds (utterances; babble: segments passing):');
  for (const t of ts) {
    const rows = talkers.map((r) => `${r.snrDb === null ? 'clean' : `${r.snrDb} dB`} ${pct(keptAt(r.scores, t)).trim()}`).join(', ');
    log(`  ${t.toFixed(3).padStart(7)}${t === own ? ' (own)' : '      '}  ${rows}${babble ? `; babble ${babble.scores.filter((v) => v >= t).length}/${babble.scores.length}` : ''}`);
  }
}

/** The threshold a --write-threshold rule gives: keeping a share of the clean utterances, or just above the highest-scored babble segment. */
function thresholdBy(rule: number | 'babble', talkers: CrowdTalkerRow[], babble: CrowdBabbleRow | null): number {
  if (rule !== 'babble') return thresholdKeeping(talkers[0].scores, rule);
  if (!babble || babble.scores.length === 0) throw new EarshotError('E_USAGE', '--write-threshold babble needs babble segments: give --noise-only seconds');
  return Math.max(...babble.scores) + 1e-3;
}

/** Writes `threshold` and how it was chosen into the detector's metadata (its .onnx and checksum unchanged). */
function writeThreshold(jsonPath: string, threshold: number, rule: number | 'babble', split: CrowdSplit, log: (s: string) => void): void {
  const meta = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>;
  meta.trainingThreshold ??= meta.threshold;
  meta.threshold = +threshold.toFixed(6);
  const how = rule === 'babble' ? 'lowest score no babble segment reaches' : `highest score keeping ${(100 * rule).toFixed(0)} % of the clean utterances`;
  meta.thresholdRule = `${how} of the ${split} speakers through the daemon's pipeline (earshot vad-eval --crowd --split ${split} --write-threshold ${rule})`;
  writeFileSync(jsonPath, `${JSON.stringify(meta, null, 1)}\n`);
  log(`threshold ${threshold.toFixed(3)} written to ${jsonPath}`);
}
