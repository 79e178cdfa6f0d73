/**
 * `earshot eval DIR --corpus ravdess|tess|emodb|emotiontts-kr`: scores a model on a corpus through the
 * runtime's own path (WASM frontend + onnxruntime-node) and prints accuracy, UAR, macro F1,
 * per-class precision/recall/F1 and the confusion matrix; the expected calibration error (before
 * and after the model's temperature), accuracy at 100/80/50% coverage, and binary arousal and
 * valence UAR; optional JSON and SVG plot. `--adapt` streams each speaker's clips in a seeded
 * random order through one pipeline (speaker baseline carried over) and reports the warm-up clips
 * apart.
 *
 * When the model's metadata says it trained on speakers being scored (training.corpora names the
 * corpus and training.heldOutSpeakers, "corpus:speaker", leaves them out of the held-out set), a
 * warning says so before the figures: they then measure fit to the training data, not accuracy on
 * unseen speakers (the default models train on all of RAVDESS).
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { CORPORA, filterSpeakers, loadCorpus, type CorpusKind } from '../training/corpus/index.ts';
import { mulberry32, seedOf } from '../training/augment.ts';
import { EarshotError } from '../core/errors.ts';
import { confusionSvg } from '../training/confusion-svg.ts';
import { evaluateItems, type EvalReport } from '../training/evaluate.ts';
import { formatReport } from '../training/metrics.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { DEFAULT_VAD_KIND, VAD_KINDS, type VadKind } from '../runtime/vad/config.ts';
import { parseCrowdFlag } from '../runtime/pipeline/config.ts';
import { NOISE_KINDS, loadBabblePool, type BabblePool, type NoiseKind } from '../training/noise.ts';

export interface EvalOptions {
  corpus: string;
  model?: string;
  json?: string;
  plot?: string;
  actors?: string;
  predictions?: boolean;
  gainDb?: string;
  noiseSnr?: string;
  /** pink | brown | babble | white (with --noise-snr; default pink) */
  noise?: string;
  noiseSwing?: string;
  /** RAVDESS root whose other actors make the babble (default: DIR when --corpus ravdess) */
  babbleDir?: string;
  vad?: string;
  /** false: --no-tta (ignore the model's test-time augmentation) */
  tta?: boolean;
  /** false: --no-calibration (ignore the model's temperature) */
  calibration?: boolean;
  adapt?: boolean;
  /** --mix-neutral: share of unscored neutral/calm speech the baseline hears (with --adapt) */
  mixNeutral?: string;
  /** --crowd: run the crowd detector as pipeline.crowd does */
  crowd?: string;
  seed?: string;
  /** f32 | q15: the frontend's arithmetic (default: the model's own, metadata frontend.arithmetic) */
  arithmetic?: string;
}

/** "1,2,17-20" -> ["01","02","17","18","19","20"] (RAVDESS/EmoDB ids are two digits; TESS names pass through). */
export function parseSpeakers(spec: string): string[] {
  const out: string[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      for (let a = Number(range[1]); a <= Number(range[2]); a++) out.push(String(a).padStart(2, '0'));
    } else if (/^\d+$/.test(part)) out.push(part.padStart(2, '0'));
    else out.push(part.toUpperCase());
  }
  if (out.length === 0) throw new EarshotError('E_USAGE', `--actors "${spec}" names no speaker; use e.g. --actors 1,2,3,4 or 17-20`);
  return out;
}

export function parseCorpusKind(s: string): CorpusKind {
  if (!(CORPORA as readonly string[]).includes(s)) throw new EarshotError('E_USAGE', `--corpus "${s}" is not one of ${CORPORA.join(', ')}`);
  return s as CorpusKind;
}

/**
 * The scored speakers that the model's training saw: all of them when training.corpora names the
 * corpus, less those in training.heldOutSpeakers ("ravdess:05", as training/python writes them).
 */
export function speakersSeenInTraining(training: { corpora: string[]; heldOutSpeakers: string[] }, corpus: string, speakers: readonly string[]): string[] {
  if (!training.corpora.some((c) => c.toLowerCase() === corpus.toLowerCase())) return [];
  const heldOut = new Set(training.heldOutSpeakers.map((s) => s.toLowerCase()));
  return speakers.filter((s) => !heldOut.has(`${corpus}:${s}`.toLowerCase()));
}

/** The warning line for speakersSeenInTraining's answer, or null when none was seen. */
export function seenSpeakersWarning(model: string, protocol: string, corpus: string, seen: readonly string[], scored: readonly string[]): string | null {
  if (seen.length === 0) return null;
  const which = seen.length === scored.length ? (scored.length === 1 ? `the one speaker scored here (${seen[0]})` : `all ${scored.length} speakers scored here`) : `${seen.length} of the ${scored.length} speakers scored here (${seen.join(',')})`;
  return (
    `warning: model ${model} trained on ${which} (its metadata: ${corpus}, "${protocol}"); these figures measure fit to its training data, ` +
    `not accuracy on unseen speakers. For that, score a model trained without them (a fold model on its held-out actors, --actors)`
  );
}

/** The JSON written by --json: the issue's keys first, then context. */
export function reportJson(r: EvalReport & { arithmetic?: string; seenInTraining?: string[] }, withPredictions: boolean): object {
  const { accuracy, uar, f1Macro, perClass, confusion, n, model } = r;
  return {
    accuracy,
    uar,
    f1Macro,
    perClass,
    confusion,
    n,
    model,
    corpus: r.corpus,
    sharedLabelsOnly: r.sharedLabelsOnly,
    scoredLabels: r.scoredLabels,
    excluded: r.excluded,
    speakers: r.speakers,
    ...(r.seenInTraining?.length ? { speakersSeenInTraining: r.seenInTraining } : {}),
    seconds: r.seconds,
    inferenceMsPerAudioSecond: r.inferenceMsPerAudioSecond,
    noSpeech: r.noSpeech,
    segments: r.segments,
    confidence: r.confidence,
    ...(r.adaptation ? { adaptation: r.adaptation } : {}),
    ...(r.crowd ? { crowd: r.crowd } : {}),
    ...(r.arithmetic ? { arithmetic: r.arithmetic } : {}),
    wholeFile: { accuracy: r.wholeFile.accuracy, uar: r.wholeFile.uar, f1Macro: r.wholeFile.f1Macro, confusion: r.wholeFile.confusion },
    ...(withPredictions ? { predictions: r.predictions } : {}),
  };
}

const toStdout = (s: string): void => void process.stdout.write(`${s}\n`);

// eslint-disable-next-line complexity,max-lines-per-function -- the evaluation protocol in order (corpus, model, options, scoring, report), each step guarded by its flags; to be split per protocol like training (issue 30 item 1)
export async function runEval(dir: string, opts: EvalOptions, log: (s: string) => void = toStdout): Promise<EvalReport> {
  const corpus = parseCorpusKind(opts.corpus);
  let items = loadCorpus(corpus, dir);
  if (opts.actors) items = filterSpeakers(items, parseSpeakers(opts.actors));
  const noise = choice('--noise', opts.noise ?? 'pink', NOISE_KINDS) as NoiseKind;
  const vad = choice('--vad', opts.vad ?? DEFAULT_VAD_KIND, VAD_KINDS) as VadKind;
  const noiseSnrDb = dbOption('--noise-snr', opts.noiseSnr);
  const noiseSwingDb = dbOption('--noise-swing', opts.noiseSwing);
  if ((opts.noise !== undefined || opts.noiseSwing !== undefined) && noiseSnrDb === undefined) throw new EarshotError('E_USAGE', '--noise and --noise-swing need --noise-snr DB (the level of the noise against the speech)');
  // babble: other actors' voices, never those under test (with --actors: none of them; without: not the clip's own speaker)
  let babblePool: BabblePool | undefined;
  let excludeSpeakers: string[] | undefined;
  if (noise === 'babble' && noiseSnrDb !== undefined) {
    const root = opts.babbleDir ?? (corpus === 'ravdess' ? dir : undefined);
    if (!root) throw new EarshotError('E_USAGE', `--noise babble on ${corpus}: name a RAVDESS folder whose actors make the babble, --babble-dir ../shared/data/ravdess`);
    const rng = mulberry32(seedOf('babble-pool'));
    const pool = loadCorpus('ravdess', root).map((i) => [rng(), i] as const).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
    const perSpeaker = new Map<string, number>();
    const chosen = pool.filter((i) => (perSpeaker.set(i.speaker, (perSpeaker.get(i.speaker) ?? 0) + 1).get(i.speaker) ?? 0) <= 6);
    babblePool = await loadBabblePool(chosen);
    if (opts.actors && corpus === 'ravdess') excludeSpeakers = [...new Set(items.map((i) => i.speaker))];
  }
  const arithmetic = opts.arithmetic === undefined ? undefined : (choice('--arithmetic', opts.arithmetic, ['f32', 'q15']) as 'f32' | 'q15');
  const classifier = await EmotionClassifier.load(opts.model, { tta: opts.tta, calibration: opts.calibration, arithmetic });
  const seed = opts.seed === undefined ? 1 : Number(opts.seed);
  if (!Number.isInteger(seed)) throw new EarshotError('E_USAGE', `--seed ${opts.seed}: give an integer`);
  try {
    let last = 0;
    const report = await evaluateItems(classifier, items, {
      corpus,
      gainDb: dbOption('--gain-db', opts.gainDb),
      noiseSnrDb,
      noise,
      noiseSwingDb,
      babblePool,
      excludeSpeakers,
      vad,
      adapt: opts.adapt,
      ...(opts.mixNeutral !== undefined ? { mixNeutral: Number(opts.mixNeutral) } : {}),
      ...(opts.crowd !== undefined ? { crowd: parseCrowdFlag(opts.crowd, ['suppress', 'mark'], ' (off is the same as leaving --crowd out)') } : {}),
      seed,
      onProgress: (done, total) => {
        const now = Date.now();
        if (process.stderr.isTTY && (now - last > 250 || done === total)) {
          process.stderr.write(`\r  ${done}/${total} clips`);
          if (done === total) process.stderr.write('\n');
          last = now;
        }
      },
    });
    log(`model ${report.model} on ${corpus} (${dir}), speakers ${report.speakers.join(',')}: ${report.n} clips in ${report.seconds.toFixed(1)} s (pipeline ${report.inferenceMsPerAudioSecond.toFixed(2)} ms per second of audio)`);
    const seen = speakersSeenInTraining(classifier.meta.training, corpus, report.speakers);
    const warning = seenSpeakersWarning(report.model, classifier.meta.training.protocol, corpus, seen, report.speakers);
    if (warning) {
      log(warning);
      // also on stderr when the report goes to a file or a pipe, where it would go unseen
      if (log === toStdout && !process.stdout.isTTY) process.stderr.write(`earshot eval: ${warning}\n`);
    }
    if (classifier.meta.tta) {
      log(classifier.tta.length ? `test-time augmentation: mean over ${classifier.tta.length} runs per utterance (tempo ${classifier.meta.tta.tempo.join('/')} x shift ${classifier.meta.tta.shiftFrames.join('/')} frames)` : 'test-time augmentation off (--no-tta): one run per utterance');
    }
    if (report.sharedLabelsOnly || report.excluded > 0) {
      log(
        `scored over the shared labels only: ${report.scoredLabels.join(', ')} (model has ${classifier.labels.length}, ` +
          `predictions restricted to these; ${report.excluded} clip(s) with labels the model lacks left out)`,
      );
    }
    log(`VAD: ${vad}`);
    const served = classifier.model.frontend.arithmetic;
    const trained = classifier.meta.frontend.arithmetic;
    log(`frontend arithmetic: ${served}${served === trained ? '' : ` (the model was trained on ${trained} features)`}`);
    if (opts.gainDb !== undefined || opts.noiseSnr !== undefined) {
      log(`robustness: every clip ${[opts.noiseSnr !== undefined ? `with ${noise} noise at ${opts.noiseSnr} dB SNR${noiseSwingDb ? ` (level swinging +-${noiseSwingDb} dB)` : ''}` : '', opts.gainDb !== undefined ? `at ${opts.gainDb} dB gain` : ''].filter(Boolean).join(' and ')}`);
    }
    log(formatReport(report));
    log(confidenceLine(report.confidence));
    if (report.adaptation) {
      const { warmup, adapted } = report.adaptation;
      log(
        `adaptation (each speaker's clips in a random order, seed ${report.adaptation.seed}): ${adapted.n} clips against a warm baseline: accuracy ${pct1(adapted.accuracy)}, UAR ${pct1(adapted.uar)}; ` +
          `${warmup.n} warm-up clips (per utterance): accuracy ${pct1(warmup.accuracy)}, UAR ${pct1(warmup.uar)}`,
      );
    }
    if (report.crowd) {
      const c = report.crowd;
      log(
        `crowd detector (${c.mode}): ${c.mode === 'suppress' ? `${c.heldBack} utterance(s) held back` : `${c.marked} utterance(s) marked`}; ` +
          `${c.answered} of ${c.clips} clips answered (${pct1(c.answered / Math.max(1, c.clips))}), on them accuracy ${pct1(c.onAnswered.accuracy)}, UAR ${pct1(c.onAnswered.uar)}`,
      );
    }
    log(
      `scored as the daemon hears each clip (VAD utterances, duration-weighted)${report.noSpeech ? `; ${report.noSpeech} clip(s) without speech for the VAD scored on the whole clip` : ''}. ` +
        `The whole clip, silence included, as papers score it: accuracy ${pct1(report.wholeFile.accuracy)}, UAR ${pct1(report.wholeFile.uar)}, macro F1 ${pct1(report.wholeFile.f1Macro)}`,
    );
    if (opts.json) writeFileSync(opts.json, `${JSON.stringify(reportJson({ ...report, arithmetic: served, seenInTraining: seen }, opts.predictions ?? false), null, 2)}\n`);
    if (opts.plot) {
      if (!opts.plot.endsWith('.svg')) throw new EarshotError('E_USAGE', `--plot ${opts.plot}: only SVG is written; name the file *.svg`);
      writeFileSync(opts.plot, confusionSvg(report, `${report.model} on ${corpus} (speakers ${report.speakers.join(',')})`));
    }
    return report;
  } finally {
    await classifier.close();
  }
}

function dbOption(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || Math.abs(x) > 120) throw new EarshotError('E_USAGE', `${flag} ${v}: give a level in dB, e.g. -20 or 10`);
  return x;
}

function choice(flag: string, v: string, allowed: readonly string[]): string {
  if (!allowed.includes(v)) throw new EarshotError('E_USAGE', `${flag} ${v}: use one of ${allowed.join(', ')}`);
  return v;
}

const pct1 = (v: number) => `${(100 * v).toFixed(1)}%`;

export function confidenceLine(c: EvalReport['confidence']): string {
  const t = c.fusedTemperature !== c.temperature ? `temperatures ${c.temperature.toFixed(3)} alone, ${c.fusedTemperature.toFixed(3)} fused` : `temperature ${c.temperature.toFixed(3)}`;
  const cal = c.temperature !== 1 || c.fusedTemperature !== 1 ? `ECE ${pct1(c.ece)} at ${t} (${pct1(c.eceUncalibrated)} before)` : `ECE ${pct1(c.ece)} (uncalibrated)`;
  return `${cal}; accuracy at coverage 100/80/50%: ${['100', '80', '50'].map((k) => pct1(c.coverage[k])).join(' / ')}; binary arousal UAR ${pct1(c.arousalUar)}, valence UAR ${pct1(c.valenceUar)}`;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description(summaryOf('eval'))
    .argument('<dir>', 'corpus root folder (official layout, .wav or .flac)')
    .requiredOption('--corpus <kind>', `corpus naming scheme: ${CORPORA.join(', ')}`)
    .option('--model <name>', 'model name in models/ or path to NAME.json (default: the default model)')
    .option('--json <file>', 'write the metrics as JSON')
    .option('--plot <file.svg>', 'plot the confusion matrix to an SVG file')
    .option('--actors <list>', 'only these speakers, e.g. 1,2,3,4 or 17-20 (held-out actors)')
    .option('--predictions', 'include per-clip predictions in the JSON')
    .option('--gain-db <db>', 'robustness: scale every clip by this gain first (clipped at full scale), e.g. -20')
    .option('--noise-snr <db>', 'robustness: add noise at this SNR first (against the active speech level; seeded per clip)')
    .option('--noise <kind>', `the noise --noise-snr adds: ${NOISE_KINDS.join(', ')} (default pink; brown = engine/cabin rumble; babble = 6 other RAVDESS actors talking)`)
    .option('--noise-swing <db>', 'level changes: the noise level follows a slow sinusoid of +- this many dB (period 3-9 s)')
    .option('--babble-dir <dir>', 'RAVDESS folder for --noise babble (default: DIR with --corpus ravdess; never the actors under test)')
    .option('--vad <kind>', `the pipeline's VAD: ${VAD_KINDS.join(', ')} (default ${DEFAULT_VAD_KIND}, as the daemon)`)
    .option('--no-tta', "one run per utterance, ignoring the model's test-time augmentation (metadata tta)")
    .option('--no-calibration', "ignore the model's temperature (metadata calibration)")
    .option('--adapt', "stream each speaker's clips through one pipeline in a random order, the speaker baseline carried over (models trained with --norm prosody or speaker); warm-up clips reported apart")
    .option('--seed <n>', 'seed of the clip order under --adapt', '1')
    .option('--crowd <mode>', 'run the crowd detector (models/earshot-crowd) as pipeline.crowd does: suppress (utterances with no dominant talker get no answer) or mark; reports the clips answered and the figures on them')
    .option('--mix-neutral <share>', "with --adapt: stream unscored neutral/calm clips of each speaker between the scored ones so they make this share of what the baseline hears (0.7: everyday talk, mostly neutral)")
    .option('--arithmetic <kind>', "the frontend's arithmetic, f32 or q15 (fixed point), whatever the model was trained with (default: the model's own)")
    .action(async (dir: string, opts: EvalOptions) => {
      await runEval(dir, opts);
    });
}
