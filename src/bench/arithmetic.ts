/**
 * f32 against Q15: the default model's own frontend (not the MFCC bench config) in both
 * arithmetics, µs per frame, and the whole pipeline (resample -> frontend -> VAD -> ONNX ->
 * smoother, unpaced, benchPipeline) served with each, as CPU time per second of audio. `--arm64` runs the
 * same measurement in a second process under qemu-user arm64 emulation (scripts/arm64-run.sh) in
 * the same invocation and reports each figure as a ratio to this machine's: emulation says how the
 * paths compare on an arm64 instruction stream (NEON for WASM SIMD), not how fast a Pi is.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../core/paths.ts';
import { EarshotError } from '../core/errors.ts';
import { frameCount } from '../runtime/frontend/config.ts';
import { Frontend } from '../runtime/frontend/frontend.ts';
import { loadModel } from '../runtime/model/metadata.ts';
import { benchPipeline } from './pipeline.ts';
import { median } from './median.ts';

export interface ArithmeticRow {
  name: string;
  /** CPU µs per frame (frontend rows) */
  usPerFrame?: number;
  /** CPU time / audio time */
  realTimeFactor: number;
}

export interface ArithmeticBench {
  arch: string;
  model: string;
  rows: ArithmeticRow[];
}


/** This process, this CPU. `x` is 16 kHz audio; `pipelineSeconds` of it (looped clip) per pipeline run. */
export async function benchArithmetic(x: Float32Array, opts: { rounds?: number; model?: string; pipelineSeconds?: number } = {}): Promise<ArithmeticBench> {
  const model = loadModel(opts.model);
  const rows: ArithmeticRow[] = [];
  // the model's frontend as served, and its mel path alone (without the f0/voicing extras, which run
  // in float either way and dominate the pitch frontend's cost): what the arithmetic changes
  const melOnly = { ...model.frontend, extras: model.frontend.extras.filter((e) => e !== 'f0' && e !== 'voicing') };
  const variants = [
    { label: 'frontend', cfg: model.frontend, simds: [true, false] },
    ...(melOnly.extras.length !== model.frontend.extras.length ? [{ label: 'mel path (no pitch)', cfg: melOnly, simds: [true] }] : []),
  ];
  const runners = variants.flatMap(({ label, cfg, simds }) =>
    (['f32', 'q15'] as const).flatMap((arithmetic) =>
      simds.map((simd) => {
        const fe = new Frontend({ ...cfg, arithmetic }, { simd });
        const run = () => {
          fe.reset();
          for (let off = 0; off < x.length; off += 1600) fe.push(x.subarray(off, Math.min(x.length, off + 1600)));
          fe.flush();
        };
        return { name: `${label} ${arithmetic === 'f32' ? 'f32' : 'Q15'} ${simd ? 'SIMD' : 'scalar'}`, run };
      }),
    ),
  );
  const frames = frameCount(model.frontend, x.length);
  const audioSec = x.length / model.frontend.sampleRate;
  for (const r of runners) r.run(); // warm-up: JIT and WASM tier-up
  const times = runners.map(() => [] as number[]);
  for (let k = 0; k < (opts.rounds ?? 5); k++) {
    runners.forEach((r, i) => {
      // CPU time of this process, not wall time: the figures are ratios between runs on a shared
      // machine (and an emulator), and other jobs' load inflates wall time unevenly
      const c0 = process.cpuUsage();
      r.run();
      const c = process.cpuUsage(c0);
      times[i]!.push((c.user + c.system) / 1000);
    });
  }
  runners.forEach((r, i) => {
    const ms = median(times[i]!);
    rows.push({ name: r.name, usPerFrame: (ms * 1000) / frames, realTimeFactor: ms / 1000 / audioSec });
  });
  // the whole pipeline: rounds interleaved f32 / Q15 (at most 3: each is seconds of audio through
  // VAD and model), median; CPU seconds (all threads, ONNX Runtime's included) per second of audio
  const pipe = { f32: [] as number[], q15: [] as number[] };
  for (let k = 0; k < Math.min(3, opts.rounds ?? 5); k++) {
    for (const arithmetic of ['f32', 'q15'] as const) {
      const p = await benchPipeline({ seconds: opts.pipelineSeconds ?? 20, model: opts.model, arithmetic });
      pipe[arithmetic].push(((p.cpuPercent / 100) * p.wallSeconds) / p.audioSeconds);
    }
  }
  for (const arithmetic of ['f32', 'q15'] as const) rows.push({ name: `pipeline, frontend ${arithmetic === 'f32' ? 'f32' : 'Q15'}`, realTimeFactor: median(pipe[arithmetic]) });
  return { arch: process.arch, model: model.meta.name, rows };
}

/** The same measurement in an arm64 Node under qemu-user (needs root: scripts/arm64-run.sh). */
export async function benchArithmeticArm64(args: { seconds: number; rounds: number; model?: string; pipelineSeconds: number }): Promise<ArithmeticBench> {
  const cmd = ['bash', join(ROOT, 'scripts/arm64-run.sh'), '--', 'node', join(ROOT, 'bin/earshot.js'), 'bench', '--only', 'arithmetic', '--json',
    '--seconds', String(args.seconds), '--rounds', String(args.rounds), '--pipeline-seconds', String(args.pipelineSeconds), ...(args.model ? ['--model', args.model] : [])];
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new EarshotError('E_TOOL', `the arm64 run (${cmd.join(' ')}) exited with ${code}; it needs root and \`sudo bash scripts/arm64-run.sh --setup -- true\` once`);
  const r = JSON.parse(out) as { arithmetic: ArithmeticBench };
  return r.arithmetic;
}

export function arithmeticReport(here: ArithmeticBench, arm?: ArithmeticBench): string {
  const lines = [`f32 vs Q15, model ${here.model}'s frontend (${here.arch}${arm ? `; ${arm.arch} under qemu-user emulation in the same run` : ''}):`];
  const head = `  ${'part (CPU time)'.padEnd(32)} ${'µs/frame'.padStart(9)} ${'RTF'.padStart(9)}`;
  lines.push(arm ? `${head} ${'arm64 µs/frame'.padStart(15)} ${'arm64 RTF'.padStart(10)} ${'arm64 / x86-64'.padStart(15)}` : head);
  const f32Here = here.rows.find((r) => r.name === 'frontend f32 SIMD')!;
  for (const r of here.rows) {
    const a = arm?.rows.find((x) => x.name === r.name);
    let line = `  ${r.name.padEnd(32)} ${(r.usPerFrame?.toFixed(2) ?? '').padStart(9)} ${r.realTimeFactor.toFixed(5).padStart(9)}`;
    if (a) line += ` ${(a.usPerFrame?.toFixed(2) ?? '').padStart(15)} ${a.realTimeFactor.toFixed(5).padStart(10)} ${`${(a.realTimeFactor / r.realTimeFactor).toFixed(1)}x`.padStart(15)}`;
    lines.push(line);
  }
  const q = (b: ArithmeticBench, n: string) => b.rows.find((r) => r.name === n)!.realTimeFactor;
  const mel = here.rows.some((r) => r.name === 'mel path (no pitch) f32 SIMD');
  const melRatio = (b: ArithmeticBench) => (q(b, 'mel path (no pitch) Q15 SIMD') / q(b, 'mel path (no pitch) f32 SIMD')).toFixed(2);
  lines.push(`  Q15 / f32 (SIMD frontend): ${(q(here, 'frontend Q15 SIMD') / f32Here.realTimeFactor).toFixed(2)}x here${arm ? `, ${(q(arm, 'frontend Q15 SIMD') / q(arm, 'frontend f32 SIMD')).toFixed(2)}x arm64` : ''}; ` +
    (mel ? `mel path alone: ${melRatio(here)}x here${arm ? `, ${melRatio(arm)}x arm64` : ''}; ` : '') +
    `whole pipeline: ${(q(here, 'pipeline, frontend Q15') / q(here, 'pipeline, frontend f32')).toFixed(2)}x here${arm ? `, ${(q(arm, 'pipeline, frontend Q15') / q(arm, 'pipeline, frontend f32')).toFixed(2)}x arm64` : ''}`);
  return lines.join('\n');
}
