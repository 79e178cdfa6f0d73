/**
 * What each model costs per second of speech: `earshot bench --only models [--models a,b]`. The
 * model alone (EmotionClassifier.classify: its test-time augmentation, ensemble members, functional
 * head and temperature, as the daemon runs it), on the bundled speech cut into 2 s utterances (the
 * length of a RAVDESS sentence), the frontend computed beforehand. Rounds interleave the models;
 * process CPU time (ONNX Runtime's threads included), so other jobs on a shared machine do not
 * count; the median round. A model with a functional head is timed with a warm speaker baseline,
 * so its head runs too. `--arm64` runs the same in an arm64 Node under qemu-user emulation
 * (scripts/arm64-run.sh) and reports each model's ratio to this machine: emulation compares models
 * on an arm64 instruction stream, it does not say how fast a Pi is.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../core/paths.ts';
import { EarshotError } from '../core/errors.ts';
import { Frontend } from '../runtime/frontend/frontend.ts';
import { SpeakerBaseline } from '../runtime/model/baseline.ts';
import { FUNCTIONAL_NAMES } from '../runtime/model/functionals.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { median } from './median.ts';

/** Frames per utterance: 2 s at the 10 ms hop. */
const UTTERANCE_FRAMES = 200;

export interface ModelCostRow {
  model: string;
  /** network runs per utterance (ensemble members x test-time variants) */
  runsPerUtterance: number;
  onnxBytes: number;
  /** model CPU time per second of audio (ms), median round */
  msPerAudioSecond: number;
  /** the same per utterance (ms) */
  msPerUtterance: number;
}

export interface ModelCostBench {
  arch: string;
  audioSeconds: number;
  rows: ModelCostRow[];
}


/** `x`: 16 kHz audio (the bench clip looped). */
export async function benchModels(x: Float32Array, models: string[], rounds = 5): Promise<ModelCostBench> {
  const runners = [];
  for (const name of models) {
    const c = await EmotionClassifier.load(name);
    const fe = new Frontend(c.model.frontend);
    const feats = fe.computeAll(x);
    const frames = feats.length / fe.dim;
    const cuts: [number, number][] = [];
    for (let s = 0; s + UTTERANCE_FRAMES <= frames; s += UTTERANCE_FRAMES) cuts.push([s, UTTERANCE_FRAMES]);
    // a warm speaker baseline, so a functional head fuses as it does once the device knows its speaker
    let baseline: SpeakerBaseline | null = null;
    if (c.head) {
      baseline = new SpeakerBaseline(fe.dim, c.model.frontend.hopLength / c.model.frontend.sampleRate, 'bench', { warmupSeconds: 0 }, FUNCTIONAL_NAMES.length);
      for (const [s, n] of cuts.slice(0, 4)) {
        const u = feats.subarray(s * fe.dim, (s + n) * fe.dim);
        baseline.add(u, n, Float64Array.from(c.head.observe(u, n, fe.dim)));
      }
    }
    const members = Number((c.meta.training.options as { ensemble?: number } | undefined)?.ensemble ?? 1);
    const runs = members * Math.max(1, c.tta.length);
    const run = async () => {
      for (const [s, n] of cuts) await c.classify(feats.subarray(s * fe.dim, (s + n) * fe.dim), n, baseline?.stats() ?? null);
    };
    runners.push({ name: c.meta.name, c, run, runs, bytes: c.model.onnxBytes.length, utterances: cuts.length, audioSec: (cuts.length * UTTERANCE_FRAMES * c.model.frontend.hopLength) / c.model.frontend.sampleRate });
  }
  for (const r of runners) await r.run(); // warm-up: onnxruntime's first runs
  const times = runners.map(() => [] as number[]);
  for (let k = 0; k < rounds; k++) {
    for (const [i, r] of runners.entries()) {
      const c0 = process.cpuUsage();
      await r.run();
      const c = process.cpuUsage(c0);
      times[i]!.push((c.user + c.system) / 1000);
    }
  }
  const rows = runners.map((r, i) => {
    const ms = median(times[i]!);
    return { model: r.name, runsPerUtterance: r.runs, onnxBytes: r.bytes, msPerAudioSecond: ms / r.audioSec, msPerUtterance: ms / r.utterances };
  });
  for (const r of runners) await r.c.close();
  return { arch: process.arch, audioSeconds: runners[0]?.audioSec ?? 0, rows };
}

/** The same measurement in an arm64 Node under qemu-user (needs root: scripts/arm64-run.sh). */
export async function benchModelsArm64(seconds: number, models: string[], rounds: number): Promise<ModelCostBench> {
  const cmd = ['bash', join(ROOT, 'scripts/arm64-run.sh'), '--', 'node', join(ROOT, 'bin/earshot.js'), 'bench', '--only', 'models', '--json', '--seconds', String(seconds), '--rounds', String(rounds), '--models', models.join(',')];
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new EarshotError('E_TOOL', `the arm64 run (${cmd.join(' ')}) exited with ${code}; it needs root and \`sudo bash scripts/arm64-run.sh --setup -- true\` once`);
  return (JSON.parse(out) as { models: ModelCostBench }).models;
}

export function modelsReport(here: ModelCostBench, arm?: ModelCostBench): string {
  const lines = [`model CPU time per second of speech (${here.audioSeconds.toFixed(0)} s cut into 2 s utterances; ${here.arch}${arm ? `; ${arm.arch} under qemu-user emulation in the same run` : ''}):`];
  const head = `  ${'model'.padEnd(24)} ${'runs/utt'.padStart(8)} ${'size kB'.padStart(8)} ${'ms/s audio'.padStart(11)} ${'ms/utt'.padStart(8)} ${'x first'.padStart(8)}`;
  lines.push(arm ? `${head} ${'arm64 ms/s'.padStart(11)} ${'arm64 x first'.padStart(14)} ${'arm64/x86-64'.padStart(13)}` : head);
  const first = here.rows[0];
  for (const r of here.rows) {
    let line = `  ${r.model.padEnd(24)} ${String(r.runsPerUtterance).padStart(8)} ${(r.onnxBytes / 1000).toFixed(0).padStart(8)} ${r.msPerAudioSecond.toFixed(3).padStart(11)} ${r.msPerUtterance.toFixed(2).padStart(8)} ${`${(r.msPerAudioSecond / first!.msPerAudioSecond).toFixed(2)}x`.padStart(8)}`;
    const a = arm?.rows.find((x) => x.model === r.model);
    if (a && arm) line += ` ${a.msPerAudioSecond.toFixed(3).padStart(11)} ${`${(a.msPerAudioSecond / arm.rows[0]!.msPerAudioSecond).toFixed(2)}x`.padStart(14)} ${`${(a.msPerAudioSecond / r.msPerAudioSecond).toFixed(1)}x`.padStart(13)}`;
    lines.push(line);
  }
  return lines.join('\n');
}
