/**
 * `earshot train`: corpus folders -> features (the WASM frontend, `earshot features`) -> PyTorch
 * training (training/python/earshot_train, Debian's /usr/bin/python3) -> ONNX + metadata -> evaluation through
 * the runtime (`earshot eval`'s code path). Protocols, each optional:
 *  - folds: speaker-independent, RAVDESS actors held out 4 at a time (2 male + 2 female), mean ± sd;
 *  - random: the papers' random 80/20 clip split, speaker-DEPENDENT, only for comparison;
 *  - final: trained on every clip, shipped to models/NAME, scored on the corpora it did not train on;
 *  - loco: leave one corpus out: one model per corpus of --corpora (TESS excepted), trained on the
 *    others, scored on it (how a voice, language and room never heard fare);
 *  - loso-CORPUS (e.g. loso-nemo): one model per speaker of CORPUS, trained on everything else.
 * With several --corpora every run trains on all of them (less what it holds out), each corpus's
 * loss over its own labels and the corpora balanced (the recipe's --balance corpus).
 * Every reported number is measured here, in TypeScript, on clips the model never saw.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CORPORA, filterSpeakers, loadCorpus, type CorpusKind } from './corpus/index.ts';
import { EarshotError } from '../core/errors.ts';
import { parseFrontendConfig } from '../runtime/frontend/config.ts';
import { evaluateItems, type EvalReport } from './evaluate.ts';
import { needsBaseline, type ModelMetric, type Tta } from '../runtime/model/metadata.ts';
import { mean, sd } from './metrics.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { DEFAULT_VAD_KIND, VAD_KINDS, type VadKind } from '../runtime/vad/config.ts';
import { readFrontendConfigFile } from './export-features.ts';
import { parseFolds, RAVDESS_FOLDS } from './folds.ts';
import { DEFAULT_TRAIN_FRONTEND, SHIPPED_RECIPES } from './recipes.ts';
import { functionalsRunner, pythonRunner, type PythonRunner } from './python.ts';
import { ensureFeatures, ensureNoisyFeatures, noiseKinds } from './feature-cache.ts';
import { teacherFile } from './teachers.ts';
import { allMembers, recipeKey, splitArgs, trainOnce } from './train-runs.ts';

export interface TrainOptions {
  data: string;
  name: string;
  arch: string;
  protocols: string;
  tess?: boolean;
  config?: string;
  work: string;
  modelsDir: string;
  folds?: string;
  python: string;
  /** SNRs in dB for noisy training copies, e.g. "20,10,5"; "none" for none. Default: the shipped recipe's (when --train-args is not given), else none. */
  noise?: string;
  /** Training runs at a time (folds, final and random in parallel); default 1. */
  jobs?: number;
  /** Train on whole clips (silence included) instead of the VAD's speech spans. */
  wholeClips?: boolean;
  /** The VAD that finds the training spans and segments the scored clips (pipeline.vad.kind; default: the daemon's default). */
  vad?: string;
  /** Noise of the noisy copies: pink (default), brown or babble (of the clip's fold-mates), or a comma list (a copy per kind). */
  noiseType?: string;
  /** Extra arguments passed through to earshot_train (e.g. "--epochs 30 --hidden 64"). */
  trainArgs?: string;
  /** Appended to the recipe's own arguments (its corpora, noisy copies and head kept); a later earshot_train flag wins. */
  moreArgs?: string;
  /** A shipped recipe by name (SHIPPED_RECIPES; default: the architecture's own, if it has one). */
  recipe?: string;
  /**
   * Knowledge distillation: comma list of teachers. A fold model learns from the fold models of the
   * named runs in --work that were trained without exactly its actors; the final model from each
   * named model (--models-dir, a model name or a path). See teacherFile.
   */
  teacher?: string;
  /** The corpora every run trains on, comma list (default: the recipe's, else ravdess); each a folder under --data. */
  corpora?: string;
  quiet?: boolean;
}

/** `--corpora ravdess,nemo`: known kinds, RAVDESS first (the folds and the teachers read it). */
export function parseCorpora(spec: string): CorpusKind[] {
  const list = spec.split(',').map((c) => c.trim()).filter(Boolean);
  for (const c of list) if (!(CORPORA as readonly string[]).includes(c)) throw new EarshotError('E_USAGE', `--corpora: "${c}" is not one of ${CORPORA.join(', ')}`);
  if (!list.includes('ravdess')) throw new EarshotError('E_USAGE', `--corpora ${spec}: ravdess must be one of them (its folds and teachers are the reference)`);
  return ['ravdess', ...new Set(list.filter((c) => c !== 'ravdess'))] as CorpusKind[];
}

/** loso-CORPUS (one model per speaker) or loso-CORPUS/K (the speakers in K groups, one model per group). */
const LOSO = /^loso-(.+?)(?:\/(\d+))?$/;

/** The protocols `earshot train` knows; loso-CORPUS[/K] for any corpus. */
function checkProtocol(p: string, corpora: CorpusKind[]): void {
  if (['folds', 'random', 'final', 'loco'].includes(p)) return;
  const m = LOSO.exec(p);
  if (m && corpora.includes(m[1] as CorpusKind) && (m[2] === undefined || Number(m[2]) >= 2)) return;
  throw new EarshotError('E_USAGE', `--protocols: "${p}" is not one of folds, random, final, loco, loso-CORPUS or loso-CORPUS/K (K >= 2 groups of speakers; a corpus of --corpora: ${corpora.join(', ')})`);
}

/** The model name of a leave-speakers-out run (its file stem joins the speakers with '+', which a model name may not hold: MODEL_NAME). */
export function losoName(name: string, c: string, spks: readonly string[]): string {
  return `${name}-loso-${c}-${spks.join('_')}`;
}

/** The held-out speaker groups of a loso protocol: each speaker alone, or the sorted speakers dealt into K groups. */
export function speakerGroups(speakers: string[], groups?: number): string[][] {
  const sorted = [...new Set(speakers)].sort();
  if (!groups) return sorted.map((s) => [s]);
  const out: string[][] = Array.from({ length: Math.min(groups, sorted.length) }, () => []);
  sorted.forEach((s, i) => out[i % out.length].push(s));
  return out;
}

function metric(r: EvalReport, protocol: string): ModelMetric {
  return { accuracy: r.accuracy, uar: r.uar, f1Macro: r.f1Macro, n: r.n, protocol, measuredBy: 'earshot eval', labels: r.scoredLabels };
}

async function score(modelJson: string, items: Parameters<typeof evaluateItems>[1], corpus: CorpusKind, out: string, vad: VadKind): Promise<EvalReport> {
  const c = await EmotionClassifier.load(modelJson);
  try {
    // a model normalised against the speaker baseline is scored as the daemon runs it: each
    // speaker's clips streamed through one pipeline (warm-up clips included, reported apart)
    const r = await evaluateItems(c, items, { corpus, vad, adapt: needsBaseline(c.meta) });
    const { predictions, ...rest } = r;
    writeFileSync(out, `${JSON.stringify({ ...rest, predictions }, null, 1)}\n`);
    return r;
  } finally {
    await c.close();
  }
}

const pct = (x: number) => (100 * x).toFixed(1);

/** Merges measured metrics into a model's metadata (the .onnx and its sha256 are untouched). */
function addMetrics(metaPath: string, metrics: Record<string, ModelMetric>): void {
  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  meta.metrics = { ...meta.metrics, ...metrics };
  writeFileSync(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
}

// eslint-disable-next-line complexity,max-lines-per-function -- the training recipe in order (features, noisy copies, teachers, folds, export, scoring); to be split per protocol (issue 30 item 1 left it whole)
export async function runTrain(
  opts: TrainOptions,
  runPython: PythonRunner = pythonRunner(opts.python),
  log: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
  runFunctionals: PythonRunner = functionalsRunner(opts.python),
) {
  const protocols = new Set(opts.protocols.split(',').map((s) => s.trim()));
  if (opts.recipe !== undefined && !SHIPPED_RECIPES[opts.recipe]) throw new EarshotError('E_USAGE', `--recipe ${opts.recipe}: use one of ${Object.keys(SHIPPED_RECIPES).join(', ')}`);
  const preset = SHIPPED_RECIPES[opts.recipe ?? opts.arch];
  if (opts.recipe !== undefined) opts = { ...opts, arch: preset.arch ?? opts.recipe };
  // the recipe's corpora, like its noisy copies, come with its own arguments only (not with --train-args)
  const corpora = parseCorpora(opts.corpora ?? (opts.trainArgs === undefined ? preset?.corpora : undefined) ?? (opts.tess ? 'ravdess,tess' : 'ravdess'));
  if (opts.tess && !corpora.includes('tess')) corpora.push('tess');
  for (const p of protocols) checkProtocol(p, corpora);
  const config = opts.config ? readFrontendConfigFile(opts.config) : parseFrontendConfig(preset?.frontend ?? DEFAULT_TRAIN_FRONTEND);
  const work = resolve(opts.work);
  const runDir = join(work, opts.name);
  mkdirSync(runDir, { recursive: true });
  const ravdessRoot = join(opts.data, 'ravdess');
  const ravdess = loadCorpus('ravdess', ravdessRoot);
  const vad = (opts.vad ?? DEFAULT_VAD_KIND) as VadKind;
  if (!(VAD_KINDS as readonly string[]).includes(vad)) throw new EarshotError('E_USAGE', `--vad ${vad}: use one of ${VAD_KINDS.join(', ')}`);
  const ownArgs = opts.trainArgs !== undefined;
  const noiseTypes = noiseKinds(opts.noiseType ?? (ownArgs ? undefined : preset?.noiseType));
  const root = (c: CorpusKind) => join(opts.data, c);
  const dirOf = new Map<CorpusKind, string>();
  for (const c of corpora) dirOf.set(c, await ensureFeatures(c, root(c), config, work, opts.quiet ?? false, vad));
  const featureDirs = corpora.map((c) => dirOf.get(c)!);
  const corpusItems = new Map(corpora.map((c) => [c, c === 'ravdess' ? ravdess : loadCorpus(c, root(c))]));
  /** One member recipe's arguments; `without`: a corpus left out (its clean and noisy features). */
  const groupArgs = async (trainArgs: string | undefined, noise: string | undefined, without?: CorpusKind): Promise<string[]> => {
    const augmentDirs: string[] = [];
    const kept = corpora.filter((c) => c !== without);
    for (const snr of noise && noise !== 'none' ? noise.split(',').map(Number) : []) {
      if (!Number.isFinite(snr)) throw new EarshotError('E_USAGE', `--noise "${noise}": give SNRs in dB, e.g. 20,10,5, or none`);
      // RAVDESS only: copies of the other corpora (5,000 more clips per kind) took longer to make on 2
      // cores than the training itself; babble of a RAVDESS clip comes from its fold-mates
      for (const c of kept.filter((k) => k === 'ravdess')) for (const kind of noiseTypes) augmentDirs.push(await ensureNoisyFeatures(c, root(c), config, work, snr, opts.quiet ?? false, vad, kind, opts.folds ? parseFolds(opts.folds) : RAVDESS_FOLDS));
    }
    return ['--arch', opts.arch, '--features', ...kept.map((c) => dirOf.get(c)!), ...(augmentDirs.length ? ['--augment-features', ...augmentDirs] : []), ...(opts.wholeClips ? [] : ['--vad']), ...splitArgs(trainArgs)];
  };
  const baseTrainArgs = [opts.trainArgs ?? preset?.trainArgs, opts.moreArgs].filter((x) => x !== undefined).join(' ') || undefined;
  const baseNoise = opts.noise ?? (ownArgs ? undefined : preset?.noise);
  const base = await groupArgs(baseTrainArgs, baseNoise);
  // the preset's other member recipe and test-time augmentation come with its own arguments only
  const more = !ownArgs && preset?.extraMembers ? [await groupArgs(preset.extraMembers.trainArgs, preset.extraMembers.noise)] : [];
  if (more.length && (protocols.has('loco') || corpora.length > 1)) throw new EarshotError('E_USAGE', `--recipe ${opts.recipe ?? opts.arch}: a recipe with extra members trains on RAVDESS only; give --corpora ravdess and no loco`);
  // leave one corpus out: every corpus but TESS (two voices, no target here) is left out in turn
  const locoCorpora = protocols.has('loco') ? corpora.filter((c) => c !== 'tess') : [];
  if (protocols.has('loco') && corpora.length < 2) throw new EarshotError('E_USAGE', '--protocols loco needs two or more --corpora (e.g. ravdess,emodb,emotiontts-kr,nemo)');
  const locoBase = new Map<CorpusKind, string[]>();
  for (const c of locoCorpora) locoBase.set(c, await groupArgs(baseTrainArgs, baseNoise, c));
  const tta = ownArgs ? undefined : preset?.tta;
  const head = ownArgs ? undefined : preset?.head;
  /** Writes the recipe's functional head into a trained model, fitted on the speakers the network trained on (heldOut: RAVDESS actors or corpus:speaker keys). */
  const addHead = async (modelJson: string, heldOut: string[] = [], dirs: string[] = featureDirs): Promise<void> => {
    if (!head) return;
    await runFunctionals(['--ravdess', ...dirs, '--clf', 'logreg', '--C', String(head.C), '--fusion', head.fusion, '--fusion-weight', String(head.fusionWeight), '--export-head', modelJson, ...(heldOut.length ? ['--holdout', heldOut.join(',')] : [])]);
  };
  /** One protocol's runs: each member recipe with the protocol's arguments after it. */
  const runsOf = (tail: string[]): string[][] => [[...base, ...tail], ...more.map((g) => [...g, ...tail])];
  // Results persist per protocol in runDir/metrics.json (for this exact recipe), so protocols can
  // run in separate invocations and in any order; each result is merged into the shipped model's
  // metadata as soon as it exists, when that model was trained with the same recipe.
  const recipe = JSON.stringify(more.length || tta ? { groups: [base, ...more], tta } : base);
  const metricsFile = join(runDir, 'metrics.json');
  const saved = existsSync(metricsFile) ? JSON.parse(readFileSync(metricsFile, 'utf8')) : null;
  const metrics: Record<string, ModelMetric> = saved?.recipe === recipe ? saved.metrics : {};
  const summary: Record<string, unknown> = { name: opts.name, arch: opts.arch, frontend: config, trainArgs: splitArgs(baseTrainArgs), ...(more.length ? { extraMembers: preset?.extraMembers } : {}), ...(tta ? { tta } : {}), ...(saved?.recipe === recipe ? saved.summary : {}) };
  const finalStem = join(opts.modelsDir, opts.name);
  const finalRecipe = join(runDir, 'final.recipe.json');
  const record = (key: string, m: ModelMetric) => {
    metrics[key] = m;
    writeFileSync(metricsFile, `${JSON.stringify({ recipe, metrics, summary }, null, 2)}\n`);
    if (existsSync(`${finalStem}.json`) && existsSync(finalRecipe) && readFileSync(finalRecipe, 'utf8') === recipeKey(finalArgs)) {
      addMetrics(`${finalStem}.json`, metrics);
    }
  };

  const folds = opts.folds ? parseFolds(opts.folds) : RAVDESS_FOLDS;
  // distillation: the teachers' answers on each run's training clips, before any run trains
  const teachers = opts.teacher ? opts.teacher.split(',').map((t) => t.trim()).filter(Boolean) : [];
  const teacherArgs: Record<string, string[]> = {};
  if (teachers.length) {
    if (protocols.has('random')) throw new EarshotError('E_USAGE', '--teacher: the random split has no teacher that never heard its test clips; use --protocols folds,final');
    if (protocols.has('folds')) {
      // the teachers of fold K: every fold model of the named runs trained without exactly its actors
      const foldModels = teachers.flatMap((t) => {
        const dir = join(work, t);
        if (!existsSync(dir)) throw new EarshotError('E_USAGE', `--teacher ${t}: ${dir} is missing; train the teacher's folds first (earshot train --name ${t} --work ${opts.work} --protocols folds)`);
        return readdirSync(dir).filter((f) => /^fold\d+\.json$/.test(f)).map((f) => join(dir, f));
      });
      const heldOutOf = (m: string): string => JSON.stringify([...(JSON.parse(readFileSync(m, 'utf8')).training?.heldOutSpeakers ?? [])].sort());
      for (const [k, actors] of folds.entries()) {
        const want = JSON.stringify(actors.map((a) => `ravdess:${a}`).sort());
        const models = foldModels.filter((m) => heldOutOf(m) === want);
        if (!models.length) throw new EarshotError('E_USAGE', `--teacher ${teachers.join(',')}: no fold model there was trained without exactly actors ${actors.join(',')} (fold ${k + 1}); train the teacher with the same --folds`);
        teacherArgs[`fold${k + 1}`] = ['--teacher', await teacherFile(models, featureDirs[0], actors, join(runDir, `fold${k + 1}.teacher.json`), log)];
      }
    }
    if (protocols.has('final')) {
      // a teacher of the final model: a model in --models-dir by that name, else any model name or path
      const models = teachers.map((t) => (existsSync(join(opts.modelsDir, `${t}.json`)) ? join(opts.modelsDir, `${t}.json`) : t));
      teacherArgs.final = ['--teacher', await teacherFile(models, featureDirs[0], [], join(runDir, 'final.teacher.json'), log)];
    }
  }
  const foldRun = (k: number): [string[][], string] => {
    const stem = join(runDir, `fold${k + 1}`);
    return [runsOf(['--holdout', `ravdess:${folds[k].join(',')}`, '--out', stem, '--name', `${opts.name}-fold${k + 1}`, ...(teacherArgs[`fold${k + 1}`] ?? [])]), stem];
  };
  const finalArgs = runsOf(['--out', finalStem, '--name', opts.name, ...(teacherArgs.final ?? [])]);
  const randomStem = join(runDir, 'random');
  const randomArgs = runsOf(['--random-split', '0.2', '--out', randomStem, '--name', `${opts.name}-random`, '--report', `${randomStem}.py.json`]);
  const locoRun = (c: CorpusKind): [string[][], string] => {
    const stem = join(runDir, `loco-${c}`);
    return [[[...locoBase.get(c)!, '--out', stem, '--name', `${opts.name}-loco-${c}`]], stem];
  };
  // leave speakers out of a corpus: [corpus, held-out speakers] per run (one speaker, or a group of them)
  const losoRuns = [...protocols].flatMap((p) => {
    const m = LOSO.exec(p);
    if (!m) return [];
    const c = m[1] as CorpusKind;
    return speakerGroups(corpusItems.get(c)!.map((i) => i.speaker), m[2] ? Number(m[2]) : undefined).map((spks) => [c, spks] as const);
  });
  const losoRun = (c: CorpusKind, spks: readonly string[]): [string[][], string] => {
    const stem = join(runDir, `loso-${c}-${spks.join('+')}`);
    return [runsOf(['--holdout', `${c}:${spks.join(',')}`, '--out', stem, '--name', losoName(opts.name, c, spks)]), stem];
  };
  const jobs = opts.jobs ?? 1;
  if (jobs > 1) {
    // Train everything first, `jobs` runs at a time (give each --threads 1 on a small machine);
    // the protocols below then find each run done and only score it.
    if (protocols.has('final')) mkdirSync(opts.modelsDir, { recursive: true });
    // an ensemble's members are separate runs, merged (cheaply) when each protocol is scored below
    const runs: [string[][], string, string?][] = [
      ...(protocols.has('folds') ? folds.map((_, k) => foldRun(k)) : []),
      ...(protocols.has('final') ? [[finalArgs, finalStem, finalRecipe] as [string[][], string, string]] : []),
      ...(protocols.has('random') ? [[randomArgs, randomStem] as [string[][], string]] : []),
      ...locoCorpora.map((c) => locoRun(c)),
      ...losoRuns.map(([c, spks]) => losoRun(c, spks)),
    ];
    // [groups, stem, recipe file, tta]: a member is no model of its own, so it gets no tta
    const tasks = runs.flatMap((t): [string[][], string, string | undefined, Tta | undefined][] => {
      const members = allMembers(t[0], t[1], runDir);
      return members.length ? members.map(([a, m]) => [[a], m, undefined, undefined]) : [[t[0], t[1], t[2], tta]];
    });
    let next = 0;
    const worker = async () => {
      while (next < tasks.length) {
        const [groups, stem, recipeFile, modelTta] = tasks[next++];
        log(`\n== training ${stem} (${next}/${tasks.length}, ${jobs} at a time)`);
        await trainOnce(runPython, groups, stem, log, recipeFile, undefined, modelTta);
      }
    };
    await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  }

  if (protocols.has('folds')) {
    const results: EvalReport[] = [];
    for (const [k, actors] of folds.entries()) {
      log(`\n== fold ${k + 1}/${folds.length}: RAVDESS actors ${actors.join(',')} held out`);
      const [args, stem] = foldRun(k);
      await trainOnce(runPython, args, stem, log, undefined, undefined, tta);
      await addHead(`${stem}.json`, actors);
      const r = await score(`${stem}.json`, filterSpeakers(ravdess, actors), 'ravdess', `${stem}.eval.json`, vad);
      log(`fold ${k + 1} (earshot eval, actors ${actors.join(',')}): accuracy ${pct(r.accuracy)}%  UAR ${pct(r.uar)}%  n=${r.n}`);
      results.push(r);
    }
    const acc = results.map((r) => r.accuracy);
    const uar = results.map((r) => r.uar);
    summary.folds = results.map((r, k) => ({
      actors: folds[k],
      accuracy: r.accuracy,
      uar: r.uar,
      f1Macro: r.f1Macro,
      n: r.n,
      noSpeech: r.noSpeech,
      wholeFile: { accuracy: r.wholeFile.accuracy, uar: r.wholeFile.uar },
      inferenceMsPerAudioSecond: r.inferenceMsPerAudioSecond,
    }));
    record('ravdess-speaker-independent', {
      accuracy: mean(acc),
      uar: mean(uar),
      f1Macro: mean(results.map((r) => r.f1Macro)),
      accuracySd: sd(acc),
      uarSd: sd(uar),
      n: results.reduce((a, r) => a + r.n, 0),
      protocol: `RAVDESS leave-4-actors-out, ${folds.length} folds (${folds.map((f) => f.join('/')).join('; ')}), same recipe${opts.tess ? ' (+ TESS in training)' : ''}${head ? ', each held-out actor\'s clips streamed in a seeded random order through one pipeline (the functional head speaks once the speaker baseline is warm)' : ''}, mean ± sd over folds`,
      measuredBy: 'earshot eval',
      labels: results[0].scoredLabels,
    });
    const wAcc = results.map((r) => r.wholeFile.accuracy);
    const wUar = results.map((r) => r.wholeFile.uar);
    record('ravdess-speaker-independent-whole-clip', {
      accuracy: mean(wAcc),
      uar: mean(wUar),
      f1Macro: mean(results.map((r) => r.wholeFile.f1Macro)),
      accuracySd: sd(wAcc),
      uarSd: sd(wUar),
      n: results.reduce((a, r) => a + r.n, 0),
      protocol: `as ravdess-speaker-independent, but the model run once on each whole clip, silence included (how papers score; not what the daemon sees)`,
      measuredBy: 'earshot eval',
      labels: results[0].scoredLabels,
    });
    log(`\nspeaker-independent RAVDESS, as the daemon hears it: accuracy ${pct(mean(acc))} ± ${pct(sd(acc))}%  UAR ${pct(mean(uar))} ± ${pct(sd(uar))}%`);
    log(`  (whole clips, silence included: accuracy ${pct(mean(wAcc))} ± ${pct(sd(wAcc))}%  UAR ${pct(mean(wUar))} ± ${pct(sd(wUar))}%)`);
  }

  if (protocols.has('final')) {
    log(`\n== final model: all clips -> ${finalStem}.onnx`);
    mkdirSync(opts.modelsDir, { recursive: true });
    await trainOnce(runPython, finalArgs, finalStem, log, finalRecipe, runDir, tta);
    await addHead(`${finalStem}.json`);
    addMetrics(`${finalStem}.json`, metrics);
    const emodbRoot = join(opts.data, 'emodb');
    if (existsSync(emodbRoot) && !corpora.includes('emodb')) {
      const r = await score(`${finalStem}.json`, loadCorpus('emodb', emodbRoot), 'emodb', join(runDir, 'emodb.eval.json'), vad);
      record('emodb-cross-corpus', metric(r, `cross-corpus: trained on RAVDESS${opts.tess ? ' + TESS' : ''}, tested on EmoDB (German) over the ${r.scoredLabels.length} shared classes; boredom dropped${r.adaptation ? '; each speaker\'s clips streamed through one pipeline' : ''}`));
      log(`cross-corpus EmoDB (earshot eval): accuracy ${pct(r.accuracy)}%  UAR ${pct(r.uar)}%  n=${r.n} over ${r.scoredLabels.join(',')}`);
    }
    const koreanRoot = join(opts.data, 'emotiontts-kr');
    if (existsSync(koreanRoot) && !corpora.includes('emotiontts-kr')) {
      const r = await score(`${finalStem}.json`, loadCorpus('emotiontts-kr', koreanRoot), 'emotiontts-kr', join(runDir, 'emotiontts-kr.eval.json'), vad);
      record('emotiontts-kr-cross-lingual', metric(r, `cross-lingual: trained on RAVDESS${opts.tess ? ' + TESS' : ''}, tested on emotiontts-kr (Korean, 15 speakers, read speech) over the ${r.scoredLabels.length} shared classes${r.adaptation ? ', each speaker\'s clips streamed through one pipeline' : ''}`));
      log(`cross-lingual Korean (earshot eval): accuracy ${pct(r.accuracy)}%  UAR ${pct(r.uar)}%  n=${r.n} over ${r.scoredLabels.join(',')}`);
    }
  }
  if (protocols.has('random')) {
    log('\n== random 80/20 clip split (speaker-DEPENDENT, for comparison with published figures only)');
    await trainOnce(runPython, randomArgs, randomStem, log, undefined, undefined, tta);
    const held = new Set((JSON.parse(readFileSync(`${randomStem}.py.json`, 'utf8')).heldOut as { corpus: string; name: string }[]).filter((h) => h.corpus === 'ravdess').map((h) => h.name));
    const r = await score(`${randomStem}.json`, ravdess.filter((i) => held.has(i.name)), 'ravdess', `${randomStem}.eval.json`, vad);
    record('ravdess-random-split', metric(r, 'RAVDESS random 80/20 clip split, speaker-DEPENDENT (same voices in train and test): for comparison with papers only'));
    log(`random split (earshot eval): accuracy ${pct(r.accuracy)}%  UAR ${pct(r.uar)}%  n=${r.n}`);
  }

  for (const c of locoCorpora) {
    log(`\n== leave one corpus out: ${c} (trained on ${corpora.filter((k) => k !== c).join(', ')})`);
    const [args, stem] = locoRun(c);
    await trainOnce(runPython, args, stem, log, undefined, undefined, tta);
    await addHead(`${stem}.json`, [], corpora.filter((k) => k !== c).map((k) => dirOf.get(k)!));
    const r = await score(`${stem}.json`, corpusItems.get(c)!, c, `${stem}.eval.json`, vad);
    record(`${c}-leave-one-corpus-out`, { ...metric(r, `leave one corpus out: trained on ${corpora.filter((k) => k !== c).join(' + ')}, tested on every ${c} clip over the ${r.scoredLabels.length} classes both have${r.adaptation ? "; each speaker's clips streamed through one pipeline" : ''}`), arousalUar: r.confidence.arousalUar, ece: r.confidence.ece });
    log(`leave-one-corpus-out ${c} (earshot eval): accuracy ${pct(r.accuracy)}%  UAR ${pct(r.uar)}%  arousal UAR ${pct(r.confidence.arousalUar)}%  ECE ${pct(r.confidence.ece)}%  n=${r.n} over ${r.scoredLabels.join(',')}`);
  }
  for (const c of new Set(losoRuns.map(([k]) => k))) {
    const reports: EvalReport[] = [];
    for (const [, spks] of losoRuns.filter(([k]) => k === c)) {
      log(`\n== leave speakers out: ${c} ${spks.join(',')}`);
      const [args, stem] = losoRun(c, spks);
      await trainOnce(runPython, args, stem, log, undefined, undefined, tta);
      await addHead(`${stem}.json`, spks.map((s) => `${c}:${s}`));
      const r = await score(`${stem}.json`, filterSpeakers(corpusItems.get(c)!, spks), c, `${stem}.eval.json`, vad);
      log(`${c} ${spks.join(',')} (earshot eval): accuracy ${pct(r.accuracy)}%  UAR ${pct(r.uar)}%  n=${r.n}`);
      reports.push(r);
    }
    const acc = reports.map((r) => r.accuracy);
    const grouped = losoRuns.some(([k, spks]) => k === c && spks.length > 1);
    const what = grouped ? `leave speakers out in ${reports.length} groups` : 'leave one speaker out';
    record(`${c}-${grouped ? 'leave-speakers-out' : 'leave-one-speaker-out'}`, { accuracy: mean(acc), uar: mean(reports.map((r) => r.uar)), f1Macro: mean(reports.map((r) => r.f1Macro)), accuracySd: sd(acc), n: reports.reduce((a, r) => a + r.n, 0), protocol: `${c} ${what} (${reports.length} models, each trained on ${corpora.join(' + ')} without those speakers), mean over ${grouped ? 'groups' : 'speakers'}`, measuredBy: 'earshot eval', labels: reports[0].scoredLabels });
    log(`${c} ${what}: accuracy ${pct(mean(acc))} ± ${pct(sd(acc))}%`);
  }

  summary.metrics = metrics;
  writeFileSync(join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return { metrics, runDir };
}
