/** The feature folders of `earshot train` under --work: clean and noisy copies of a corpus, keyed by frontend config. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadCorpus, type CorpusKind } from './corpus/index.ts';
import { EarshotError } from '../core/errors.ts';
import { featureNames, type FrontendConfig } from '../runtime/frontend/config.ts';
import { addNoise, mulberry32, seedOf } from './augment.ts';
import { decodeAudioFile } from '../runtime/audio/decode.ts';
import { Frontend } from '../runtime/frontend/frontend.ts';
import { resample } from '../runtime/frontend/resampler.ts';
import { writeNpy } from './npy.ts';
import { ProgressBar } from './progress.ts';
import { speechSpans } from '../runtime/vad/speech-spans.ts';
import { DEFAULT_VAD_KIND, parseVadConfig, type VadKind } from '../runtime/vad/config.ts';
import { loadBabblePool, makeNoise, mixAtSnr, type BabblePool } from './noise.ts';
import { runFeatures } from './export-features.ts';
import { RAVDESS_FOLDS } from './folds.ts';

/** A feature folder from an earlier run is reused when it has this frontend, every clip, and each clip's speech spans. */
function featuresReady(dir: string, config: FrontendConfig, clips: number): boolean {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return false;
  const m = JSON.parse(readFileSync(path, 'utf8'));
  return JSON.stringify(m.frontend) === JSON.stringify(config) && m.items.length === clips && m.items.every((i: { speech?: unknown }) => i.speech);
}

/** Features of one corpus under `work` (with each clip's VAD speech spans), keyed by the frontend config; reused when already there. */
export async function ensureFeatures(kind: CorpusKind, root: string, config: FrontendConfig, work: string, quiet: boolean, vad: VadKind = DEFAULT_VAD_KIND): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 10);
  const dir = resolve(work, 'features', `${kind}-${key}${vad === 'energy' ? '' : `-vad${vad}`}`);
  if (featuresReady(dir, config, loadCorpus(kind, root).length)) return dir;
  mkdirSync(dir, { recursive: true });
  const cfgFile = join(dir, 'frontend.json');
  writeFileSync(cfgFile, JSON.stringify(config));
  const r = await runFeatures([root], { out: dir, config: cfgFile, corpus: kind, quiet, vad });
  if (r.failed > 0) throw new EarshotError('E_AUDIO_FORMAT', `${r.failed} clip(s) of ${root} could not be read (listed above); fix or remove them`);
  return dir;
}

/**
 * Noisy copies of a corpus's features (pink noise at `snrDb` below the active speech level), in
 * the manifest format of `earshot features` plus `source` (the clean clip) and `augment`. Training
 * only: earshot_train never scores them and drops the copies of held-out clips.
 */
/**
 * Speakers whose voices may not be in the babble of `speaker`'s noisy copies: the speaker, and every
 * actor outside its fold (for an actor in no fold: every actor in one). A copy of an actor's clip trains every fold model but its own fold's, so
 * babble made only of its fold-mates never puts a held-out voice into training.
 */
export function babbleExclusions(speaker: string, folds: string[][], speakers: readonly string[]): string[] {
  // an actor in no fold trains every fold model: its babble comes from the other actors in no fold
  const mine = folds.find((f) => f.includes(speaker)) ?? speakers.filter((s) => !folds.some((f) => f.includes(s)));
  return speakers.filter((s) => s === speaker || !mine.includes(s));
}

/** The noise kinds of `--noise-type` ("pink", or a list such as "pink,babble": one noisy copy of every clip per kind and SNR). */
export function noiseKinds(spec = 'pink'): ('pink' | 'brown' | 'babble')[] {
  const kinds = spec.split(',').map((k) => k.trim());
  for (const k of kinds) if (k !== 'pink' && k !== 'brown' && k !== 'babble') throw new EarshotError('E_USAGE', `--noise-type "${spec}": each kind is pink, brown or babble (e.g. pink,babble)`);
  if (new Set(kinds).size !== kinds.length) throw new EarshotError('E_USAGE', `--noise-type "${spec}": a kind is given twice`);
  return kinds as ('pink' | 'brown' | 'babble')[];
}

export async function ensureNoisyFeatures(kind: CorpusKind, root: string, config: FrontendConfig, work: string, snrDb: number, quiet: boolean, vad: VadKind = DEFAULT_VAD_KIND, noise: 'pink' | 'brown' | 'babble' = 'pink', folds: string[][] = RAVDESS_FOLDS): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 10);
  const foldKey = noise === 'babble' ? createHash('sha256').update(JSON.stringify(folds)).digest('hex').slice(0, 6) : '';
  const dir = resolve(work, 'features', `${kind}-${key}${vad === 'energy' ? '' : `-vad${vad}`}${noise === 'pink' ? '' : `-${noise}${foldKey}`}-snr${snrDb}`);
  const items = loadCorpus(kind, root);
  // babble: 6 clips of every actor (seeded), each copy's talkers from its own fold (babbleExclusions)
  const speakers = [...new Set(items.map((i) => i.speaker))];
  let pool: BabblePool | undefined;
  if (noise === 'babble') {
    const rng = mulberry32(seedOf('train-babble-pool'));
    const count = new Map<string, number>();
    pool = await loadBabblePool(items.map((i) => [rng(), i] as const).sort((a, b) => a[0] - b[0]).map(([, i]) => i).filter((i) => (count.set(i.speaker, (count.get(i.speaker) ?? 0) + 1).get(i.speaker) ?? 0) <= 6), config.sampleRate);
  }
  const manifestPath = join(dir, 'manifest.json');
  if (featuresReady(dir, config, items.length)) return dir;
  mkdirSync(dir, { recursive: true });
  const frontend = new Frontend(config);
  const vadConfig = parseVadConfig({ kind: vad });
  const progress = quiet ? null : new ProgressBar(items.length, `features +noise ${snrDb} dB`);
  const out = [];
  for (const [i, item] of items.entries()) {
    const audio = await decodeAudioFile(item.path);
    const clean = resample(audio.samples, audio.sampleRate, config.sampleRate);
    // pink keeps its seed, so the shipped recipe's copies reproduce
    const noisy =
      noise === 'pink'
        ? addNoise(clean, snrDb, mulberry32(seedOf(`${item.name}/${snrDb}`)))
        : mixAtSnr(clean, makeNoise(noise, clean.length, mulberry32(seedOf(`${item.name}/${noise}/${snrDb}`)), { pool, excludeSpeakers: babbleExclusions(item.speaker, folds, speakers) }), snrDb);
    const data = frontend.computeAll(noisy);
    const frames = data.length / frontend.dim;
    const name = `${item.name}~snr${snrDb}`;
    await writeNpy(join(dir, `${name}.npy`), data, [frames, frontend.dim]);
    out.push({ ...item, name, source: item.name, augment: `${noise} noise ${snrDb} dB SNR`, frames, speech: speechSpans(noisy, config, vadConfig) });
    progress?.tick(i + 1, item.name);
  }
  writeFileSync(manifestPath, JSON.stringify({ frontend: config, featureNames: featureNames(config), corpus: kind, vad, items: out }, null, 1));
  return dir;
}
