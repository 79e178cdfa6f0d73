/**
 * `earshot vad-eval [RAVDESS_DIR]`: the VAD choices (energy, silero, cascade) in noise, without a
 * model's accuracy: utterances found against clean per noise and SNR (RAVDESS clips and the bundled
 * demo clip), and the events a long noise-only recording yields through the daemon's pipeline.
 * The babble is made of RAVDESS actors other than the clip's own.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { EarshotError } from '../core/errors.ts';
import { DEMO_CLIP } from '../core/paths.ts';
import { MODEL_SAMPLE_RATE } from '../core/constants.ts';
import { decodeAudioFile } from '../runtime/audio/decode.ts';
import { resample } from '../runtime/frontend/resampler.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { VAD_KINDS, vadConfigSchema, type VadKind } from '../runtime/vad/config.ts';
import { formatIssues } from '../core/schema.ts';
import { mulberry32, seedOf } from '../training/augment.ts';
import { loadCorpus } from '../training/corpus/index.ts';
import { loadBabblePool, NOISE_KINDS, type NoiseKind } from '../training/noise.ts';
import { measureRecall, noiseOnlyEvents, type NoiseOnlyRow, type RecallRow, type VadClip } from '../training/vad-eval.ts';

export interface VadEvalOptions {
  clips: string;
  vads: string;
  noises: string;
  snrs: string;
  swing?: string;
  noiseOnly: string;
  noiseLevel: string;
  json?: string;
  model?: string;
  /** pipeline.vad settings, key=value */
  set?: string[];
  /** the crowd detector instead of the VADs: true, or the corpora's root */
  crowd?: string | boolean;
  detector?: string;
  split?: string;
  writeThreshold?: string;
}

/** `--set sileroThreshold=0.7` -> { sileroThreshold: 0.7 }, checked by the VAD's schema. */
function vadSettings(items: string[] = []): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) {
    const [k, v] = it.split('=');
    if (!k || v === undefined || !Number.isFinite(Number(v)) || k === 'kind') throw new EarshotError('E_USAGE', `--set ${it}: write --set name=number for a pipeline.vad setting, e.g. --set gateDb=6 (the kinds come from --vads)`);
    out[k.trim()] = Number(v);
  }
  const r = vadConfigSchema.safeParse(out);
  if (!r.success) throw new EarshotError('E_USAGE', `--set: ${formatIssues(r.error.issues).join('; ')}`);
  return out;
}

function list<T extends string>(flag: string, v: string, allowed: readonly string[]): T[] {
  const out = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const x of out) if (!allowed.includes(x)) throw new EarshotError('E_USAGE', `${flag} ${x}: use ${allowed.join(', ')}`);
  return out as T[];
}

/** `per` clips of each actor, seeded, so every run scores the same clips. */
function pick<T extends { speaker: string; name: string }>(items: T[], per: number): T[] {
  const rng = mulberry32(seedOf('vad-eval'));
  const shuffled = items.map((i) => [rng(), i] as const).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
  const count = new Map<string, number>();
  return shuffled.filter((i) => (count.set(i.speaker, (count.get(i.speaker) ?? 0) + 1).get(i.speaker) ?? 0) <= per).sort((a, b) => a.name.localeCompare(b.name));
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export async function runVadEval(dir: string, opts: VadEvalOptions, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)) {
  if (opts.crowd) return runCrowd(opts, log);
  const vads = list<VadKind>('--vads', opts.vads, VAD_KINDS);
  const noises = list<NoiseKind>('--noises', opts.noises, NOISE_KINDS);
  const snrs = opts.snrs.split(',').map(Number);
  if (snrs.some((s) => !Number.isFinite(s))) throw new EarshotError('E_USAGE', `--snrs ${opts.snrs}: give dB values, e.g. 10,5,0`);
  const vadConfig = vadSettings(opts.set);
  const swingDb = opts.swing === undefined ? 0 : Number(opts.swing);
  const corpus = loadCorpus('ravdess', dir);
  const perActor = Number(opts.clips);
  const chosen = pick(corpus, perActor);
  const clips: VadClip[] = [];
  for (const it of chosen) {
    const a = await decodeAudioFile(it.path);
    clips.push({ name: it.name, speaker: it.speaker, samples: resample(a.samples, a.sampleRate, MODEL_SAMPLE_RATE) });
  }
  const demo = await decodeAudioFile(DEMO_CLIP);
  const demoClip: VadClip = { name: 'demo-sequence', speaker: 'demo', samples: resample(demo.samples, demo.sampleRate, MODEL_SAMPLE_RATE) };
  // babble: up to 6 clips per actor that are not among the scored ones (a clip never babbles over itself)
  const scored = new Set(chosen.map((c) => c.name));
  const pool = noises.includes('babble') ? await loadBabblePool(pick(corpus.filter((c) => !scored.has(c.name)), 6)) : undefined;
  if (opts.set?.length) log(`pipeline.vad settings: ${JSON.stringify(vadConfig)}`);
  log(`VAD recall in noise: ${clips.length} RAVDESS clips (${perActor} per actor, seeded) + the demo clip; SNR against the active speech level${swingDb ? `; noise level swinging +-${swingDb} dB` : ''}`);
  const fmt = (r: RecallRow) => `  ${r.vad.padEnd(8)} ${(r.snrDb === null ? 'clean' : `${r.noise} ${r.snrDb} dB`).padEnd(14)} found ${String(r.found).padStart(4)}/${r.clean} (${pct(r.recall).padStart(6)})  extra ${String(r.extra).padStart(3)}  speech x${r.speechRatio.toFixed(2)}  Silero calls/s ${r.networkCallsPerSec.toFixed(1)}`;
  log('RAVDESS clips:');
  const ravdess = measureRecall(clips, { vads, noises, snrs, pool, swingDb, vadConfig, onRow: (r) => log(fmt(r)) });
  log('demo clip (assets/demo-sequence.flac):');
  const demoRows = measureRecall([demoClip], { vads, noises, snrs, pool, swingDb, vadConfig, onRow: (r) => log(fmt(r)) });
  const noiseOnly: NoiseOnlyRow[] = [];
  const seconds = Number(opts.noiseOnly);
  if (seconds > 0) {
    const level = Number(opts.noiseLevel);
    log(`noise alone, ${seconds} s at ${level} dBFS${swingDb ? ` +-${swingDb} dB` : ''}, through the daemon's pipeline (each result would be an MQTT event):`);
    const classifier = await EmotionClassifier.load(opts.model);
    try {
      for (const vad of vads) {
        for (const noise of noises) {
          const r = await noiseOnlyEvents(classifier, vad, noise, { seconds, levelDbfs: level, swingDb, pool, vadConfig });
          noiseOnly.push(r);
          log(`  ${vad.padEnd(8)} ${noise.padEnd(7)} events ${String(r.events).padStart(4)}  (segments ${r.segments}, too short ${r.segmentsDropped})  Silero calls/s ${r.networkCallsPerSec.toFixed(1)}`);
        }
      }
    } finally {
      await classifier.close();
    }
  }
  const result = { clips: clips.length, swingDb, vadConfig, ravdess, demo: demoRows, noiseOnly };
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(result, null, 1)}\n`);
  return result;
}

/** `--crowd`: the crowd detector through the pipeline (src/commands/crowd-eval.ts); --snrs, --clips (per speaker), --noise-only, --noise-level, the first of --vads. */
async function runCrowd(opts: VadEvalOptions, log: (s: string) => void) {
  const snrs = opts.snrs.split(',').map(Number);
  if (snrs.some((s) => !Number.isFinite(s))) throw new EarshotError('E_USAGE', `--snrs ${opts.snrs}: give dB values, e.g. 20,10,5,0`);
  const { runCrowdEval } = await import('./crowd-eval.ts');
  const root = typeof opts.crowd === 'string' ? opts.crowd : '../shared/data';
  const vad = opts.vads.split(',')[0].trim();
  const split = opts.split ?? 'test';
  if (split !== 'test' && split !== 'val') throw new EarshotError('E_USAGE', `--split ${split}: use test or val`);
  const keep = opts.writeThreshold === undefined || opts.writeThreshold === 'babble' ? opts.writeThreshold : Number(opts.writeThreshold);
  if (typeof keep === 'number' && !(keep > 0 && keep <= 1)) throw new EarshotError('E_USAGE', `--write-threshold ${opts.writeThreshold}: give the share of clean utterances to keep (e.g. 0.97) or babble`);
  const common = { root, clips: Number(opts.clips), snrs, noiseOnly: Number(opts.noiseOnly), noiseLevel: Number(opts.noiseLevel), vad };
  return runCrowdEval({ ...common, model: opts.model, detector: opts.detector, json: opts.json, split, writeThreshold: keep }, log);
}

export function registerVadEval(program: Command): void {
  program
    .command('vad-eval')
    .description(summaryOf('vad-eval'))
    .argument('[dir]', 'RAVDESS root', '../shared/data/ravdess')
    .option('--clips <n>', 'clips per actor (seeded)', '6')
    .option('--vads <list>', `VAD kinds: ${VAD_KINDS.join(',')}`, VAD_KINDS.join(','))
    .option('--noises <list>', `noises: ${NOISE_KINDS.join(',')}`, 'pink,brown,babble')
    .option('--snrs <list>', 'SNRs in dB (against the active speech level)', '10,5,0')
    .option('--swing <db>', 'level changes: noise level swinging +- this many dB (period 3-9 s)')
    .option('--noise-only <seconds>', 'seconds of noise alone through the pipeline per VAD and noise (0 = skip)', '600')
    .option('--noise-level <dbfs>', 'level of the noise-only recording (dBFS, mean square)', '-40')
    .option('-m, --model <name>', 'model for the noise-only pipeline (default: the default model)')
    .option('--set <name=value>', 'a pipeline.vad setting for every kind, e.g. --set gateDb=6 (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--crowd [dataRoot]', 'measure the crowd detector instead (models/earshot-crowd; its test speakers from every corpus under dataRoot, default ../shared/data): utterances kept over babble at --snrs, events from --noise-only seconds of babble; the first of --vads')
    .option('--detector <file>', 'with --crowd: a crowd detector NAME.json other than models/earshot-crowd.json')
    .option('--split <split>', 'with --crowd: the detector\'s test speakers (default) or its validation speakers (val), to choose a threshold')
    .option('--write-threshold <share>', 'with --crowd: write a threshold into the detector\'s JSON: the one keeping this share (e.g. 0.97) of the clean utterances, or `babble`: the lowest that no babble segment reaches')
    .option('--json <file>', 'write every row as JSON')
    .action(async (dir: string, opts: VadEvalOptions) => {
      await runVadEval(dir, opts);
    });
}
