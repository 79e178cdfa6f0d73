/** The training runs of one model: reuse of a finished run, ensemble members as separate runs, their merge. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Tta } from '../runtime/model/metadata.ts';
import type { PythonRunner } from './python.ts';

/**
 * Trains unless `stem` was already trained with exactly these arguments (a finished fold is
 * reused after an interrupted run; it is still re-scored through the runtime). `groups` holds one
 * earshot_train argument list per member recipe (usually one); several are merged into one graph.
 */
export async function trainOnce(runPython: PythonRunner, groups: string[][], stem: string, log: (s: string) => void, recipe = `${stem}.recipe.json`, memberDir = dirname(stem), tta?: Tta): Promise<void> {
  const want = recipeKey(groups);
  if (existsSync(recipe) && existsSync(`${stem}.json`) && readFileSync(recipe, 'utf8') === want) {
    log(`reusing ${stem}.onnx (trained with the same arguments)`);
    setTta(`${stem}.json`, tta);
    return;
  }
  const members = allMembers(groups, stem, memberDir);
  if (members.length) {
    for (const [memberArgs, memberStem] of members) await trainOnce(runPython, [memberArgs], memberStem, log);
    const args = groups[0];
    const report = argValue(args, '--report');
    const weights = argValue(args, '--weights');
    await runPython(['--merge', ...members.map(([, m]) => m), '--out', stem, '--name', argValue(args, '--name') ?? basename(stem), ...(report ? ['--report', report] : []), ...(weights ? ['--weights', weights] : [])]);
  } else {
    await runPython(groups[0]);
  }
  setTta(`${stem}.json`, tta);
  writeFileSync(recipe, want);
}

/** What a recipe file holds: one member recipe's arguments as they are (older runs stay reusable), several as a list. */
export function recipeKey(groups: string[][]): string {
  return JSON.stringify(groups.length === 1 ? groups[0] : groups);
}

/** earshot_train arguments from a --train-args string. */
export function splitArgs(s: string | undefined): string[] {
  return s ? s.split(/\s+/).filter(Boolean) : [];
}

/** Records the recipe's test-time augmentation in a model's metadata (or removes a stale one). */
function setTta(metaPath: string, tta: Tta | undefined): void {
  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  if (JSON.stringify(meta.tta) === JSON.stringify(tta)) return;
  if (tta) meta.tta = tta;
  else delete meta.tta;
  writeFileSync(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
}

function argValue(args: string[], flag: string): string | undefined {
  const i = args.lastIndexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

function withArg(args: string[], flag: string, value: string): string[] {
  const i = args.lastIndexOf(flag);
  return i >= 0 ? args.map((a, k) => (k === i + 1 ? value : a)) : [...args, flag, value];
}

/**
 * The separate runs of a `--ensemble N` run: member K trains alone (`--member K`, its own seed) to
 * MEMBERDIR/BASENAME(STEM).mK, so members can train in parallel (--jobs); trainOnce then merges them
 * into STEM with `earshot_train --merge` (the same graph `--ensemble N` exports in one process). [] for
 * one model.
 */
export function memberRuns(args: string[], stem: string, memberDir = dirname(stem), tag = 'm', single = false): [string[], string][] {
  const n = Number(argValue(args, '--ensemble') ?? 1);
  if ((!(n > 1) && !single) || argValue(args, '--member')) return [];
  return Array.from({ length: n }, (_, k) => {
    const memberStem = join(memberDir, `${basename(stem)}.${tag}${k + 1}`);
    let a = withArg(withArg(args, '--out', memberStem), '--name', `${argValue(args, '--name') ?? basename(stem)}-m${k + 1}`);
    if (argValue(args, '--report')) a = withArg(a, '--report', `${memberStem}.py.json`);
    return [[...a, '--member', String(k + 1)], memberStem];
  });
}

/**
 * The member runs of one model from several member recipes: the first recipe's members are
 * STEM.m1..., the second's STEM.g2m1..., and so on. One recipe: as memberRuns.
 */
export function allMembers(groups: string[][], stem: string, memberDir = dirname(stem)): [string[], string][] {
  if (groups.length === 1) return memberRuns(groups[0], stem, memberDir);
  return groups.flatMap((g, i) => memberRuns(g, stem, memberDir, i === 0 ? 'm' : `g${i + 1}m`, true));
}
