/**
 * The layering rule of src/, checked over the TypeScript imports (typescript's own pre-processor,
 * so comments and strings never count). Dependencies follow the data flow:
 *
 *   core                      imports nothing of earshot
 *   runtime/<stage>           core, itself, and the runtime stages before it, in the order
 *                             audio < capture < frontend < vad < model < pipeline < publish
 *   daemon                    core, runtime, daemon
 *   training                  core, runtime, training
 *   bench                     core, runtime, daemon, bench
 *   commands                  anything but cli.ts
 *   cli.ts                    core, commands
 *
 * Outside src/ only the kernels' typings that asc generates (dist/wasm/NAME.d.ts) may be imported.
 * So what runs on the device (runtime, daemon) never loads training, bench or CLI code.
 *
 * The folders around src/ follow the same direction (`repoViolations`): src/ imports none of them;
 *   scripts/       src/ and scripts/
 *   experiments/   src/, scripts/ and experiments/ (studies read the product, never the reverse)
 *   test/          src/, scripts/ and test/ (never experiments/: a study may be deleted)
 * Run `node --import tsx scripts/import-graph.ts` to print the violations of the checkout.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

export const RUNTIME_STAGES = ['audio', 'capture', 'frontend', 'vad', 'model', 'pipeline', 'publish'] as const;

/** The layer of a path relative to src/: `core`, `runtime/<stage>`, `daemon`, ..., `cli`, or `?`. */
export function layerOf(path: string): string {
  const parts = path.split(/[\\/]/);
  if (parts.length === 1) return parts[0] === 'cli.ts' ? 'cli' : '?';
  if (parts[0] === 'runtime') return (RUNTIME_STAGES as readonly string[]).includes(parts[1]) ? `runtime/${parts[1]}` : '?';
  return ['core', 'daemon', 'training', 'bench', 'commands'].includes(parts[0]) ? parts[0] : '?';
}

/** Whether a module in layer `from` may import one in layer `to`. */
export function mayImport(from: string, to: string): boolean {
  if (from === '?' || to === '?') return false;
  if (from === to || to === 'core') return true;
  if (from.startsWith('runtime/') && to.startsWith('runtime/')) {
    const stage = (l: string) => RUNTIME_STAGES.indexOf(l.slice('runtime/'.length) as (typeof RUNTIME_STAGES)[number]);
    return stage(to) < stage(from);
  }
  const runtime = to.startsWith('runtime/');
  switch (from) {
    case 'daemon':
    case 'training':
      return runtime;
    case 'bench':
      return runtime || to === 'daemon';
    case 'commands':
      return to !== 'cli';
    case 'cli':
      return to === 'commands';
    default:
      return false;
  }
}

export interface Violation {
  file: string;
  imports: string;
  rule: string;
}

/** Checks every import of `files` (paths relative to `srcDir`, with their text). */
export function violations(srcDir: string, files: { path: string; text: string }[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const from = layerOf(f.path);
    for (const ref of ts.preProcessFile(f.text, true, true).importedFiles) {
      if (!ref.fileName.startsWith('.')) continue; // packages and node: builtins
      const target = relative(srcDir, resolve(srcDir, dirname(f.path), ref.fileName));
      if (target.startsWith(`..${sep}dist${sep}wasm${sep}`)) continue; // the kernels' generated typings
      const to = target.startsWith('..') ? 'outside src' : layerOf(target);
      if (to === 'outside src' || !mayImport(from, to)) {
        out.push({ file: f.path, imports: target.split(sep).join('/'), rule: `${from} may not import ${to}` });
      }
    }
  }
  return out;
}

/** Every .ts file under `srcDir`, relative to it, with its text. */
export function sourceFiles(srcDir: string): { path: string; text: string }[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : n.endsWith('.ts') ? [p] : [];
    });
  return walk(srcDir).map((p) => ({ path: relative(srcDir, p), text: readFileSync(p, 'utf8') }));
}

/** The folders outside src/ that hold TypeScript, and what each may import besides src/. */
const OUTER: Record<string, string[]> = {
  scripts: ['scripts'],
  experiments: ['experiments', 'scripts'],
  test: ['test', 'scripts'],
};

/** The layer of a path relative to the repository root: `src:<layer>`, an outer folder, or `?`. */
export function repoLayerOf(path: string): string {
  const [top, ...rest] = path.split(/[\\/]/);
  if (top === 'src') return `src:${layerOf(rest.join('/'))}`;
  return top in OUTER && rest.length > 0 ? top : '?';
}

/** Whether a module in repository layer `from` may import one in `to` (src's own rule inside src/). */
export function mayImportRepo(from: string, to: string): boolean {
  if (from === '?' || to === '?') return false;
  if (from.startsWith('src:')) return to.startsWith('src:') && mayImport(from.slice(4), to.slice(4));
  return to.startsWith('src:') ? to !== 'src:?' : OUTER[from].includes(to);
}

/** Every import of every .ts file in src/, scripts/, experiments/ and test/ (fixtures skipped) against the rules above. */
export function repoViolations(root: string): Violation[] {
  const files = Object.keys({ src: 1, ...OUTER }).flatMap((top) =>
    sourceFiles(join(root, top))
      .filter((f) => !f.path.split(sep).includes('fixtures'))
      .map((f) => ({ path: join(top, f.path), text: f.text })),
  );
  const out: Violation[] = [];
  for (const f of files) {
    const from = repoLayerOf(f.path);
    for (const ref of ts.preProcessFile(f.text, true, true).importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(f.path), ref.fileName));
      if (target.startsWith(`dist${sep}wasm${sep}`)) continue; // the kernels' generated typings
      const to = target.startsWith('..') ? '?' : repoLayerOf(target);
      if (!mayImportRepo(from, to)) out.push({ file: f.path, imports: target.split(sep).join('/'), rule: `${from} may not import ${to === '?' ? target : to}` });
    }
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
  const v = repoViolations(root);
  for (const x of v) console.log(`${x.file} -> ${x.imports}: ${x.rule}`);
  console.log(`${v.length} layering violations`);
  process.exit(v.length ? 1 : 0);
}
