/**
 * `earshot bench`: kernel and pipeline benchmarks that print figures (targets live here, not in
 * timed tests). Every comparison is a ratio measured side by side in one run.
 */
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { decodeAudioFile } from '../runtime/audio/decode.ts';
import type { FrontendBenchRow } from '../bench/frontend.ts';
import { benchResampler } from '../bench/resampler.ts';
import { benchDaemon, benchDaemonSideBySide, daemonBenchReport, sideBySideReport } from '../bench/daemon.ts';
import { arithmeticReport, benchArithmetic, benchArithmeticArm64 } from '../bench/arithmetic.ts';
import { benchModels, benchModelsArm64, modelsReport } from '../bench/models.ts';
import { DEFAULT_MODEL } from '../runtime/model/metadata.ts';
import { EarshotError } from '../core/errors.ts';
import { DEFAULT_CLIP, DEMO_CLIP } from '../core/paths.ts';
import { MODEL_SAMPLE_RATE } from '../core/constants.ts';
import { join } from 'node:path';
import { benchVad, vadBenchReport, type VadBenchStream } from '../bench/vad.ts';
import { VAD_KINDS } from '../runtime/vad/config.ts';
import { resample } from '../runtime/frontend/resampler.ts';
import { mulberry32 } from '../training/augment.ts';
import { loadCorpus } from '../training/corpus/index.ts';
import { atLevel, loadBabblePool, makeNoise, mixAtSnr } from '../training/noise.ts';

export interface BenchOptions {
  seconds: string;
  rounds: string;
  json?: boolean;
  torch?: boolean;
  only?: string;
  ravdess?: string;
  set?: string[];
  arm64?: boolean;
  model?: string;
  models?: string;
  pipelineSeconds?: string;
  dashboardClients?: string;
  against?: string;
}

/**
 * The frontend benchmark compares the kernels with meyda and fft.js, development dependencies: an
 * installed earshot does not have them, and says so instead of failing on an import.
 */
async function loadFrontendBench(): Promise<typeof import('../bench/frontend.ts')> {
  try {
    return await import('../bench/frontend.ts');
  } catch (e) {
    const missing = /Cannot find (?:package|module) '(meyda|fft\.js)'/.exec((e as Error).message)?.[1];
    if (!missing) throw e;
    throw new EarshotError(
      'E_TOOL',
      `the frontend benchmark compares against meyda and fft.js, development tools that an installed earshot leaves out (${missing} is missing): ` +
        'run it from a checkout after `npm ci`, or `npm install meyda fft.js` beside earshot; `earshot bench --only resampler,pipeline` needs neither',
      { cause: e },
    );
  }
}

/** Loops a clip to `seconds` of audio. */
async function benchAudio(seconds: number): Promise<Float32Array> {
  const clip = (await decodeAudioFile(DEFAULT_CLIP)).samples;
  const x = new Float32Array(Math.round(seconds * MODEL_SAMPLE_RATE));
  for (let i = 0; i < x.length; i += clip.length) x.set(clip.subarray(0, Math.min(clip.length, x.length - i)), i);
  return x;
}

/**
 * The rooms the VAD benchmark runs in, `seconds` each, at 16 kHz: a quiet room (pink noise at
 * -70 dBFS, under the VAD's -60 dBFS gate), a quiet room with speech (the demo clip looped), a car
 * cabin (brown noise at -40 dBFS, level swinging +-6 dB), a kiosk (6-talker babble at -40 dBFS), and
 * the demo speech in pink noise at 5 dB SNR.
 */
async function vadStreams(seconds: number, ravdess: string): Promise<VadBenchStream[]> {
  const n = Math.round(seconds * MODEL_SAMPLE_RATE);
  const demo = await decodeAudioFile(DEMO_CLIP);
  const speech = resample(demo.samples, demo.sampleRate, MODEL_SAMPLE_RATE);
  const looped = new Float32Array(n);
  for (let i = 0; i < n; i += speech.length) looped.set(speech.subarray(0, Math.min(speech.length, n - i)), i);
  const streams: VadBenchStream[] = [
    { name: 'quiet room (pink -70 dBFS, no speech)', samples: atLevel(makeNoise('pink', n, mulberry32(1)), -70) },
    { name: 'speech in a quiet room (demo clip looped)', samples: looped },
    { name: 'cabin (brown -40 dBFS +-6 dB, no speech)', samples: atLevel(makeNoise('brown', n, mulberry32(2), { swingDb: 6 }), -40) },
  ];
  try {
    const seen = new Map<string, number>();
    const items = loadCorpus('ravdess', ravdess).filter((i) => (seen.set(i.speaker, (seen.get(i.speaker) ?? 0) + 1).get(i.speaker) ?? 0) <= 3);
    const pool = await loadBabblePool(items);
    streams.push({ name: 'kiosk (babble -40 dBFS, no speech)', samples: atLevel(makeNoise('babble', n, mulberry32(3), { pool }), -40) });
  } catch (e) {
    console.error(`bench vad: no babble stream (${(e as Error).message})`);
  }
  streams.push({ name: 'speech in pink noise at 5 dB SNR', samples: mixAtSnr(looped, makeNoise('pink', n, mulberry32(4)), 5) });
  return streams;
}

function frontendReport(rows: FrontendBenchRow[]): string {
  const meyda = rows.find((r) => r.name === 'meyda')!;
  const f32 = rows.find((r) => r.name === 'f32 SIMD (WASM)')!;
  const lines = ['frontend: full MFCC frame (512-pt FFT, 40 mels, 20 MFCCs, hop 160), median of interleaved rounds', ''];
  lines.push(`${'implementation'.padEnd(38)}${'µs/frame'.padStart(10)}${'frames/s'.padStart(12)}${'RTF'.padStart(10)}${'× meyda'.padStart(9)}${'÷ f32 SIMD'.padStart(12)}`);
  for (const r of rows) {
    lines.push(
      `${r.name.padEnd(38)}${r.usPerFrame.toFixed(2).padStart(10)}${Math.round(r.framesPerSec).toString().padStart(12)}${r.realTimeFactor.toFixed(5).padStart(10)}` +
        `${(meyda.usPerFrame / r.usPerFrame).toFixed(1).padStart(9)}${(r.usPerFrame / f32.usPerFrame).toFixed(2).padStart(12)}`,
    );
  }
  const q15 = rows.find((r) => r.name === 'Q15 SIMD (WASM)')!;
  lines.push('', `targets: f32 SIMD >= 20x meyda: ${(meyda.usPerFrame / f32.usPerFrame).toFixed(1)}x; RTF <= 0.0005: ${f32.realTimeFactor.toFixed(5)}; Q15 <= 2x f32: ${(q15.usPerFrame / f32.usPerFrame).toFixed(2)}x`);
  return lines.join('\n');
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(summaryOf('bench'))
    .option('--seconds <s>', 'seconds of audio per round', '20')
    .option('--rounds <n>', 'interleaved rounds (median reported)', '7')
    .option('--torch', 'also time torchaudio\'s batch MFCC (needs /usr/bin/python3 with torchaudio)')
    .option('--only <parts>', 'comma list of parts: frontend,resampler,pipeline,vad,arithmetic,models (pipeline: the whole daemon, paced for --seconds; vad: each VAD choice in a quiet and a noisy room; arithmetic: the model frontend and pipeline in f32 and Q15; models: each model\'s CPU time per second of speech)')
    .option('--models <names>', 'models: comma list of models to compare (default: the default model and earshot-crnn-ensemble)')
    .option('--ravdess <dir>', 'RAVDESS root for the babble of --only vad', join('..', 'shared', 'data', 'ravdess'))
    .option('--set <path=value>', 'pipeline: a daemon setting for the measured daemon, e.g. --set pipeline.vad.kind=cascade (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--dashboard-clients <n>', 'pipeline: keep n dashboard pages (SSE streams on /events) open on the measured daemon, to measure what the dashboard costs (compare with 0)', '0')
    .option('--against <dir>', 'pipeline: run the paced daemon of this checkout and of another built checkout (e.g. today\'s main: git worktree add DIR main && (cd DIR && npm run build)) alternately, --rounds times, and print both side by side')
    .option('--json', 'print JSON instead of tables')
    .option('--model <name>', 'pipeline, arithmetic: the model the daemon runs / whose frontend and pipeline are timed (default: the default model)')
    .option('--pipeline-seconds <s>', 'arithmetic: seconds of audio per whole-pipeline run', '20')
    .option('--arm64', 'arithmetic, models: also run them under qemu-user arm64 emulation (root; scripts/arm64-run.sh) and report ratios to this machine')
    // eslint-disable-next-line complexity -- dispatches the --only parts, one short branch per benchmark
    .action(async (opts: BenchOptions) => {
      const parts = new Set((opts.only ?? 'frontend,resampler').split(','));
      const x = await benchAudio(Number(opts.seconds));
      const result: Record<string, unknown> = { node: process.version, arch: process.arch, audioSeconds: Number(opts.seconds) };
      if (parts.has('frontend')) {
        const { benchFrontend } = await loadFrontendBench();
        const rows = benchFrontend(x, { rounds: Number(opts.rounds), torch: opts.torch });
        result.frontend = rows;
        if (!opts.json) console.log(frontendReport(rows) + '\n');
      }
      if (parts.has('resampler')) {
        const rows = benchResampler(Math.min(10, Number(opts.seconds)));
        result.resampler = rows;
        if (!opts.json) {
          console.log('resampler to 16 kHz (x real time, one thread):');
          for (const r of rows) console.log(`  ${String(r.from).padStart(10)} Hz  ${Math.round(r.xRealtime).toString().padStart(6)}x  (${r.taps} taps, init ${r.initMs.toFixed(1)} ms)`);
          console.log();
        }
      }
      if (parts.has('pipeline')) {
        if (opts.against) {
          const r = await benchDaemonSideBySide({ pacedSeconds: Number(opts.seconds), set: opts.set, model: opts.model }, opts.against, Number(opts.rounds));
          result.pipeline = r;
          if (!opts.json) console.log(`${sideBySideReport(r)}\n`);
        } else {
          const r = await benchDaemon({ pacedSeconds: Number(opts.seconds), set: opts.set, dashboardClients: Number(opts.dashboardClients ?? 0), model: opts.model });
          result.pipeline = r;
          if (!opts.json) console.log(`${daemonBenchReport(r)}\n`);
        }
      }
      if (parts.has('vad')) {
        const rows = benchVad(await vadStreams(Number(opts.seconds), opts.ravdess ?? join('..', 'shared', 'data', 'ravdess')), VAD_KINDS, Number(opts.rounds));
        result.vad = rows;
        if (!opts.json) console.log(`${vadBenchReport(rows)}\n`);
      }
      if (parts.has('models')) {
        const models = (opts.models ?? `${DEFAULT_MODEL},${DEFAULT_MODEL}-ensemble`).split(',').map((m) => m.trim()).filter(Boolean);
        const here = await benchModels(x, models, Number(opts.rounds));
        const arm = opts.arm64 ? await benchModelsArm64(Number(opts.seconds), models, Number(opts.rounds)) : undefined;
        result.models = here;
        if (arm) result.modelsArm64 = arm;
        if (!opts.json) console.log(`${modelsReport(here, arm)}\n`);
      }
      if (parts.has('arithmetic')) {
        const args = { seconds: Number(opts.seconds), rounds: Number(opts.rounds), model: opts.model, pipelineSeconds: Number(opts.pipelineSeconds ?? 20) };
        const here = await benchArithmetic(x, args);
        const arm = opts.arm64 ? await benchArithmeticArm64(args) : undefined;
        result.arithmetic = here;
        if (arm) result.arithmeticArm64 = arm;
        if (!opts.json) console.log(`${arithmeticReport(here, arm)}\n`);
      }
      if (opts.json) console.log(JSON.stringify(result, null, 2));
    });
}
