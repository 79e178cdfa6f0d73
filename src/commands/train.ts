/**
 * `earshot train`: corpus folders -> features (the WASM frontend, `earshot features`) -> PyTorch
 * training (scripts/train.py, Debian's /usr/bin/python3) -> ONNX + metadata -> evaluation through
 * the runtime (`earshot eval`'s code path). Protocols, each optional:
 *  - folds: speaker-independent, RAVDESS actors held out 4 at a time (2 male + 2 female), mean ± sd;
 *  - random: the papers' random 80/20 clip split, speaker-DEPENDENT, only for comparison;
 *  - final: trained on every clip, shipped to models/NAME, scored cross-corpus on EmoDB.
 * Every reported number is measured here, in TypeScript, on clips the model never saw.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { filterSpeakers, loadCorpus, type CorpusKind } from '../training/corpus/index.ts';
import { ROOT } from '../core/paths.ts';
import { EarshotError } from '../core/errors.ts';
import { parseFrontendConfig, type FrontendConfig } from '../runtime/frontend/config.ts';
import { evaluateItems, type EvalReport } from '../training/evaluate.ts';
import { MODELS_DIR, needsBaseline, type ModelMetric, type Tta } from '../runtime/model/metadata.ts';
import { mean, sd } from '../training/metrics.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { readFrontendConfigFile, runFeatures } from './features.ts';
import { addNoise, mulberry32, seedOf } from '../training/augment.ts';
import { decodeAudioFile } from '../runtime/audio/decode.ts';
import { featureNames } from '../runtime/frontend/config.ts';
import { Frontend } from '../runtime/frontend/frontend.ts';
import { resample } from '../runtime/frontend/resampler.ts';
import { readNpy, writeNpy } from '../training/npy.ts';
import { ProgressBar } from '../training/progress.ts';
import { speechSpans } from '../runtime/vad/speech-spans.ts';
import { DEFAULT_VAD_KIND, VAD_KINDS, type VadKind } from '../runtime/vad/energy-vad.ts';
import { loadBabblePool, makeNoise, mixAtSnr, type BabblePool } from '../training/noise.ts';

export const TRAIN_SCRIPT = join(ROOT, 'scripts', 'train.py');

/** `--folds "1-4;5,6,7,8"`: folds separated by ";", actors by ",", "A-B" for a range; two-digit ids. */
export function parseFolds(spec: string): string[][] {
  return spec.split(';').map((fold) =>
    fold.split(',').flatMap((token) => {
      const m = /^\s*(\d{1,2})\s*(?:-\s*(\d{1,2})\s*)?$/.exec(token);
      if (!m) throw new EarshotError('E_USAGE', `--folds: "${token}" is not an actor number or range (e.g. 1-4;5,6,7,8)`);
      const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
      if (b < a) throw new EarshotError('E_USAGE', `--folds: range "${token}" runs backwards`);
      return Array.from({ length: b - a + 1 }, (_, i) => String(a + i).padStart(2, '0'));
    }),
  );
}

/** RAVDESS actors in 5 folds of 4, two male (odd) and two female (even) each. */
export const RAVDESS_FOLDS = [
  ['01', '02', '03', '04'],
  ['05', '06', '07', '08'],
  ['09', '10', '11', '12'],
  ['13', '14', '15', '16'],
  ['17', '18', '19', '20'],
];

/** The LSTMs' frontend: 20 MFCCs + RMS + ZCR per 25 ms frame, 10 ms hop. */
export const DEFAULT_TRAIN_FRONTEND = { extras: ['rms', 'zcr'] };

export interface Recipe {
  frontend: object;
  /** scripts/train.py arguments */
  trainArgs: string;
  /** SNRs (dB) of the noisy training copies, as --noise takes them */
  noise?: string;
  /** the noise of those copies, as --noise-type takes it (default pink) */
  noiseType?: string;
  /**
   * More ensemble members from another recipe, trained as separate runs and merged into the same
   * graph (e.g. members that never see the noisy copies); the first recipe's --weights applies.
   */
  extraMembers?: { trainArgs: string; noise?: string };
  /** Test-time augmentation the runtime applies (written to the model's metadata) */
  tta?: Tta;
  /**
   * A functional head fused with the network (functional-head.ts): trained by
   * scripts/train/functionals.py on the same actors as the network (a fold model's head never sees
   * the fold's actors), written into each model's metadata; such models are scored with adaptation.
   */
  head?: { C: number; fusion: 'mean' | 'geometric'; fusionWeight: number };
  /** the architecture, when the recipe's name is not one (`--recipe crnn-ensemble`) */
  arch?: string;
}

/**
 * The recipes of the shipped models (MODELS.md), used when `--config` / `--train-args` are not
 * given, so `npm run train` with no options rebuilds the default model (`--jobs 2` on two cores:
 * one thread per run, as the shipped models were trained; thread counts change the rounding).
 * The CRNN's frontend is scripts/train/configs/logmel40-rms-zcr-pitch.json: 40 log-mel bands +
 * RMS + ZCR + F0 + voicing, 25 ms / 10 ms.
 * - `crnn` (the default, earshot-crnn, since the night of 2026-12-01; its babble copies since
 *   2026-12-02): one small CRNN (conv channels 8,16,24, LSTM 64) trained on every clip plus a copy
 *   in pink noise and one in babble of the clip's fold-mates, both at 10 dB SNR (`noise` and
 *   `noiseType`, used unless --noise or --train-args is given), fused with a functional head
 *   (geometric mean, equal weights) once the speaker baseline is warm: one network run per
 *   utterance, about 0.45 ms per second of speech.
 * - `crnn-large` (earshot-crnn-large, the default on the evening of 2026-12-01): the same with
 *   channels 16,32,48 and LSTM 96, 1.6x the model time for 0.8 points on the folds (MODELS.md).
 * - `crnn-ensemble` (earshot-crnn-ensemble, the default until 2026-12-01): 5 members of the large
 *   network stored as int8, 3 as above, 2 on the clean clips only for as many steps (twice the
 *   epochs over half the data); the runtime averages each utterance over tempo 1/1.1 x a start 0
 *   or 2 frames in (`tta`): 20 network runs per utterance.
 * A fold model of any recipe can learn from another run's fold models (`--teacher`, MODELS.md).
 */
/** The pitch CRNNs' frontend (40 log-mel + RMS + ZCR + F0 + voicing) and the single networks' noisy copies and head. */
const PITCH_FRONTEND = { mfcc: 0, extras: ['rms', 'zcr', 'f0', 'voicing'] };
const ONE_CRNN = { frontend: PITCH_FRONTEND, noise: '10', head: { C: 0.1, fusion: 'geometric', fusionWeight: 0.5 } } as const;

export const SHIPPED_RECIPES: Record<string, Recipe> = {
  crnn: { ...ONE_CRNN, noiseType: 'pink,babble', trainArgs: '--epochs 60 --channels 8,16,24 --hidden 64 --max-frames 400 --norm utterance --threads 1 --seed 1' },
  'crnn-large': { ...ONE_CRNN, arch: 'crnn', trainArgs: '--epochs 60 --hidden 96 --max-frames 400 --norm utterance --threads 1 --seed 1' },
  'crnn-ensemble': {
    arch: 'crnn',
    frontend: PITCH_FRONTEND,
    trainArgs: '--epochs 60 --hidden 96 --max-frames 400 --norm utterance --threads 1 --ensemble 3 --weights int8',
    noise: '10',
    extraMembers: { trainArgs: '--epochs 120 --hidden 96 --max-frames 400 --norm utterance --threads 1 --ensemble 2 --weights int8', noise: 'none' },
    tta: { tempo: [1, 1.1], shiftFrames: [0, 2] },
    head: { C: 0.1, fusion: 'mean', fusionWeight: 0.5 },
  },
  'lstm-attn': { frontend: DEFAULT_TRAIN_FRONTEND, trainArgs: '--epochs 25 --hidden 120 --layers 2 --stack 4 --max-frames 320 --norm utterance --threads 1' },
};

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
  /** Extra arguments passed through to scripts/train.py (e.g. "--epochs 30 --hidden 64"). */
  trainArgs?: string;
  /** A shipped recipe by name (SHIPPED_RECIPES; default: the architecture's own, if it has one). */
  recipe?: string;
  /**
   * Knowledge distillation: comma list of teachers. A fold model learns from the fold models of the
   * named runs in --work that were trained without exactly its actors; the final model from each
   * named model (--models-dir, a model name or a path). See teacherFile.
   */
  teacher?: string;
  quiet?: boolean;
}

export type PythonRunner = (args: string[]) => Promise<void>;

/**
 * Trains unless `stem` was already trained with exactly these arguments (a finished fold is
 * reused after an interrupted run; it is still re-scored through the runtime). `groups` holds one
 * train.py argument list per member recipe (usually one); several are merged into one graph.
 */
async function trainOnce(runPython: PythonRunner, groups: string[][], stem: string, log: (s: string) => void, recipe = `${stem}.recipe.json`, memberDir = dirname(stem), tta?: Tta): Promise<void> {
  const want = recipeKey(groups);
  if (existsSync(recipe) && existsSync(`${stem}.json`) && readFileSync(recipe, 'utf8') === want) {
    log(`reusing ${stem}.onnx (trained with the same arguments)`);
    setTta(`${stem}.json`, tta);
    return;
  }
  const members = allMembers(groups, stem, memberDir);
  if (members.length) {
    for (const [memberArgs, memberStem] of members) await trainOnce(runPython, [memberArgs], memberStem, log);
    const args = groups[0];
    const report = argValue(args, '--report');
    const weights = argValue(args, '--weights');
    await runPython(['--merge', ...members.map(([, m]) => m), '--out', stem, '--name', argValue(args, '--name') ?? basename(stem), ...(report ? ['--report', report] : []), ...(weights ? ['--weights', weights] : [])]);
  } else {
    await runPython(groups[0]);
  }
  setTta(`${stem}.json`, tta);
  writeFileSync(recipe, want);
}

/** What a recipe file holds: one member recipe's arguments as they are (older runs stay reusable), several as a list. */
function recipeKey(groups: string[][]): string {
  return JSON.stringify(groups.length === 1 ? groups[0] : groups);
}

/** train.py arguments from a --train-args string. */
function splitArgs(s: string | undefined): string[] {
  return s ? s.split(/\s+/).filter(Boolean) : [];
}

/** Records the recipe's test-time augmentation in a model's metadata (or removes a stale one). */
function setTta(metaPath: string, tta: Tta | undefined): void {
  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  if (JSON.stringify(meta.tta) === JSON.stringify(tta)) return;
  if (tta) meta.tta = tta;
  else delete meta.tta;
  writeFileSync(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
}

function argValue(args: string[], flag: string): string | undefined {
  const i = args.lastIndexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

function withArg(args: string[], flag: string, value: string): string[] {
  const i = args.lastIndexOf(flag);
  return i >= 0 ? args.map((a, k) => (k === i + 1 ? value : a)) : [...args, flag, value];
}

/**
 * The separate runs of a `--ensemble N` run: member K trains alone (`--member K`, its own seed) to
 * MEMBERDIR/BASENAME(STEM).mK, so members can train in parallel (--jobs); trainOnce then merges them
 * into STEM with `train.py --merge` (the same graph `--ensemble N` exports in one process). [] for
 * one model.
 */
export function memberRuns(args: string[], stem: string, memberDir = dirname(stem), tag = 'm', single = false): [string[], string][] {
  const n = Number(argValue(args, '--ensemble') ?? 1);
  if ((!(n > 1) && !single) || argValue(args, '--member')) return [];
  return Array.from({ length: n }, (_, k) => {
    const memberStem = join(memberDir, `${basename(stem)}.${tag}${k + 1}`);
    let a = withArg(withArg(args, '--out', memberStem), '--name', `${argValue(args, '--name') ?? basename(stem)}-m${k + 1}`);
    if (argValue(args, '--report')) a = withArg(a, '--report', `${memberStem}.py.json`);
    return [[...a, '--member', String(k + 1)], memberStem];
  });
}

/**
 * The member runs of one model from several member recipes: the first recipe's members are
 * STEM.m1..., the second's STEM.g2m1..., and so on. One recipe: as memberRuns.
 */
export function allMembers(groups: string[][], stem: string, memberDir = dirname(stem)): [string[], string][] {
  if (groups.length === 1) return memberRuns(groups[0], stem, memberDir);
  return groups.flatMap((g, i) => memberRuns(g, stem, memberDir, i === 0 ? 'm' : `g${i + 1}m`, true));
}

/** Runs scripts/train.py with progress on our stderr; rejects with E_MODEL on a non-zero exit. */
/** Runs scripts/train/functionals.py (the functional head) as a module from the repository root. */
export function functionalsRunner(python: string): PythonRunner {
  return (args) =>
    new Promise((ok, fail) => {
      const child = spawn(python, ['-m', 'scripts.train.functionals', ...args], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', (e) => fail(new EarshotError('E_TOOL', `cannot run ${python}: ${e.message}; install python3-numpy python3-sklearn (apt) or pass --python`, { cause: e })));
      child.on('exit', (code) => (code === 0 ? ok() : fail(new EarshotError('E_TOOL', `scripts/train/functionals.py ${args.join(' ')} failed (exit ${code}); see its output above`))));
    });
}

export function pythonRunner(python: string): PythonRunner {
  return (args) =>
    new Promise((ok, fail) => {
      if (!existsSync(TRAIN_SCRIPT)) {
        // the npm and Debian packages hold the runtime only; the training toolkit lives in the repository
        fail(new EarshotError('E_TOOL', `${TRAIN_SCRIPT} is missing: training needs a checkout of the earshot repository (scripts/train.py and its Python code are not installed with the package); run \`earshot train\` there`));
        return;
      }
      const child = spawn(python, [TRAIN_SCRIPT, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', (e) => fail(new EarshotError('E_TOOL', `cannot run ${python}: ${e.message}; install python3-torch python3-onnx python3-numpy (apt) or pass --python`, { cause: e })));
      child.on('exit', (code) => (code === 0 ? ok() : fail(new EarshotError('E_TOOL', `scripts/train.py ${args.join(' ')} failed (exit ${code}); see its output above`))));
    });
}

/** A feature folder from an earlier run is reused when it has this frontend, every clip, and each clip's speech spans. */
function featuresReady(dir: string, config: FrontendConfig, clips: number): boolean {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return false;
  const m = JSON.parse(readFileSync(path, 'utf8'));
  return JSON.stringify(m.frontend) === JSON.stringify(config) && m.items.length === clips && m.items.every((i: { speech?: unknown }) => i.speech);
}

/** Features of one corpus under `work` (with each clip's VAD speech spans), keyed by the frontend config; reused when already there. */
export async function ensureFeatures(kind: CorpusKind, root: string, config: FrontendConfig, work: string, quiet: boolean, vad: VadKind = DEFAULT_VAD_KIND): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 10);
  const dir = resolve(work, 'features', `${kind}-${key}${vad === 'energy' ? '' : `-vad${vad}`}`);
  if (featuresReady(dir, config, loadCorpus(kind, root).length)) return dir;
  mkdirSync(dir, { recursive: true });
  const cfgFile = join(dir, 'frontend.json');
  writeFileSync(cfgFile, JSON.stringify(config));
  const r = await runFeatures([root], { out: dir, config: cfgFile, corpus: kind, quiet, vad });
  if (r.failed > 0) throw new EarshotError('E_AUDIO_FORMAT', `${r.failed} clip(s) of ${root} could not be read (listed above); fix or remove them`);
  return dir;
}

/**
 * Noisy copies of a corpus's features (pink noise at `snrDb` below the active speech level), in
 * the manifest format of `earshot features` plus `source` (the clean clip) and `augment`. Training
 * only: train.py never scores them and drops the copies of held-out clips.
 */
/**
 * Speakers whose voices may not be in the babble of `speaker`'s noisy copies: the speaker, and every
 * actor outside its fold (for an actor in no fold: every actor in one). A copy of an actor's clip trains every fold model but its own fold's, so
 * babble made only of its fold-mates never puts a held-out voice into training.
 */
export function babbleExclusions(speaker: string, folds: string[][], speakers: readonly string[]): string[] {
  // an actor in no fold trains every fold model: its babble comes from the other actors in no fold
  const mine = folds.find((f) => f.includes(speaker)) ?? speakers.filter((s) => !folds.some((f) => f.includes(s)));
  return speakers.filter((s) => s === speaker || !mine.includes(s));
}

/** The noise kinds of `--noise-type` ("pink", or a list such as "pink,babble": one noisy copy of every clip per kind and SNR). */
export function noiseKinds(spec = 'pink'): ('pink' | 'brown' | 'babble')[] {
  const kinds = spec.split(',').map((k) => k.trim());
  for (const k of kinds) if (k !== 'pink' && k !== 'brown' && k !== 'babble') throw new EarshotError('E_USAGE', `--noise-type "${spec}": each kind is pink, brown or babble (e.g. pink,babble)`);
  if (new Set(kinds).size !== kinds.length) throw new EarshotError('E_USAGE', `--noise-type "${spec}": a kind is given twice`);
  return kinds as ('pink' | 'brown' | 'babble')[];
}

export async function ensureNoisyFeatures(kind: CorpusKind, root: string, config: FrontendConfig, work: string, snrDb: number, quiet: boolean, vad: VadKind = DEFAULT_VAD_KIND, noise: 'pink' | 'brown' | 'babble' = 'pink', folds: string[][] = RAVDESS_FOLDS): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 10);
  const foldKey = noise === 'babble' ? createHash('sha256').update(JSON.stringify(folds)).digest('hex').slice(0, 6) : '';
  const dir = resolve(work, 'features', `${kind}-${key}${vad === 'energy' ? '' : `-vad${vad}`}${noise === 'pink' ? '' : `-${noise}${foldKey}`}-snr${snrDb}`);
  const items = loadCorpus(kind, root);
  // babble: 6 clips of every actor (seeded), each copy's talkers from its own fold (babbleExclusions)
  const speakers = [...new Set(items.map((i) => i.speaker))];
  let pool: BabblePool | undefined;
  if (noise === 'babble') {
    const rng = mulberry32(seedOf('train-babble-pool'));
    const count = new Map<string, number>();
    pool = await loadBabblePool(items.map((i) => [rng(), i] as const).sort((a, b) => a[0] - b[0]).map(([, i]) => i).filter((i) => (count.set(i.speaker, (count.get(i.speaker) ?? 0) + 1).get(i.speaker) ?? 0) <= 6), config.sampleRate);
  }
  const manifestPath = join(dir, 'manifest.json');
  if (featuresReady(dir, config, items.length)) return dir;
  mkdirSync(dir, { recursive: true });
  const frontend = new Frontend(config);
  const progress = quiet ? null : new ProgressBar(items.length, `features +noise ${snrDb} dB`);
  const out = [];
  for (const [i, item] of items.entries()) {
    const audio = await decodeAudioFile(item.path);
    const clean = resample(audio.samples, audio.sampleRate, config.sampleRate);
    // pink keeps its seed, so the shipped recipe's copies reproduce
    const noisy =
      noise === 'pink'
        ? addNoise(clean, snrDb, mulberry32(seedOf(`${item.name}/${snrDb}`)))
        : mixAtSnr(clean, makeNoise(noise, clean.length, mulberry32(seedOf(`${item.name}/${noise}/${snrDb}`)), { pool, excludeSpeakers: babbleExclusions(item.speaker, folds, speakers) }), snrDb);
    const data = frontend.computeAll(noisy);
    const frames = data.length / frontend.dim;
    const name = `${item.name}~snr${snrDb}`;
    await writeNpy(join(dir, `${name}.npy`), data, [frames, frontend.dim]);
    out.push({ ...item, name, source: item.name, augment: `${noise} noise ${snrDb} dB SNR`, frames, speech: speechSpans(noisy, config, { kind: vad }) });
    progress?.tick(i + 1, item.name);
  }
  writeFileSync(manifestPath, JSON.stringify({ frontend: config, featureNames: featureNames(config), corpus: kind, vad, items: out }, null, 1));
  return dir;
}

/** Span length below which train.py drops a VAD span (scripts/train/data.py MIN_SPAN_SECONDS). */
const MIN_SPAN_SECONDS = 0.5;

/**
 * The teachers' answers on the clips a student trains on, for `train.py --teacher`: each RAVDESS
 * clip of `featureDir` whose actor is not in `heldOut`, classified on the VAD spans the student
 * trains on (duration-weighted, as the daemon weighs a file's utterances; the network alone, no
 * adaptation), averaged over the teachers, written to `out` as {teachers, labels, clips: {name:
 * probabilities}}. The features are the ones training reads, so no clip is decoded again. A teacher
 * must not have heard `heldOut`: a fold student then learns nothing, even second-hand, from the
 * actors it is scored on. Reused when `out` exists for the same teachers and clips.
 */
export async function teacherFile(teachers: string[], featureDir: string, heldOut: string[], out: string, log: (s: string) => void): Promise<string> {
  const manifest = JSON.parse(readFileSync(join(featureDir, 'manifest.json'), 'utf8'));
  const items = (manifest.items as { name: string; corpus: string; speaker: string; speech?: [number, number][] }[]).filter((i) => i.corpus === 'ravdess' && !heldOut.includes(i.speaker));
  const minFrames = Math.round((MIN_SPAN_SECONDS * manifest.frontend.sampleRate) / manifest.frontend.hopLength);
  const sums = new Map<string, Float64Array>();
  const classifiers: EmotionClassifier[] = [];
  try {
    for (const t of teachers) classifiers.push(await EmotionClassifier.load(t));
    // the teachers' weights are in the key: a teacher trained again is asked again
    const key = JSON.stringify({ teachers: classifiers.map((c) => c.meta.onnx.sha256), featureDir: resolve(featureDir), heldOut, clips: items.length });
    if (existsSync(out) && JSON.parse(readFileSync(out, 'utf8')).key === key) return out;
    const labels = [...classifiers[0]!.labels];
    for (const [n, c] of classifiers.entries()) {
      const t = teachers[n]!;
      const heard = c.meta.training.heldOutSpeakers ?? [];
      const missing = heldOut.filter((a) => !heard.includes(`ravdess:${a}`));
      if (missing.length) throw new EarshotError('E_USAGE', `--teacher ${t}: it was trained on RAVDESS actor(s) ${missing.join(',')}, which this student is scored on; give a teacher trained without them (a fold model of the same fold)`);
      if (JSON.stringify(c.model.frontend) !== JSON.stringify(manifest.frontend)) throw new EarshotError('E_USAGE', `--teacher ${t}: its frontend differs from the student's features (${featureDir}); a teacher must hear what the student hears`);
      if (JSON.stringify(labels) !== JSON.stringify(c.labels)) throw new EarshotError('E_USAGE', `--teacher: ${t} has labels ${c.labels.join(',')}, the first teacher ${labels.join(',')}; teachers must share their labels`);
      log(`teacher ${t}: ${items.length} training clips`);
    }
    const dim = classifiers[0]!.dim;
    for (const item of items) {
      // each clip's features read once, every teacher run on its spans
      const x = (await readNpy(join(featureDir, `${item.name}.npy`))).data as Float32Array;
      const frames = x.length / dim;
      const spans = (item.speech ?? []).filter(([s, e]) => e - s >= minFrames);
      const sum = new Float64Array(labels.length);
      let total = 0;
      for (const [s, e] of spans.length ? spans : [[0, frames] as [number, number]]) {
        for (const c of classifiers) {
          const r = await c.classify(x.subarray(s * dim, e * dim), e - s);
          for (let k = 0; k < sum.length; k++) sum[k] += (e - s) * r.probabilities[k]!;
        }
        total += (e - s) * classifiers.length;
      }
      sums.set(item.name, sum.map((v) => v / total));
    }
    const clips = Object.fromEntries([...sums].map(([name, p]) => [name, Array.from(p, (v) => Number(v.toFixed(6)))]));
    writeFileSync(out, `${JSON.stringify({ key, teachers, labels, clips })}\n`);
    return out;
  } finally {
    for (const c of classifiers) await c.close();
  }
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

export async function runTrain(
  opts: TrainOptions,
  runPython: PythonRunner = pythonRunner(opts.python),
  log: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
  runFunctionals: PythonRunner = functionalsRunner(opts.python),
) {
  const protocols = new Set(opts.protocols.split(',').map((s) => s.trim()));
  for (const p of protocols) if (!['folds', 'random', 'final'].includes(p)) throw new EarshotError('E_USAGE', `--protocols: "${p}" is not one of folds, random, final`);
  if (opts.recipe !== undefined && !SHIPPED_RECIPES[opts.recipe]) throw new EarshotError('E_USAGE', `--recipe ${opts.recipe}: use one of ${Object.keys(SHIPPED_RECIPES).join(', ')}`);
  const preset = SHIPPED_RECIPES[opts.recipe ?? opts.arch];
  if (opts.recipe !== undefined) opts = { ...opts, arch: preset.arch ?? opts.recipe };
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
  const featureDirs = [await ensureFeatures('ravdess', ravdessRoot, config, work, opts.quiet ?? false, vad)];
  if (opts.tess) featureDirs.push(await ensureFeatures('tess', join(opts.data, 'tess'), config, work, opts.quiet ?? false, vad));
  const groupArgs = async (trainArgs: string | undefined, noise: string | undefined): Promise<string[]> => {
    const augmentDirs: string[] = [];
    for (const snr of noise && noise !== 'none' ? noise.split(',').map(Number) : []) {
      if (!Number.isFinite(snr)) throw new EarshotError('E_USAGE', `--noise "${noise}": give SNRs in dB, e.g. 20,10,5, or none`);
      for (const kind of noiseTypes) augmentDirs.push(await ensureNoisyFeatures('ravdess', ravdessRoot, config, work, snr, opts.quiet ?? false, vad, kind, opts.folds ? parseFolds(opts.folds) : RAVDESS_FOLDS));
    }
    return ['--arch', opts.arch, '--features', ...featureDirs, ...(augmentDirs.length ? ['--augment-features', ...augmentDirs] : []), ...(opts.wholeClips ? [] : ['--vad']), ...splitArgs(trainArgs)];
  };
  const base = await groupArgs(opts.trainArgs ?? preset?.trainArgs, opts.noise ?? (ownArgs ? undefined : preset?.noise));
  // the preset's other member recipe and test-time augmentation come with its own arguments only
  const more = !ownArgs && preset?.extraMembers ? [await groupArgs(preset.extraMembers.trainArgs, preset.extraMembers.noise)] : [];
  const tta = ownArgs ? undefined : preset?.tta;
  const head = ownArgs ? undefined : preset?.head;
  /** Writes the recipe's functional head into a trained model, fitted on the actors the network trained on. */
  const addHead = async (modelJson: string, heldOut: string[] = []): Promise<void> => {
    if (!head) return;
    await runFunctionals(['--ravdess', featureDirs[0], '--clf', 'logreg', '--C', String(head.C), '--fusion', head.fusion, '--fusion-weight', String(head.fusionWeight), '--export-head', modelJson, ...(heldOut.length ? ['--holdout', heldOut.join(',')] : [])]);
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
  const summary: Record<string, unknown> = { name: opts.name, arch: opts.arch, frontend: config, trainArgs: splitArgs(opts.trainArgs ?? preset?.trainArgs), ...(more.length ? { extraMembers: preset?.extraMembers } : {}), ...(tta ? { tta } : {}), ...(saved?.recipe === recipe ? saved.summary : {}) };
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
    if (existsSync(emodbRoot)) {
      const r = await score(`${finalStem}.json`, loadCorpus('emodb', emodbRoot), 'emodb', join(runDir, 'emodb.eval.json'), vad);
      record('emodb-cross-corpus', metric(r, `cross-corpus: trained on RAVDESS${opts.tess ? ' + TESS' : ''}, tested on EmoDB (German) over the ${r.scoredLabels.length} shared classes; boredom dropped${r.adaptation ? '; each speaker\'s clips streamed through one pipeline' : ''}`));
      log(`cross-corpus EmoDB (earshot eval): accuracy ${pct(r.accuracy)}%  UAR ${pct(r.uar)}%  n=${r.n} over ${r.scoredLabels.join(',')}`);
    }
    const koreanRoot = join(opts.data, 'emotiontts-kr');
    if (existsSync(koreanRoot)) {
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

  summary.metrics = metrics;
  writeFileSync(join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return { metrics, runDir };
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description(summaryOf('train'))
    .option('--data <dir>', 'folder holding ravdess/, tess/, emodb/ corpus roots', '../shared/data')
    .option('--name <name>', 'model name (models/NAME.onnx + NAME.json)', 'earshot-crnn')
    .option('--arch <id>', 'architecture: crnn, lstm-attn, bilstm, lstm2x64, rnn, cnn1d, stride-cnn, cnn2d (crnn and lstm-attn default to the shipped recipes)', 'crnn')
    .option('--protocols <list>', 'any of folds,random,final', 'folds,random,final')
    .option('--folds <spec>', 'held-out actor folds, ";"-separated (default: 1-4;5-8;9-12;13-16;17-20)')
    .option('--tess', 'add TESS to the training data')
    .option('--jobs <n>', 'training runs at a time (each member of an --ensemble is a run; give each --threads 1 via --train-args on a small machine)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new EarshotError('E_USAGE', `--jobs ${v}: give a whole number of runs, e.g. 2`);
      return n;
    })
    .option('--vad <kind>', `the VAD that finds the training spans and segments the scored clips: ${VAD_KINDS.join(', ')} (default ${DEFAULT_VAD_KIND}, the daemon's default; the shipped models were trained with energy)`)
    .option('--noise-type <kinds>', 'noise of the noisy copies: pink (default; the crnn recipe: pink,babble), brown (cabin rumble) or babble (the clip\'s fold-mates talking, so no held-out voice reaches training); a comma list (pink,babble) makes a copy per kind')
    .option('--whole-clips', 'train on whole clips, silence included, instead of the VAD\'s speech spans (what the daemon classifies)')
    .option('--noise <snrs>', 'add noisy copies of every training clip at these SNRs in dB, e.g. 20,10,5, or none (default: the shipped recipe\'s, 10 for crnn, unless --train-args is given)')
    .option('-c, --config <file>', 'frontend config (JSON/YAML); default: the shipped recipe\'s (crnn: 40 log-mel + RMS + ZCR + F0 + voicing; others: 20 MFCC + RMS + ZCR)')
    .option('--work <dir>', 'features and fold models go here', 'build/train')
    .option('--models-dir <dir>', 'where the final model is written', MODELS_DIR)
    .option('--python <path>', 'python with torch and onnx', '/usr/bin/python3')
    .option('--recipe <name>', `a shipped recipe by name: ${Object.keys(SHIPPED_RECIPES).join(', ')} (default: the architecture's; crnn-ensemble is the 5-member CRNN ensemble with test-time augmentation)`)
    .option('--train-args <args>', 'passed through to scripts/train.py, e.g. "--epochs 30 --hidden 64" (default: the shipped recipe for crnn and lstm-attn, else train.py\'s defaults)')
    .option('--teacher <runs>', 'knowledge distillation: comma list of teachers; a fold model learns from the fold models of the named runs in --work trained without exactly its actors, the final model from each named model; train.py --distill-weight and --distill-temperature (via --train-args) tune it')
    .option('-q, --quiet', 'no feature progress bar')
    .action(async (opts: TrainOptions) => {
      await runTrain(opts);
    });
}
