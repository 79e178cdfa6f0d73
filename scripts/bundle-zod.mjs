// Bundles zod without its locales into dist/vendor/zod.js and points the compiled code's `'zod'`
// imports at it (run by `npm run build` after tsc; the TypeScript sources keep `from 'zod'`, so
// tsx, the tests and the type check see the package itself).
//
// Why: every entry point of zod 4 (`zod`, `zod/mini`, `zod/v4/core`) has
// `export * as locales from "../locales/index.js"`, so importing it loads all of zod's ~60 locale
// modules for messages the daemon never shows (2.6 MB of private memory in a bare Node 20, about
// 1.3 MB in the daemon: docs/experiments/2026-12-07-crowds-and-cost.md, "Memory: zod's locales"). Node 20 has no synchronous resolve hook to drop them at
// run time, so they are dropped here: the entry below re-exports every export of zod's `z`
// namespace except `locales` (and `core` without its `locales`), and esbuild leaves out the
// modules nothing imports (zod's package.json marks all but compile.js free of side effects).
// The English locale stays: zod's schemas.js imports it to configure its default messages, so
// every error text is zod's own.
//
// The daemon's bundle is narrower still: its `z` holds only the members the sources use (13 of
// about 300: z.object, z.number, ...), found by TypeScript's checker (zodMembersUsed: every
// `z.member` whose `z` is the import from 'zod'; one module has a class field of its own named
// `z`, which a text search would take for zod's), so esbuild leaves out the schema kinds and
// checks nobody builds: 292 → 141 kB, about 1 MB less private memory (issue 32, item 3).
//
// Usage: node scripts/bundle-zod.mjs [distDir [tsconfig]]   (default: dist tsconfig.build.json)
import { build } from 'esbuild';
import ts from 'typescript';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const zodDir = dirname(require.resolve('zod/package.json'));
const zodVersion = JSON.parse(readFileSync(join(zodDir, 'package.json'), 'utf8')).version;
/** the modules the namespaces come from: `z` is classic/external.js, `z.core` is core/index.js */
const CLASSIC = join(zodDir, 'v4', 'classic', 'external.js');
const CORE = join(zodDir, 'v4', 'core', 'index.js');

/**
 * The source of the bundle's entry: `z` and its members as zod exports them, less `locales`; with
 * `members`, a `z` of those members only (and no other export).
 */
async function entrySources(members) {
  const names = async (file, drop) => Object.keys(await import(pathToFileURL(file).href)).filter((n) => !drop.includes(n));
  const list = (ns) => ns.map((n) => `  ${n},`).join('\n');
  if (members) {
    const known = await names(CLASSIC, []);
    const unknown = members.filter((m) => !known.includes(m));
    if (unknown.length) throw new Error(`bundle-zod: z.${unknown.join(', z.')} is not a member of zod ${zodVersion}'s z`);
    // `enum` is a reserved word: every member is imported under an alias
    const imports = members.map((m, i) => `  ${m} as m${i},`).join('\n');
    const fields = members.map((m, i) => `  ${JSON.stringify(m)}: m${i},`).join('\n');
    return { entry: `import {\n${imports}\n} from ${JSON.stringify(CLASSIC)};\nexport const z = Object.freeze({\n${fields}\n});\n` };
  }
  return {
    // `z.core` is a namespace too, and core/index.js has its own `export * as locales`
    'zod-core': `export {\n${list(await names(CORE, ['locales']))}\n} from ${JSON.stringify(CORE)};\n`,
    'zod-z': `export {\n${list(await names(CLASSIC, ['locales', 'core']))}\n} from ${JSON.stringify(CLASSIC)};\nexport * as core from 'zod-core';\n`,
    // as zod's index.js: the members, and the namespace as `z` and as the default export
    entry: `import * as z from 'zod-z';\nexport * from 'zod-z';\nexport { z, z as default };\n`,
  };
}

/**
 * Writes the locale-free bundle to `outFile`. Returns the zod modules in it (paths relative to
 * zod's folder, e.g. `v4/locales/en.js`), from esbuild's metafile.
 */
export async function bundleZod(outFile, members) {
  const sources = await entrySources(members);
  const result = await build({
    entryPoints: ['entry'],
    outfile: outFile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    metafile: true,
    // without zod's comments and blank space: 0.7 MB less private memory than the plain bundle
    // (V8 keeps every module's source text); names are kept, so stack traces still read
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'inline',
    logLevel: 'warning',
    banner: { js: `/*! zod ${zodVersion} (MIT License, Copyright (c) 2025 Colin McDonnell), without its locales: built by scripts/bundle-zod.mjs */` },
    plugins: [
      {
        name: 'zod-entry',
        setup(b) {
          b.onResolve({ filter: /^(entry|zod-z|zod-core)$/ }, (a) => ({ path: a.path, namespace: 'zod-entry' }));
          b.onLoad({ filter: /.*/, namespace: 'zod-entry' }, (a) => ({ contents: sources[a.path], loader: 'js', resolveDir: zodDir }));
        },
      },
    ],
  });
  // the inputs esbuild visited include the locales it then shook out: count what reached the output
  const [output] = Object.values(result.metafile.outputs);
  return Object.entries(output.inputs)
    .filter(([p, i]) => i.bytesInOutput > 0 && !p.startsWith('zod-entry:'))
    .map(([p]) => relative(zodDir, resolve(p)).split(sep).join('/'));
}

/**
 * The members of zod's `z` that the program of `tsconfigPath` uses, sorted: every `z.member`
 * expression whose `z` resolves to `import { z } from 'zod'`. Type positions (`z.infer<...>`)
 * compile away and do not count. Any other use of the import (`z` passed or stored as a value, a
 * default or namespace import of 'zod', another named import) throws: the narrowed bundle would not
 * hold what it needs.
 */
export function zodMembersUsed(tsconfigPath) {
  const read = ts.readConfigFile(tsconfigPath, ts.sys.readFile);
  if (read.error) throw new Error(`bundle-zod: ${ts.flattenDiagnosticMessageText(read.error.messageText, '\n')}`);
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(resolve(tsconfigPath)));
  if (parsed.errors.length) throw new Error(`bundle-zod: ${tsconfigPath}: ${parsed.errors.map((e) => ts.flattenDiagnosticMessageText(e.messageText, ' ')).join('; ')}`);
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  const checker = program.getTypeChecker();
  const members = new Set();
  const problems = [];
  const where = (node) => {
    const sf = node.getSourceFile();
    return `${relative(process.cwd(), sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  };
  for (const sf of program.getSourceFiles()) {
    if (sf.isDeclarationFile || !parsed.fileNames.includes(sf.fileName)) continue;
    /** the local symbols bound to zod's z in this file */
    const zs = new Set();
    for (const st of sf.statements) {
      if (!ts.isImportDeclaration(st) || st.moduleSpecifier.text !== 'zod') continue;
      const clause = st.importClause;
      if (!clause || clause.isTypeOnly) continue;
      const named = clause.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : [];
      if (clause.name || !named.length || named.some((e) => (e.propertyName ?? e.name).text !== 'z' && !e.isTypeOnly)) problems.push(`${where(st)}: only \`import { z } from 'zod'\` is bundled`);
      for (const e of named) if ((e.propertyName ?? e.name).text === 'z' && !e.isTypeOnly) zs.add(checker.getSymbolAtLocation(e.name));
    }
    if (!zs.size) continue;
    const visit = (node) => {
      if (ts.isIdentifier(node) && zs.has(checker.getSymbolAtLocation(node))) {
        const parent = node.parent;
        if (ts.isPropertyAccessExpression(parent) && parent.expression === node) members.add(parent.name.text);
        else if (!ts.isImportSpecifier(parent) && !ts.isQualifiedName(parent) && !ts.isTypeQueryNode(parent)) problems.push(`${where(node)}: z used as a value, not as z.member`);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  if (problems.length) throw new Error(`bundle-zod: the narrowed bundle cannot serve\n  ${problems.join('\n  ')}`);
  return [...members].sort();
}

/** A compiled `import ... from 'zod'` or `export ... from 'zod'` statement (tsc starts each on its own line and keeps the source's single quotes). */
const ZOD_IMPORT = /^((?:import|export)\s[^;]*?\sfrom\s*)'zod'/gm;

/** Points every `from 'zod'` of the .js files under `distDir` at `vendorFile`. Returns the files changed. */
export function rewriteZodImports(distDir, vendorFile) {
  const changed = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js') && p !== vendorFile) {
        const text = readFileSync(p, 'utf8');
        let spec = relative(dirname(p), vendorFile).split(sep).join('/');
        if (!spec.startsWith('.')) spec = `./${spec}`;
        const next = text.replace(ZOD_IMPORT, (_, from) => `${from}'${spec}'`);
        if (next !== text) {
          writeFileSync(p, next);
          changed.push(p);
        }
      }
    }
  };
  walk(distDir);
  return changed;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dist = resolve(process.argv[2] ?? 'dist');
  const vendorFile = join(dist, 'vendor', 'zod.js');
  const members = zodMembersUsed(process.argv[3] ?? 'tsconfig.build.json');
  const modules = await bundleZod(vendorFile, members);
  const locales = modules.filter((m) => m.includes('/locales/'));
  // zod's English messages and nothing else: another locale here means the tree-shaking failed
  if (locales.some((m) => !m.endsWith('/locales/en.js'))) {
    console.error(`bundle-zod: locales in ${vendorFile}: ${locales.join(', ')}`);
    process.exit(1);
  }
  const changed = rewriteZodImports(dist, vendorFile);
  console.log(`bundle-zod: ${relative(process.cwd(), vendorFile)} (zod ${zodVersion}, z.${members.join(', z.')}; ${modules.length} modules, locales: ${locales.join(', ')}); ${changed.length} files import it`);
}
