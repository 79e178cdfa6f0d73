/**
 * The training features (`earshot features`), computed by the same WASM kernels the daemon runs:
 * OUT/<name>.npy (float32 [frames, features]) per input and OUT/manifest.json (the frontend
 * config, the feature names, and per item its frames and, with a corpus, label and speaker) for
 * earshot_train (training/python).
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CORPORA, loadCorpus, type CorpusItem, type CorpusKind } from './corpus/index.ts';
import { EarshotError, isEarshotError } from '../core/errors.ts';
import { featureNames, parseFrontendConfig, type FrontendConfig } from '../runtime/frontend/config.ts';
import { fileFeatures } from '../runtime/frontend/file-features.ts';
import { Frontend } from '../runtime/frontend/frontend.ts';
import { writeNpy } from './npy.ts';
import { loadModel } from '../runtime/model/metadata.ts';
import { ProgressBar } from './progress.ts';
import { speechSpans, type Span } from '../runtime/vad/speech-spans.ts';
import { DEFAULT_VAD_KIND, parseVadConfig, VAD_KINDS, type VadKind } from '../runtime/vad/config.ts';

const AUDIO_EXT = /\.(wav|flac|aif|aiff|aifc)$/i;

export interface FeaturesOptions {
  out: string;
  config?: string;
  model?: string;
  corpus?: string;
  quiet?: boolean;
  /** also write each item's VAD speech spans (`speech`: [[start, end), ...] frames), as the daemon segments a stream; a string names the VAD kind (default energy) */
  vad?: boolean | string;
}

type ManifestItem = Partial<CorpusItem> & { name: string; path: string; frames: number; speech?: Span[] };

/** --vad: absent -> no spans; bare -> the default kind; a name -> that kind. */
function vadKindOf(v: boolean | string | undefined): VadKind | null {
  if (v === undefined || v === false) return null;
  if (v === true) return DEFAULT_VAD_KIND;
  if (!(VAD_KINDS as readonly string[]).includes(v)) throw new EarshotError('E_USAGE', `--vad ${v}: use one of ${VAD_KINDS.join(', ')}`);
  return v as VadKind;
}

/** Reads a frontend config file (JSON or YAML); a file with a `frontend` key (model metadata) works too. */
export function readFrontendConfigFile(path: string): FrontendConfig {
  let raw: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    raw = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new EarshotError('E_CONFIG', `cannot read frontend config ${path}: ${(e as Error).message}; pass a JSON or YAML file`, { cause: e });
  }
  const obj = raw && typeof raw === 'object' && 'frontend' in raw ? (raw as { frontend: unknown }).frontend : raw;
  return parseFrontendConfig(obj, `frontend config ${path}`);
}

function chooseFrontend(opts: FeaturesOptions): FrontendConfig {
  if (opts.config && opts.model) throw new EarshotError('E_USAGE', 'give either --config or --model, not both');
  if (opts.config) return readFrontendConfigFile(opts.config);
  if (opts.model) return loadModel(opts.model).frontend;
  return parseFrontendConfig({});
}

function listAudio(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new EarshotError('E_AUDIO_IO', `${path}: no such file or folder`);
  }
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((n) => (n.startsWith('.') ? [] : statSync(join(path, n)).isDirectory() ? listAudio(join(path, n)) : AUDIO_EXT.test(n) ? [join(path, n)] : []));
}

function collectItems(paths: string[], corpus?: string): ManifestItem[] {
  if (corpus) {
    if (!CORPORA.includes(corpus as CorpusKind)) throw new EarshotError('E_USAGE', `--corpus ${corpus}: use one of ${CORPORA.join(', ')}`);
    return paths.flatMap((root) => loadCorpus(corpus as CorpusKind, root)).map((i) => ({ ...i, frames: 0 }));
  }
  const items = paths.flatMap(listAudio).map((p) => ({ name: basename(p, extname(p)), path: p, frames: 0 }));
  const byName = new Map<string, string>();
  for (const it of items) {
    const prev = byName.get(it.name);
    if (prev) throw new EarshotError('E_USAGE', `${prev} and ${it.path} would both be written as ${it.name}.npy; rename one or run them into different --out folders`);
    byName.set(it.name, it.path);
  }
  return items;
}

export async function runFeatures(paths: string[], opts: FeaturesOptions): Promise<{ written: number; failed: number }> {
  const config = chooseFrontend(opts);
  const vadKind = vadKindOf(opts.vad);
  const vadConfig = vadKind ? parseVadConfig({ kind: vadKind }) : null;
  const items = collectItems(paths, opts.corpus);
  if (items.length === 0) throw new EarshotError('E_AUDIO_IO', `no audio files (.wav, .flac, .aiff) found in ${paths.join(', ')}`);
  mkdirSync(opts.out, { recursive: true });
  const frontend = new Frontend(config);
  const progress = opts.quiet ? null : new ProgressBar(items.length, 'features');
  const done: ManifestItem[] = [];
  const failures: string[] = [];
  for (const [i, item] of items.entries()) {
    try {
      const f = await fileFeatures(item.path, frontend);
      await writeNpy(join(opts.out, `${item.name}.npy`), f.data, [f.frames, f.dim]);
      done.push({ ...item, path: resolve(item.path), frames: f.frames, ...(vadConfig ? { speech: speechSpans(f.samples, config, vadConfig) } : {}) });
    } catch (e) {
      if (!isEarshotError(e)) throw e;
      failures.push(e.message);
      process.stderr.write(`\nearshot: skipped ${item.path}: ${e.message}\n`);
    }
    progress?.tick(i + 1, item.name);
  }
  const manifest = { frontend: config, featureNames: featureNames(config), corpus: opts.corpus ?? null, ...(vadKind ? { vad: vadKind } : {}), items: done, failed: failures };
  writeFileSync(join(opts.out, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return { written: done.length, failed: failures.length };
}
