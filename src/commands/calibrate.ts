/**
 * `earshot calibrate EVAL.json... [--write MODEL.json...]`: fits one temperature (Guo et al. 2017)
 * on the held-out predictions of `earshot eval --json F --predictions` runs (the speaker-independent
 * folds: each fold model on the actors it never saw), prints the expected calibration error before
 * and after, per file and pooled, and with --write stores it in the models' metadata
 * (`calibration`), which the runtime then applies. Predictions of a model with a functional head
 * scored with `--adapt` get two: the network alone's (warm-up clips) and the fused one's. A
 * prediction file scored with a temperature already has it undone first, so calibrating twice
 * does not compound.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { EarshotError } from '../core/errors.ts';
import { loadModel, MODELS_DIR } from '../runtime/model/metadata.ts';
import { expectedCalibrationError, fitTemperature, nll, tempered } from '../training/calibration.ts';

interface PredictionFile {
  path: string;
  labels: string[];
  /** the model's probabilities before any temperature */
  probabilities: number[][];
  truth: number[];
  /** per clip: a functional head spoke (eval --adapt, warm baseline), so the fused temperature applies */
  fused: boolean[];
}

/** Predictions and truths of one regime (network alone, or fused with the functional head). */
interface Part {
  probabilities: number[][];
  truth: number[];
}

/** Fewer fused clips than this: one temperature for both regimes (too few to fit a second). */
const MIN_FUSED = 30;

function readPredictions(path: string): PredictionFile {
  let j: { scoredLabels?: string[]; predictions?: { truth: string; probabilities: number[]; fused?: boolean }[]; confidence?: { temperature?: number; fusedTemperature?: number } };
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new EarshotError('E_AUDIO_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!j.scoredLabels || !j.predictions?.length) throw new EarshotError('E_USAGE', `${path} has no per-clip predictions; write it with \`earshot eval ... --json ${path} --predictions\``);
  const t = j.confidence?.temperature ?? 1;
  const tf = j.confidence?.fusedTemperature ?? t;
  const labels = j.scoredLabels;
  return {
    path,
    labels,
    // undo the temperature the file was scored at, so calibrating twice does not compound
    probabilities: j.predictions.map((p) => tempered(p.probabilities.map((v) => v / p.probabilities.reduce((a, b) => a + b, 0)), 1 / (p.fused ? tf : t))),
    truth: j.predictions.map((p) => labels.indexOf(p.truth)),
    fused: j.predictions.map((p) => !!p.fused),
  };
}

function partOf(sets: readonly PredictionFile[], fused: boolean | null): Part {
  const keep = (s: PredictionFile, i: number) => fused === null || s.fused[i] === fused;
  return {
    probabilities: sets.flatMap((s) => s.probabilities.filter((_, i) => keep(s, i))),
    truth: sets.flatMap((s) => s.truth.filter((_, i) => keep(s, i))),
  };
}

/** The temperatures fitted on these predictions: the network alone's and the fused ones' (the same when too few are fused). */
function fit(sets: readonly PredictionFile[]): { t: number; tf: number } {
  const fusedPart = partOf(sets, true);
  if (fusedPart.truth.length < MIN_FUSED) {
    const all = partOf(sets, null);
    const t = fitTemperature(all.probabilities, all.truth);
    return { t, tf: t };
  }
  const alone = partOf(sets, false);
  return { t: alone.truth.length ? fitTemperature(alone.probabilities, alone.truth) : 1, tf: fitTemperature(fusedPart.probabilities, fusedPart.truth) };
}

function ece(f: PredictionFile, t: number, tf = t): number {
  const conf: number[] = [];
  const correct: boolean[] = [];
  f.probabilities.forEach((p, i) => {
    const q = tempered(p, f.fused[i] ? tf : t);
    const best = q.indexOf(Math.max(...q));
    conf.push(q[best]);
    correct.push(best === f.truth[i]);
  });
  return expectedCalibrationError(conf, correct);
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/**
 * Fits the temperature on the predictions (pooled) and returns it. With predictions of a model
 * with a functional head scored with `--adapt`, two are fitted: the network alone's on the warm-up
 * clips and the fused one's on the rest (`fusedTemperature`); the returned value is the first.
 */
export function runCalibrate(files: string[], opts: { write?: string[]; fittedOn?: string; test?: string[] }, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): number {
  const sets = files.map(readPredictions);
  const all = { ...partOf(sets, null), path: 'pooled', labels: sets[0].labels, fused: sets.flatMap((s) => s.fused) };
  const { t, tf } = fit(sets);
  const two = tf !== t;
  const temps = two ? `temperature ${t.toFixed(3)} alone (${all.fused.filter((f) => !f).length} clips), ${tf.toFixed(3)} fused (${all.fused.filter((f) => f).length} clips)` : `temperature ${t.toFixed(3)}`;
  for (const s of sets) log(`${s.path}: ${s.truth.length} clips, ECE ${pct(ece(s, 1))} -> ${pct(ece(s, t, tf))}`);
  log(`pooled (${all.truth.length} clips): ${temps}; NLL ${nll(all.probabilities, all.truth, 1).toFixed(3)} -> ${nllOf(all, t, tf).toFixed(3)}; ECE ${pct(ece(all, 1))} -> ${pct(ece(all, t, tf))}`);
  if (sets.length > 1) {
    // the honest figure: each file's ECE at the temperatures fitted on the others
    const cross = sets.map((s, i) => {
      const rest = fit(sets.filter((_, k) => k !== i));
      return ece(s, rest.t, rest.tf);
    });
    log(`each file at the temperature fitted on the others: ECE ${cross.map(pct).join(' / ')} (mean ${pct(cross.reduce((a, b) => a + b, 0) / cross.length)})`);
  }
  for (const f of opts.test ?? []) {
    // other test sets (other corpora) at the temperatures fitted on the files above: never fitted on
    const s = readPredictions(f);
    log(`${f} (not fitted on): ${s.truth.length} clips, ECE ${pct(ece(s, 1))} -> ${pct(ece(s, t, tf))}`);
  }
  for (const m of opts.write ?? []) {
    const model = loadModel(m, MODELS_DIR);
    const meta = JSON.parse(readFileSync(model.jsonPath, 'utf8'));
    meta.calibration = {
      temperature: Number(t.toFixed(4)),
      ...(two ? { fusedTemperature: Number(tf.toFixed(4)) } : {}),
      fittedOn: opts.fittedOn ?? `held-out predictions in ${files.join(', ')}`,
    };
    writeFileSync(model.jsonPath, `${JSON.stringify(meta, null, 2)}\n`);
    log(`wrote calibration ${temps} into ${model.jsonPath}`);
  }
  return t;
}

/** Mean negative log-likelihood with each clip at its regime's temperature. */
function nllOf(f: { probabilities: number[][]; truth: number[]; fused: boolean[] }, t: number, tf: number): number {
  let sum = 0;
  f.probabilities.forEach((p, i) => (sum += nll([p], [f.truth[i]], f.fused[i] ? tf : t)));
  return sum / f.truth.length;
}

export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description(summaryOf('calibrate'))
    .argument('<evals...>', 'eval JSON files with per-clip predictions (e.g. the 5 fold models on their held-out actors)')
    .option('--write <models...>', 'store the temperature(s) in these models (name in models/ or path to NAME.json)')
    .option('--fitted-on <words>', 'what the predictions are, for the metadata')
    .option('--test <evals...>', 'also report ECE before/after on these prediction files at the fitted temperature (not fitted on)')
    .action((files: string[], opts: { write?: string[]; fittedOn?: string; test?: string[] }) => {
      runCalibrate(files, opts);
    });
}
