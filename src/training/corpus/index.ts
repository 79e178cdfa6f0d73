/**
 * Loaders for the acted emotional speech corpora (RAVDESS speech, TESS, EmoDB, emotiontts-kr, nEMO) in their official
 * layouts, `.wav` or `.flac`. Label, speaker and the other factors come from the file names; every
 * corpus maps into one canonical emotion set (see README.md beside this file for the mapping and
 * what is dropped). A file whose name does not fit the corpus's scheme is never skipped in
 * silence: `scanCorpus` lists it under `rejected`, and `loadCorpus` refuses the folder.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { EarshotError } from '../../core/errors.ts';
import { PARSERS } from './parsers.ts';

export type CorpusKind = 'ravdess' | 'tess' | 'emodb' | 'emotiontts-kr' | 'nemo';
export const CORPORA: readonly CorpusKind[] = ['ravdess', 'tess', 'emodb', 'emotiontts-kr', 'nemo'];

import { EMOTIONS, type Emotion } from '../../core/labels.ts';
export { EMOTIONS, type Emotion };

/** The canonical labels each corpus can produce (after mapping and dropping). */
export const CORPUS_LABELS: Record<CorpusKind, readonly Emotion[]> = {
  ravdess: EMOTIONS,
  tess: ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'],
  emodb: ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgust'],
  'emotiontts-kr': ['neutral', 'happy', 'sad', 'angry'],
  nemo: ['neutral', 'happy', 'sad', 'angry', 'fearful', 'surprised'],
};

export interface CorpusItem {
  /** Absolute (or root-joined) path of the audio file. */
  path: string;
  /** File name without extension, unique within a corpus (e.g. 03-01-05-02-01-01-12). */
  name: string;
  corpus: CorpusKind;
  label: Emotion;
  /** Speaker id as the corpus spells it: RAVDESS "01".."24", TESS "OAF"/"YAF", EmoDB "03".."16", emotiontts-kr the folder ("ema", "nea"), nEMO the prefix ("EB0"). */
  speaker: string;
  sex?: 'm' | 'f';
  /** RAVDESS only: emotional intensity. */
  intensity?: 'normal' | 'strong';
  /** The spoken text (RAVDESS sentence, TESS carrier phrase, EmoDB text code). */
  statement?: string;
}

export interface CorpusScan {
  items: CorpusItem[];
  /** Well-formed names whose emotion has no canonical label (EmoDB boredom). */
  dropped: { path: string; reason: string }[];
  /** Audio files whose names do not fit the corpus's scheme. */
  rejected: { path: string; reason: string }[];
  /** Non-audio files found under the root (labels, readme, checksums); listed, not read. */
  ignored: string[];
}

const AUDIO = /\.(wav|flac)$/i;

function walk(dir: string, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new EarshotError('E_AUDIO_IO', `cannot read corpus folder ${dir}: ${(e as Error).message}; check the path`, { cause: e });
  }
  for (const n of names.sort()) {
    if (n.startsWith('.')) continue; // .DS_Store, editor files: never corpus content
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
}

/** Walks `root` and parses every file name; deterministic order (sorted by corpus name). */
export function scanCorpus(kind: CorpusKind, root: string): CorpusScan {
  const parse = PARSERS[kind];
  if (!parse) throw new EarshotError('E_USAGE', `unknown corpus "${kind}": use one of ${CORPORA.join(', ')}`);
  const files: string[] = [];
  walk(root, files);
  const scan: CorpusScan = { items: [], dropped: [], rejected: [], ignored: [] };
  const seen = new Map<string, string>();
  for (const path of files) {
    if (!AUDIO.test(path)) {
      scan.ignored.push(path);
      continue;
    }
    const rel = relative(root, path).split(sep).join('/');
    const r = parse(rel);
    if (r.kind === 'rejected') scan.rejected.push({ path, reason: r.reason });
    else if (r.kind === 'dropped') scan.dropped.push({ path, reason: r.reason });
    else {
      const dup = seen.get(r.item.name);
      if (dup) scan.rejected.push({ path, reason: `same clip name as ${dup} (a .wav and a .flac copy?)` });
      else {
        seen.set(r.item.name, path);
        scan.items.push({ path, ...r.item });
      }
    }
  }
  scan.items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return scan;
}

/**
 * The corpus's usable items, sorted by name. Throws E_CORPUS listing every file whose name does not
 * fit (up to 20 shown) and E_AUDIO_IO when the root holds no audio at all.
 */
export function loadCorpus(kind: CorpusKind, root: string): CorpusItem[] {
  const scan = scanCorpus(kind, root);
  if (scan.rejected.length > 0) {
    const shown = scan.rejected.slice(0, 20).map((r) => `  ${r.path}: ${r.reason}`);
    if (scan.rejected.length > 20) shown.push(`  ... and ${scan.rejected.length - 20} more`);
    throw new EarshotError(
      'E_CORPUS',
      `${scan.rejected.length} file(s) under ${root} do not fit the ${kind} naming scheme:\n${shown.join('\n')}\n` +
        `move or rename them, or point --corpus at the right corpus (${CORPORA.join(', ')})`,
    );
  }
  if (scan.items.length === 0) {
    throw new EarshotError('E_AUDIO_IO', `no ${kind} audio (.wav or .flac) found under ${root}; point at the corpus root folder`);
  }
  return scan.items;
}

/** Items whose speaker is in `speakers` (e.g. RAVDESS actors "01","02"); throws when none match. */
export function filterSpeakers(items: CorpusItem[], speakers: readonly string[]): CorpusItem[] {
  // case-insensitive: --actors oaf or ema name TESS's OAF and emotiontts-kr's ema
  const want = new Set(speakers.map((s) => s.toUpperCase()));
  const out = items.filter((i) => want.has(i.speaker.toUpperCase()));
  if (out.length === 0) {
    const have = [...new Set(items.map((i) => i.speaker))].join(', ');
    throw new EarshotError('E_USAGE', `no clips from speaker(s) ${speakers.join(', ')}; this corpus has ${have}`);
  }
  return out;
}
