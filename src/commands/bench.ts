/**
 * `earshot bench`: kernel and pipeline benchmarks that print figures (targets live here, not in
 * timed tests). Every comparison is a ratio measured side by side in one run.
 */
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { decodeAudioFile } from '../runtime/audio/decode.ts';
import type { FrontendBenchRow } from '../bench/frontend.ts';
import { benchResampler } from '../bench/resampler.ts';
import { benchDaemon, daemonBenchReport } from '../bench/daemon.ts';
import { EarshotError } from '../core/errors.ts';
import { DEFAULT_CLIP } from '../core/paths.ts';

export interface BenchOptions {
  seconds: string;
  rounds: string;
  json?: boolean;
  torch?: boolean;
  only?: string;
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
  const x = new Float32Array(Math.round(seconds * 16000));
  for (let i = 0; i < x.length; i += clip.length) x.set(clip.subarray(0, Math.min(clip.length, x.length - i)), i);
  return x;
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
    .option('--only <parts>', 'comma list of parts: frontend,resampler,pipeline (pipeline: the whole daemon, paced for --seconds)')
    .option('--json', 'print JSON instead of tables')
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
        const r = await benchDaemon({ pacedSeconds: Number(opts.seconds) });
        result.pipeline = r;
        if (!opts.json) console.log(`${daemonBenchReport(r)}\n`);
      }
      if (opts.json) console.log(JSON.stringify(result, null, 2));
    });
}
