/**
 * Import cycles among the TypeScript of src/, scripts/ and test/ (what eslint-plugin-import's
 * no-cycle checks, without resolving every import a second time): the strongly connected
 * components (Tarjan) of the graph of relative value imports. Type-only imports (`import type`,
 * `import { type X }` only) are left out: they are erased at run time, so they cannot leave a
 * module half-initialised. The layering rule (import-graph.ts) already forbids cycles between
 * layers; this finds them inside one. test/e2e/lint.test.ts runs it.
 * `node --import tsx scripts/import-cycles.ts` prints the cycles (exit 1 if any).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { sourceFiles } from './import-graph.ts';

/** Relative value imports and re-exports of one file's text. */
export function valueImports(text: string): string[] {
  const sf = ts.createSourceFile('x.ts', text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const out: string[] = [];
  for (const s of sf.statements) {
    if (ts.isImportDeclaration(s) && ts.isStringLiteral(s.moduleSpecifier)) {
      const c = s.importClause;
      const typeOnly =
        c !== undefined &&
        (c.isTypeOnly ||
          (!c.name &&
            c.namedBindings !== undefined &&
            ts.isNamedImports(c.namedBindings) &&
            c.namedBindings.elements.length > 0 &&
            c.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) out.push(s.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(s) && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier) && !s.isTypeOnly) {
      out.push(s.moduleSpecifier.text);
    }
  }
  return out.filter((m) => m.startsWith('.'));
}

/** Each cycle as the files in it (relative to `root`), sorted; none when the graph is acyclic. */
export function importCycles(root: string, tops: readonly string[] = ['src', 'scripts', 'test']): string[][] {
  const files = tops.flatMap((top) =>
    sourceFiles(join(root, top))
      .filter((f) => !f.path.split('/').includes('fixtures'))
      .map((f) => join(top, f.path)),
  );
  const known = new Set(files);
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(join(root, f), 'utf8');
    edges.set(
      f,
      valueImports(text)
        .map((m) => relative(root, resolve(root, dirname(f), m)))
        .filter((t) => known.has(t)),
    );
  }
  // Tarjan's strongly connected components, iterative (no recursion limit on long chains)
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  for (const start of files) {
    if (idx.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length) {
      const top = work[work.length - 1];
      const [v, i] = top;
      if (i === 0) {
        idx.set(v, index);
        low.set(v, index++);
        stack.push(v);
        onStack.add(v);
      }
      const next = edges.get(v)!;
      if (i < next.length) {
        top[1]++;
        const w = next[i];
        if (!idx.has(w)) work.push([w, 0]);
        else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) low.set(work[work.length - 1][0], Math.min(low.get(work[work.length - 1][0])!, low.get(v)!));
      if (low.get(v) === idx.get(v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1 || edges.get(v)!.includes(v)) cycles.push(scc.sort());
      }
    }
  }
  return cycles;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const cycles = importCycles(resolve(dirname(new URL(import.meta.url).pathname), '..'));
  for (const c of cycles) console.log(`cycle: ${c.join(' <-> ')}`);
  console.log(`${cycles.length} import cycles`);
  process.exit(cycles.length ? 1 : 0);
}
