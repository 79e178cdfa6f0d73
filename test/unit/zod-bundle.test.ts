// zod without its locales (issue 32, item 3): scripts/bundle-zod.mjs bundles zod into
// dist/vendor/zod.js with English only (every zod entry point loads ~40 locale modules otherwise,
// about 4 MB of private memory) and points the compiled code's `'zod'` imports at it. Checked here:
// the bundle holds no other locale, offers every member of zod's `z`, gives zod's own messages, and
// the built dist/ uses it with the same configuration errors as the sources. The daemon's bundle
// holds only the members of `z` the sources use, as TypeScript's checker finds them.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as zod from 'zod';
// @ts-expect-error plain JavaScript, run by `npm run build`
import { bundleZod, rewriteZodImports, zodMembersUsed } from '../../scripts/bundle-zod.mjs';
import { loadDaemonConfig } from '../../src/daemon/config.ts';
import { ROOT } from '../helpers/paths.ts';

type Zod = typeof zod.z;
const tmp = mkdtempSync(join(tmpdir(), 'earshot-zod-bundle-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const bundleFile = join(tmp, 'vendor', 'zod.js');
const modules: string[] = await bundleZod(bundleFile);
const bundleText = readFileSync(bundleFile, 'utf8');
const bundled = (await import(pathToFileURL(bundleFile).href)) as typeof zod;
const localesDir = join(dirname(createRequire(import.meta.url).resolve('zod/package.json')), 'v4', 'locales');

test('the bundle holds zod with its English messages and no other locale, and imports nothing', () => {
  assert.ok(modules.includes('v4/classic/schemas.js') && modules.includes('v4/core/core.js'), modules.join(', '));
  assert.equal(modules.filter((m) => m.includes('/locales/')), ['v4/locales/en.js'], 'English (the default messages) only');
  // a message of each of two other locales, as zod has it, and not in the bundle
  for (const [locale, text] of [['de', 'Ungültige Eingabe'], ['fr', 'Entrée invalide']]) {
    assert.ok(readFileSync(join(localesDir, `${locale}.js`), 'utf8').includes(text), `zod's ${locale}.js says "${text}"`);
    assert.not.ok(bundleText.includes(text), `no ${locale} message in the bundle`);
  }
  assert.not.match(bundleText, /\bimport\s*[{*(]|\bfrom\s*["']/, 'self-contained: loads no module');
  assert.ok(bundleText.startsWith('/*! zod '), 'carries zod licence notice');
});

test("the bundle's z has every member of zod's z but locales, and z.core every member but locales", () => {
  const without = (o: object) => Object.keys(o).filter((k) => k !== 'locales').sort();
  assert.equal(Object.keys(bundled.z).sort(), without(zod.z));
  assert.equal(Object.keys(bundled.z.core).sort(), without(zod.z.core));
  assert.is(bundled.default, bundled.z, 'the default export is z, as zod has it');
  assert.equal(Object.keys(bundled).sort(), Object.keys(zod).filter((k) => k !== 'locales').sort(), 'the named exports too');
});

/** Schemas of the kinds earshot's configs use, built with either copy of zod, and inputs they reject. */
function cases(z: Zod): [string, { safeParse(v: unknown): { success: boolean; error?: unknown } }, unknown][] {
  const port = z.number().int().min(0).max(65535);
  const obj = z.strictObject({ url: z.string().min(1), port, mode: z.enum(['utterance', 'window']), tags: z.array(z.string()).max(2) });
  return [
    ['types', obj, { url: 5, port: 'x', mode: 'sentence', tags: [1, 2, 3] }],
    ['bounds', obj, { url: '', port: 70000.5, mode: 'window', tags: [] }],
    ['unknown keys and missing', obj, { extra: true }],
    ['union', z.union([z.literal('auto'), z.number().positive()]), -1],
    ['refine', z.object({ lo: z.number(), hi: z.number() }).refine((v) => v.lo < v.hi, { message: 'lo must be < hi', path: ['lo'] }), { lo: 2, hi: 1 }],
    ['formats', z.object({ at: z.iso.datetime(), id: z.uuid(), mail: z.email() }), { at: 'today', id: 'x', mail: 'a@' }],
  ];
}

test("the bundle's error messages are zod's own, byte for byte", () => {
  const ours = cases(bundled.z);
  for (const [name, schema, input] of cases(zod.z)) {
    const want = schema.safeParse(input);
    const got = ours.find(([n]) => n === name)![1].safeParse(input);
    assert.not.ok(want.success, `${name}: zod rejects it`);
    assert.is(JSON.stringify((got.error as zod.ZodError).issues), JSON.stringify((want.error as zod.ZodError).issues), name);
    assert.is(bundled.z.prettifyError(got.error as never), zod.z.prettifyError(want.error as zod.ZodError), name);
  }
});

test('zodMembersUsed finds z.member through the checker: not a local z, not types; z used as a value fails', () => {
  // inside the repository, so 'zod' resolves as it does for the sources
  mkdirSync(join(ROOT, 'build'), { recursive: true }); // not there in a fresh clone
  const dir = mkdtempSync(join(ROOT, 'build', 'zod-members-'));
  try {
    const project = (files: Record<string, string>) => {
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), include: Object.keys(files).map((f) => join(dir, f)), exclude: [] }));
      return join(dir, 'tsconfig.json');
    };
    const good = project({
      'a.ts': "import { z } from 'zod';\nexport const s = z\n  .strictObject({ n: z.number().int(), k: z.enum(['x']) });\nexport type S = z.infer<typeof s>;\n",
      // a class field named z, read as this.z.fill: a text search would take `fill` for a zod member
      'b.ts': "export class Head {\n  z = new Float64Array(3);\n  reset(): void {\n    this.z.fill(0);\n  }\n}\n",
      'c.ts': "import type { z } from 'zod';\nexport type N = z.ZodNumber;\n",
    });
    assert.equal(zodMembersUsed(good), ['enum', 'number', 'strictObject']);
    rmSync(join(dir, 'b.ts'));
    rmSync(join(dir, 'c.ts'));
    const bad = project({ 'a.ts': "import { z } from 'zod';\nconst keep = (x: unknown) => x;\nkeep(z);\nexport const s = z.string();\n" });
    assert.throws(() => zodMembersUsed(bad), /a\.ts:3: z used as a value/);
    const other = project({ 'a.ts': "import { z, ZodError } from 'zod';\nexport const s = z.string();\nexport const E = ZodError;\n" });
    assert.throws(() => zodMembersUsed(other), /only `import \{ z \} from 'zod'` is bundled/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a narrowed bundle's z has exactly its members and gives zod's own messages; dist's has the sources' members", async () => {
  const members = ['array', 'email', 'enum', 'iso', 'literal', 'number', 'object', 'strictObject', 'string', 'union', 'uuid'];
  const file = join(tmp, 'narrow', 'zod.js');
  await bundleZod(file, members);
  const narrow = (await import(pathToFileURL(file).href)) as { z: Zod };
  assert.equal(Object.keys(narrow.z).sort(), members);
  assert.ok(readFileSync(file).length < bundleText.length * 0.7, 'smaller than the whole z');
  const ours = cases(narrow.z);
  for (const [name, schema, input] of cases(zod.z)) {
    const want = schema.safeParse(input);
    const got = ours.find(([n]) => n === name)![1].safeParse(input);
    assert.is(JSON.stringify((got.error as zod.ZodError).issues), JSON.stringify((want.error as zod.ZodError).issues), name);
  }
  const unknown = await bundleZod(join(tmp, 'bad.js'), ['string', 'nosuchmember']).then(() => 'built', (e: Error) => e.message);
  assert.match(unknown, 'z.nosuchmember is not a member of zod');
  const dist = (await import(pathToFileURL(join(ROOT, 'dist', 'vendor', 'zod.js')).href)) as { z: object };
  assert.equal(Object.keys(dist.z).sort(), zodMembersUsed(join(ROOT, 'tsconfig.build.json')), 'dist/vendor/zod.js holds what the sources use: run `npm run build`');
});

test("rewriteZodImports points `from 'zod'` at the bundle by a relative path, at any depth, and nothing else", () => {
  const dist = join(tmp, 'dist');
  const files: Record<string, string> = {
    'cli.js': "import {\n  z,\n} from 'zod';\nexport const s = z.string();\n",
    'daemon/broker/limits.js': "import { z } from 'zod';\nimport { x } from 'zod-extra';\nconst t = \"from 'zod'\";\n",
    'core/other.js': "import { join } from 'node:path';\n",
  };
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dist, p)), { recursive: true });
    writeFileSync(join(dist, p), text);
  }
  const changed: string[] = rewriteZodImports(dist, join(dist, 'vendor', 'zod.js'));
  assert.equal(changed.map((p) => p.slice(dist.length + 1)).sort(), ['cli.js', 'daemon/broker/limits.js']);
  assert.is(readFileSync(join(dist, 'cli.js'), 'utf8'), "import {\n  z,\n} from './vendor/zod.js';\nexport const s = z.string();\n", 'an import over several lines');
  assert.is(readFileSync(join(dist, 'daemon/broker/limits.js'), 'utf8'), "import { z } from '../../vendor/zod.js';\nimport { x } from 'zod-extra';\nconst t = \"from 'zod'\";\n", 'statements only');
  assert.is(readFileSync(join(dist, 'core/other.js'), 'utf8'), files['core/other.js']);
});

/** every .js file under dir */
const jsFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));

test("the built dist/ (npm run build) imports the bundle, not 'zod', and gives the sources' configuration errors", async () => {
  const dist = join(ROOT, 'dist');
  assert.ok(existsSync(join(dist, 'vendor', 'zod.js')), 'dist/vendor/zod.js: run `npm run build`');
  const bare = jsFiles(dist).filter((f) => /\bfrom\s*['"]zod['"]/.test(readFileSync(f, 'utf8')));
  assert.equal(bare, [], "no compiled module imports 'zod' itself (`npm run build` bundles it; `tsc` alone does not)");
  const built = (await import(pathToFileURL(join(dist, 'daemon', 'config.js')).href)) as { loadDaemonConfig: typeof loadDaemonConfig };
  const message = (load: typeof loadDaemonConfig, yaml: string, env: NodeJS.ProcessEnv = {}) => {
    try {
      load({ flags: { config: '/c.yaml' }, env, readFile: () => yaml });
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  const bad: [string, NodeJS.ProcessEnv?][] = [
    ['modelThreads: -3\ncapture:\n  sampleRate: 12.5\n  chunkMs: abc\n  sourc: portaudio\npipeline:\n  mode: sentence\n  vad:\n    kind: magic\n'],
    ['mqtt:\n  url: 12\n  qos: 7\nhttp:\n  port: 70000\nmodel: null\n'],
    ['privacy:\n  listeningAtStart: maybe\nmetrics:\n  intervalSec: 0\nlog:\n  level: loud\n'],
    ['{}', { EARSHOT_HTTP_PORT: 'x', EARSHOT_MQTT_URL: '' }],
  ];
  for (const [yaml, env] of bad) {
    const want = message(loadDaemonConfig, yaml, env);
    assert.match(want, /: (Invalid|Too (big|small))/, 'zod wrote it');
    assert.is(message(built.loadDaemonConfig, yaml, env), want);
  }
});

test.run();
