/**
 * "One definition per default" (issue 30 item 2), checked over the TypeScript syntax of src/ (so
 * comments, JSDoc "Default 16000." lines and strings such as `stdin:s16le:16000` never count):
 *
 *  - `x.key ?? <literal>` where `key` names a setting of the daemon's config schema and the literal
 *    is that setting's default: the schema already defaults it, so the module must take the
 *    parsed value (docs STYLE.md item 23);
 *  - the number 16000 (the models' rate, core/constants.ts MODEL_SAMPLE_RATE);
 *  - `frameLength: 400` / `hopLength: 160` (the 16 kHz framing, FRAMING_16K);
 *  - 1e-6 (the variance floor VARIANCE_FLOOR).
 *
 * Each may appear only in its home and in the ALLOWED list below, each entry with its reason.
 * `node --import tsx scripts/literals.ts [SRC_DIR]` prints what it finds (exit 1 if anything).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { CONFIG_LEAVES } from '../src/daemon/config.ts';

export interface LiteralFinding {
  file: string;
  line: number;
  rule: string;
  text: string;
}

/** Files (relative to src/) where a rule's literal is the definition, or a distinct quantity that happens to share the value. */
const ALLOWED: Record<string, Record<string, string>> = {
  'rate 16000': {
    'core/constants.ts': 'the definition (MODEL_SAMPLE_RATE)',
    'runtime/vad/silero.ts': "SILERO_RATE: the rate Silero's network was trained at, fixed by the model whatever ours is",
  },
  'framing 400/160': {
    'core/constants.ts': 'the definition (FRAMING_16K)',
  },
  'floor 1e-6': {
    'core/constants.ts': 'the definition (VARIANCE_FLOOR)',
    'runtime/frontend/config.ts': "logFloor's default: the floor of the mel energies before the log, another quantity",
  },
  'setting ?? literal': {
    'daemon/broker/embedded-broker.ts':
      "startEmbeddedBroker's own host/port for callers without a config (tests, bench); the broker's options are being reworked (broker limits): take embeddedBroker's parsed values then",
  },
};

/** Leaf name of the daemon's config (`stopGraceMs`, `port`, ...) -> the defaults settings of that name have. */
const SETTING_DEFAULTS = new Map<string, unknown[]>();
for (const leaf of CONFIG_LEAVES) {
  const r = leaf.schema.safeParse(undefined);
  if (!r.success || r.data === undefined) continue;
  const name = leaf.path[leaf.path.length - 1];
  SETTING_DEFAULTS.set(name, [...(SETTING_DEFAULTS.get(name) ?? []), r.data]);
}

/** The value of a literal expression (number, string, boolean), or undefined for anything else. */
function literalValue(n: ts.Node): unknown {
  if (ts.isNumericLiteral(n)) return Number(n.text.replace(/_/g, ''));
  if (ts.isPrefixUnaryExpression(n) && n.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(n.operand))
    return -Number(n.operand.text.replace(/_/g, ''));
  if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return n.text;
  if (n.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (n.kind === ts.SyntaxKind.FalseKeyword) return false;
  return undefined;
}

function nameOf(n: ts.Expression): string | undefined {
  if (ts.isPropertyAccessExpression(n)) return n.name.text;
  if (ts.isIdentifier(n)) return n.text;
  return undefined;
}

/** Every finding in one file's text (`file` relative to src/). */
export function scanText(file: string, text: string): LiteralFinding[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: LiteralFinding[] = [];
  const add = (rule: string, node: ts.Node) => {
    if (ALLOWED[rule]?.[file]) return;
    out.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, rule, text: node.getText(sf).slice(0, 120) });
  };
  const visit = (n: ts.Node) => {
    if (ts.isNumericLiteral(n)) {
      const v = Number(n.text.replace(/_/g, ''));
      if (v === 16000) add('rate 16000', n);
      if (v === 1e-6) add('floor 1e-6', n);
    }
    if (ts.isPropertyAssignment(n) && ts.isIdentifier(n.name) && ts.isNumericLiteral(n.initializer)) {
      const v = Number(n.initializer.text);
      if ((n.name.text === 'frameLength' && v === 400) || (n.name.text === 'hopLength' && v === 160)) add('framing 400/160', n);
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken) {
      const name = nameOf(n.left);
      const value = literalValue(n.right);
      if (name !== undefined && value !== undefined && SETTING_DEFAULTS.get(name)?.includes(value)) add('setting ?? literal', n);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Every finding under `srcDir`. */
export function scanLiterals(srcDir: string): LiteralFinding[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : n.endsWith('.ts') && !n.endsWith('.d.ts') ? [p] : [];
    });
  return walk(srcDir).flatMap((p) => scanText(relative(srcDir, p), readFileSync(p, 'utf8')));
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const src = process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), '..', 'src');
  const found = scanLiterals(src);
  for (const f of found) console.log(`src/${f.file}:${f.line}: ${f.rule}: ${f.text}`);
  console.log(`${found.length} repeated literals`);
  process.exit(found.length ? 1 : 0);
}
