/**
 * `npm run fuzz -- [--seconds N] [--inputs N] [--seed S] [--model NAME] [--out DIR] [--max-rss-mb M]`:
 * a seeded mutation fuzzer for decode -> analyze. Seeds are real clips (the bundled FLAC, and WAV
 * 16/24-bit, float WAV and AIFF made from it with sox, plus the two FLAC decoder traps in
 * test/fixtures/fuzz); each input is one seed with 1 to 4 mutations of its header or its
 * frames (bit flips, bytes set to 0x00/0xff, size fields set to extremes, truncation, a region
 * duplicated or deleted, random bytes inserted). A worker thread (./fuzz-worker.ts) decodes and
 * analyses each input under a hang watchdog (--hang-ms, default 20000) and a heap cap
 * (resourceLimits); the whole process's RSS is sampled against --max-rss-mb. Anything but `ok` or a
 * coded EarshotError (an exception, a hang, a worker crash, the memory cap) is a failure: the input
 * is saved under --out with the reason, and the exit status is 1. The same seed gives the same inputs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
// in this thread, before any worker loads a model: a worker cannot turn ONNX Runtime's telemetry off itself
import '../core/ort-env.ts';
import { DEMO_CLIP, ROOT } from '../core/paths.ts';
import type { FuzzReply } from './fuzz-worker.ts';
import { mulberry32 } from '../core/random.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    inputs: { type: 'string' },
    seed: { type: 'string', default: '1' },
    model: { type: 'string', default: join(ROOT, 'test/fixtures/models/tiny-lstm.json') },
    out: { type: 'string', default: join(ROOT, 'build/fuzz') },
    'hang-ms': { type: 'string', default: '20000' },
    'max-rss-mb': { type: 'string', default: '300' },
  },
});
const seconds = Number(args.seconds);
const maxInputs = args.inputs ? Number(args.inputs) : Infinity;
const hangMs = Number(args['hang-ms']);
const maxRss = Number(args['max-rss-mb']) * 2 ** 20;

const rand = mulberry32(Number(args.seed));
const int = (n: number) => Math.floor(rand() * n);

const work = mkdtempSync(join(tmpdir(), 'earshot-fuzz-'));
process.once('exit', () => rmSync(work, { recursive: true, force: true }));

function seeds(): { name: string; ext: string; bytes: Uint8Array }[] {
  const out: { name: string; ext: string; bytes: Uint8Array }[] = [];
  const clip = join(work, 'clip.flac');
  const sox = (a: string[]) => spawnSync('sox', a).status === 0;
  if (!sox([DEMO_CLIP, clip, 'trim', '0', '1.2'])) throw new Error('fuzz: sox is needed to make the seed clips (apt-get install sox)');
  out.push({ name: 'flac16', ext: 'flac', bytes: readFileSync(clip) });
  const variants: [string, string, string[]][] = [['wav16', 'wav', ['-b', '16']], ['wav24', 'wav', ['-b', '24']], ['wavf32', 'wav', ['-e', 'floating-point', '-b', '32']], ['stereo-wav', 'wav', ['-c', '2']], ['aiff16', 'aiff', ['-b', '16']], ['flac24-44k', 'flac', ['-b', '24', '-r', '44100']]];
  for (const [name, ext, opts] of variants) {
    const p = join(work, `${name}.${ext}`);
    if (sox([clip, ...opts, p])) out.push({ name, ext, bytes: readFileSync(p) });
  }
  const traps = join(ROOT, 'test', 'fixtures', 'fuzz');
  for (const f of ['flac-trap-decode.flac', 'flac-trap-free.flac']) if (existsSync(join(traps, f))) out.push({ name: f, ext: 'flac', bytes: readFileSync(join(traps, f)) });
  return out;
}

/** One to four mutations, most of them in the first 256 bytes (the headers), the rest anywhere (the frames). */
function mutate(src: Uint8Array): { bytes: Uint8Array; how: string[] } {
  let b = Uint8Array.from(src);
  const how: string[] = [];
  const at = (headerBias: boolean) => (headerBias && rand() < 0.6 ? int(Math.min(256, b.length)) : int(b.length));
  for (let k = 1 + int(4); k > 0 && b.length > 0; k--) {
    switch (int(7)) {
      case 0: { const i = at(true); b[i] ^= 1 << int(8); how.push(`flip@${i}`); break; }
      case 1: { const i = at(true); b[i] = rand() < 0.5 ? 0 : 0xff; how.push(`set@${i}`); break; }
      case 2: { // a 16/32-bit size or rate field set to an extreme
        const i = at(true);
        const v = [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, int(2 ** 32)][int(6)]!;
        new DataView(b.buffer).setUint32(Math.min(i, b.length - 4), v, rand() < 0.5);
        how.push(`u32@${i}=${v}`);
        break;
      }
      case 3: { const n = int(b.length); b = b.slice(0, n); how.push(`truncate@${n}`); break; }
      case 4: { const i = at(false); const n = 1 + int(Math.min(4096, b.length - i)); const c = new Uint8Array(b.length + n); c.set(b.subarray(0, i + n)); c.set(b.subarray(i), i + n); b = c; how.push(`dup@${i}+${n}`); break; }
      case 5: { const i = at(false); const n = 1 + int(Math.min(4096, b.length - i)); b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + n)]); how.push(`del@${i}+${n}`); break; }
      default: { const i = at(false); const n = 1 + int(64); const r = Uint8Array.from({ length: n }, () => int(256)); b = Uint8Array.from([...b.subarray(0, i), ...r, ...b.subarray(i)]); how.push(`ins@${i}+${n}`); }
    }
  }
  return { bytes: b, how };
}

interface Stats { inputs: number; ok: number; coded: Record<string, number>; exceptions: number; hangs: number; crashes: number; memory: number; peakRssMb: number; seconds: number; saved: string[] }
const stats: Stats = { inputs: 0, ok: 0, coded: {}, exceptions: 0, hangs: 0, crashes: 0, memory: 0, peakRssMb: 0, seconds: 0, saved: [] };

function save(kind: string, n: number, ext: string, bytes: Uint8Array, detail: string): void {
  mkdirSync(args.out!, { recursive: true });
  const base = join(args.out!, `seed${args.seed}-${n}-${kind}`);
  writeFileSync(`${base}.${ext}`, bytes);
  writeFileSync(`${base}.txt`, `${detail}\n`);
  stats.saved.push(`${base}.${ext}`);
  process.stderr.write(`fuzz: input ${n}: ${kind}, saved as ${base}.${ext}\n${detail.split('\n').slice(0, 3).join('\n')}\n`);
}

function startWorker(): Promise<Worker> {
  const dir = mkdtempSync(join(work, 'w-'));
  // a worker does not inherit tsx's loader hooks (Node 20): register them, then load the TypeScript worker
  const entry = new URL('./fuzz-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  const w = new Worker(boot, { eval: true, workerData: { model: args.model, dir }, resourceLimits: { maxOldGenerationSizeMb: 192, maxYoungGenerationSizeMb: 16 } });
  return new Promise((resolve, reject) => {
    w.once('message', () => resolve(w));
    w.once('error', reject);
  });
}

/** Runs one input: the reply, or the reason the worker had to go (then it is replaced). */
function runOne(w: Worker, n: number, ext: string, bytes: Uint8Array): Promise<FuzzReply | { n: number; outcome: 'hang' | 'crash' | 'memory'; message: string }> {
  return new Promise((resolve) => {
    let rssTimer: NodeJS.Timeout | undefined;
    const done = (r: Parameters<typeof resolve>[0]) => {
      clearTimeout(timer);
      clearInterval(rssTimer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      resolve(r);
    };
    const onMessage = (r: FuzzReply) => done(r);
    const onError = (e: Error) => done({ n, outcome: (e as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash', message: e.stack ?? String(e) });
    const onExit = (code: number) => done({ n, outcome: 'crash', message: `worker exited with ${code}` });
    const timer = setTimeout(() => done({ n, outcome: 'hang', message: `no answer in ${hangMs} ms` }), hangMs);
    rssTimer = setInterval(() => {
      const rss = process.memoryUsage.rss();
      stats.peakRssMb = Math.max(stats.peakRssMb, rss / 2 ** 20);
      if (rss > maxRss) done({ n, outcome: 'memory', message: `RSS ${(rss / 2 ** 20).toFixed(0)} MB > --max-rss-mb` });
    }, 20);
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
    w.postMessage({ n, ext, bytes });
  });
}

const corpus = seeds();
const t0 = Date.now();
let worker = await startWorker();
for (let n = 0; n < maxInputs && (Date.now() - t0) / 1000 < seconds; n++) {
  const seed = corpus[int(corpus.length)]!;
  const { bytes, how } = mutate(seed.bytes);
  const r = await runOne(worker, n, seed.ext, bytes);
  stats.inputs++;
  stats.peakRssMb = Math.max(stats.peakRssMb, process.memoryUsage.rss() / 2 ** 20);
  if (r.outcome === 'ok') stats.ok++;
  else if (r.outcome === 'coded') stats.coded[r.code] = (stats.coded[r.code] ?? 0) + 1;
  else {
    const kind = r.outcome === 'exception' ? 'exceptions' : r.outcome === 'hang' ? 'hangs' : r.outcome === 'memory' ? 'memory' : 'crashes';
    stats[kind]++;
    save(r.outcome, n, seed.ext, bytes, `seed clip ${seed.name}; mutations ${how.join(' ')}\n${r.message}`);
    if (r.outcome !== 'exception') {
      await worker.terminate();
      worker = await startWorker();
    }
  }
}
await worker.terminate();
stats.seconds = Math.round((Date.now() - t0) / 100) / 10;
stats.peakRssMb = Math.round(stats.peakRssMb);
process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
process.exitCode = stats.exceptions + stats.hangs + stats.crashes + stats.memory > 0 ? 1 : 0;
