/**
 * Frontend benchmark: frames per second of the full MFCC frame (pre-emphasis, window, 512-point
 * FFT, power, 40 mels, log, 20 MFCCs, hop 160) for every implementation, on the same audio in one
 * run, rounds interleaved so machine noise hits all of them alike; the median round is reported.
 */
import Meyda from 'meyda';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../core/paths.ts';
import { FRAMING_16K } from '../core/constants.ts';
import { frameCount, parseFrontendConfig, type FrontendConfigInput } from '../runtime/frontend/config.ts';
import { Frontend } from '../runtime/frontend/frontend.ts';
import { ReferenceMfcc } from './reference-mfcc.ts';
import { median } from './median.ts';

export const BENCH_FRONTEND: FrontendConfigInput = { frameLength: 512, hopLength: FRAMING_16K.hopLength, fftSize: 512, melBands: 40, mfcc: 20 };

export interface FrontendBenchRow {
  name: string;
  usPerFrame: number;
  framesPerSec: number;
  /** processing time / audio time at 16 kHz */
  realTimeFactor: number;
}

type Runner = () => void;

function frontendRunner(x: Float32Array, cfg: FrontendConfigInput, simd: boolean): Runner {
  const fe = new Frontend(cfg, { simd });
  return () => {
    fe.reset();
    // capture-sized chunks, as the daemon feeds it (100 ms)
    for (let off = 0; off < x.length; off += 1600) fe.push(x.subarray(off, Math.min(x.length, off + 1600)));
    fe.flush();
  };
}

function referenceRunner(x: Float32Array): Runner {
  const c = parseFrontendConfig(BENCH_FRONTEND);
  const ref = new ReferenceMfcc(c);
  const out = new Float32Array(c.mfcc);
  const frames = frameCount(c, x.length);
  return () => {
    for (let i = 0; i < frames; i++) ref.compute(x, i * c.hopLength, out);
  };
}

function meydaRunner(x: Float32Array): Runner {
  const c = parseFrontendConfig(BENCH_FRONTEND);
  const m = Meyda as unknown as Record<string, unknown> & { extract(f: string, s: Float32Array): unknown };
  m.bufferSize = c.fftSize;
  m.sampleRate = c.sampleRate;
  m.melBands = c.melBands;
  m.numberOfMFCCCoefficients = c.mfcc;
  m.windowingFunction = 'hanning';
  const frames = frameCount(c, x.length);
  return () => {
    for (let i = 0; i < frames; i++) m.extract('mfcc', x.subarray(i * c.hopLength, i * c.hopLength + c.fftSize));
  };
}

/**
 * torchaudio's batch C++ path on the same audio, if Debian's python3-torchaudio is installed
 * (an outside reference, not a requirement): µs per frame, best of 20, one thread.
 */
export function benchTorchaudio(x: Float32Array): number | null {
  const py = '/usr/bin/python3';
  const script = join(ROOT, 'src', 'bench', 'bench_torchaudio.py');
  if (!existsSync(py) || !existsSync(script)) return null;
  const dir = mkdtempSync(join(tmpdir(), 'earshot-bench-'));
  try {
    writeFileSync(join(dir, 'x.f32'), x);
    const r = spawnSync(py, [script, join(dir, 'x.f32')], { encoding: 'utf8', timeout: 120_000 });
    const m = /us_per_frame=([\d.]+)/.exec(r.stdout ?? '');
    return m ? Number(m[1]) : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function benchFrontend(x: Float32Array, opts: { rounds?: number; torch?: boolean } = {}): FrontendBenchRow[] {
  const c = parseFrontendConfig(BENCH_FRONTEND);
  const frames = frameCount(c, x.length);
  const runners: [string, Runner][] = [
    ['f32 SIMD (WASM)', frontendRunner(x, BENCH_FRONTEND, true)],
    ['f32 scalar (WASM)', frontendRunner(x, BENCH_FRONTEND, false)],
    ['Q15 SIMD (WASM)', frontendRunner(x, { ...BENCH_FRONTEND, arithmetic: 'q15' }, true)],
    ['Q15 scalar (WASM)', frontendRunner(x, { ...BENCH_FRONTEND, arithmetic: 'q15' }, false)],
    ['plain TS + fft.js', referenceRunner(x)],
    ['meyda', meydaRunner(x)],
  ];
  const rounds = opts.rounds ?? 7;
  const times = runners.map(() => [] as number[]);
  for (const [, run] of runners) run(); // warm-up: JIT and WASM tier-up
  for (let r = 0; r < rounds; r++) {
    runners.forEach(([, run], i) => {
      const t0 = performance.now();
      run();
      times[i]!.push(performance.now() - t0);
    });
  }
  const audioSec = x.length / c.sampleRate;
  const rows = runners.map(([name], i) => {
    const ms = median(times[i]!);
    return { name, usPerFrame: (ms * 1000) / frames, framesPerSec: frames / (ms / 1000), realTimeFactor: ms / 1000 / audioSec };
  });
  if (opts.torch) {
    const us = benchTorchaudio(x);
    if (us !== null) rows.push({ name: 'torchaudio batch (python, reference)', usPerFrame: us, framesPerSec: 1e6 / us, realTimeFactor: (us * frames) / 1e6 / audioSec });
  }
  return rows;
}

