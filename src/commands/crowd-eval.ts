/**
 * `earshot vad-eval --crowd [DATA_ROOT]`: the crowd detector (models/earshot-crowd) through the
 * daemon's pipeline, on the speakers of its test split (src/training/crowd-eval.ts says what is
 * measured). DATA_ROOT holds the corpora (ravdess, tess, emodb, emotiontts-kr, nemo).
 */
import { writeFileSync } from 'node:fs';
import { EarshotError } from '../core/errors.ts';
import { MODEL_SAMPLE_RATE } from '../core/constants.ts';
import { decodeAudioFile } from '../runtime/audio/decode.ts';
import { resample } from '../runtime/frontend/resampler.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { CrowdDetector, CROWD_MODEL_PATH } from '../runtime/model/crowd.ts';
import { VAD_KINDS, type VadKind } from '../runtime/vad/config.ts';
import { mulberry32, seedOf } from '../training/augment.ts';
import { loadBabblePool } from '../training/noise.ts';
import { crowdItems, crowdSplit } from '../training/crowd-mixtures.ts';
import { measureCrowdBabble, measureCrowdTalkers, type CrowdClip, type CrowdTalkerRow } from '../training/crowd-eval.ts';

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
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);

export async function runCrowdEval(o: CrowdEvalOptions, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)) {
  if (!VAD_KINDS.includes(o.vad as VadKind)) throw new EarshotError('E_USAGE', `--vads ${o.vad}: with --crowd give one of ${VAD_KINDS.join(', ')}`);
  const test = crowdItems(o.root).filter((i) => crowdSplit(i.speaker) === 'test');
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
    log(`talkers: ${clips.length} clips of ${count.size} test speakers (${[...count.keys()].join(' ')}), ${o.clips} a speaker; babble of the other test speakers; pipeline.crowd mark`);
    const fmt = (r: CrowdTalkerRow) =>
      `  ${(r.snrDb === null ? 'clean' : `${r.snrDb} dB`).padEnd(6)} utterances ${String(r.utterances).padStart(4)}  kept ${String(r.kept).padStart(4)} (${pct(r.keptShare)})  clips with one kept ${String(r.clipsKept).padStart(3)}/${r.clips}  accuracy of kept ${pct(r.accuracy)} (of all ${pct(r.accuracyAll)})`;
    const talkers = await measureCrowdTalkers(ctx, clips, pool, o.snrs, (r) => log(fmt(r)));
    const babble = o.noiseOnly > 0 ? await measureCrowdBabble(ctx, pool, o.noiseOnly, o.noiseLevel) : null;
    if (babble) log(`babble alone, ${babble.seconds} s at ${babble.levelDbfs} dBFS: events ${babble.events} with suppress (${babble.suppressed} suppressed of ${babble.segments} segments), ${babble.eventsWithoutDetector} with the detector off`);
    const result = { detector: crowd.name, threshold: crowd.threshold, model: classifier.meta.name, vad: o.vad, speakers: [...count.keys()], talkers, babble };
    if (o.json) writeFileSync(o.json, `${JSON.stringify(result, null, 1)}\n`);
    return result;
  } finally {
    await crowd.close();
    await classifier.close();
  }
}
