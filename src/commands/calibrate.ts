/**
 * `earshot calibrate EVAL.json... [--write MODEL.json...]`: fits one temperature (Guo et al. 2017)
 * on the held-out predictions of `earshot eval --json F --predictions` runs (the speaker-independent
 * folds: each fold model on the actors it never saw), prints the expected calibration error before
 * and after, per file and pooled, and with --write stores it in the models' metadata
 * (`calibration`), which the runtime then applies. A prediction file scored with a temperature
 * already has it undone first, so calibrating twice does not compound.
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
  probabilities: number[][];
  truth: number[];
}

function readPredictions(path: string): PredictionFile {
  let j: { scoredLabels?: string[]; predictions?: { truth: string; probabilities: number[] }[]; confidence?: { temperature?: number } };
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new EarshotError('E_AUDIO_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!j.scoredLabels || !j.predictions?.length) throw new EarshotError('E_USAGE', `${path} has no per-clip predictions; write it with \`earshot eval ... --json ${path} --predictions\``);
  const t = j.confidence?.temperature ?? 1;
  const labels = j.scoredLabels;
  return {
    path,
    labels,
    probabilities: j.predictions.map((p) => tempered(p.probabilities.map((v) => v / p.probabilities.reduce((a, b) => a + b, 0)), 1 / t)),
    truth: j.predictions.map((p) => labels.indexOf(p.truth)),
  };
}

function ece(f: { probabilities: number[][]; truth: number[] }, temperature: number): number {
  const conf: number[] = [];
  const correct: boolean[] = [];
  f.probabilities.forEach((p, i) => {
    const q = tempered(p, temperature);
    const best = q.indexOf(Math.max(...q));
    conf.push(q[best]);
    correct.push(best === f.truth[i]);
  });
  return expectedCalibrationError(conf, correct);
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

export function runCalibrate(files: string[], opts: { write?: string[]; fittedOn?: string; test?: string[] }, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): number {
  const sets = files.map(readPredictions);
  const pooled = { probabilities: sets.flatMap((s) => s.probabilities), truth: sets.flatMap((s) => s.truth) };
  const t = fitTemperature(pooled.probabilities, pooled.truth);
  for (const s of sets) log(`${s.path}: ${s.truth.length} clips, ECE ${pct(ece(s, 1))} -> ${pct(ece(s, t))}`);
  log(`pooled (${pooled.truth.length} clips): temperature ${t.toFixed(3)}; NLL ${nll(pooled.probabilities, pooled.truth, 1).toFixed(3)} -> ${nll(pooled.probabilities, pooled.truth, t).toFixed(3)}; ECE ${pct(ece(pooled, 1))} -> ${pct(ece(pooled, t))}`);
  if (sets.length > 1) {
    // the honest figure: each file's ECE at the temperature fitted on the others
    const cross = sets.map((s, i) => {
      const rest = sets.filter((_, k) => k !== i);
      const ti = fitTemperature(rest.flatMap((r) => r.probabilities), rest.flatMap((r) => r.truth));
      return ece(s, ti);
    });
    log(`each file at the temperature fitted on the others: ECE ${cross.map(pct).join(' / ')} (mean ${pct(cross.reduce((a, b) => a + b, 0) / cross.length)})`);
  }
  for (const f of opts.test ?? []) {
    // other test sets (other corpora) at the temperature fitted on the files above: never fitted on
    const s = readPredictions(f);
    log(`${f} (not fitted on): ${s.truth.length} clips, ECE ${pct(ece(s, 1))} -> ${pct(ece(s, t))}`);
  }
  for (const m of opts.write ?? []) {
    const model = loadModel(m, MODELS_DIR);
    const meta = JSON.parse(readFileSync(model.jsonPath, 'utf8'));
    meta.calibration = { temperature: Number(t.toFixed(4)), fittedOn: opts.fittedOn ?? `held-out predictions in ${files.join(', ')}` };
    writeFileSync(model.jsonPath, `${JSON.stringify(meta, null, 2)}\n`);
    log(`wrote calibration.temperature ${t.toFixed(4)} into ${model.jsonPath}`);
  }
  return t;
}

export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description(summaryOf('calibrate'))
    .argument('<evals...>', 'eval JSON files with per-clip predictions (e.g. the 5 fold models on their held-out actors)')
    .option('--write <models...>', 'store the temperature in these models (name in models/ or path to NAME.json)')
    .option('--fitted-on <words>', 'what the predictions are, for the metadata')
    .option('--test <evals...>', 'also report ECE before/after on these prediction files at the fitted temperature (not fitted on)')
    .action((files: string[], opts: { write?: string[]; fittedOn?: string; test?: string[] }) => {
      runCalibrate(files, opts);
    });
}
