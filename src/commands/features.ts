/**
 * `earshot features PATH... --out DIR`: the training features, computed by the same WASM kernels
 * the daemon runs. Writes DIR/<name>.npy (float32 [frames, features]) per input and
 * DIR/manifest.json (the frontend config, the feature names, and per item its frames and, with
 * --corpus, label and speaker) for earshot_train (training/python); the work is
 * src/training/export-features.ts.
 */
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { CORPORA } from '../training/corpus/index.ts';
import { runFeatures, type FeaturesOptions } from '../training/export-features.ts';
import { DEFAULT_VAD_KIND, VAD_KINDS } from '../runtime/vad/config.ts';

export function registerFeatures(program: Command): void {
  program
    .command('features')
    .description(summaryOf('features'))
    .argument('<paths...>', 'audio files or folders (with --corpus: corpus root folders)')
    .requiredOption('-o, --out <dir>', 'output folder for <name>.npy and manifest.json')
    .option('-c, --config <file>', 'frontend config (JSON or YAML; defaults fill the rest)')
    .option('-m, --model <name>', 'use this model\'s frontend config (name in models/ or path to NAME.json)')
    .option('--corpus <kind>', `paths are corpus roots of this kind (${CORPORA.join(', ')}): labels and speakers go into the manifest`)
    .option('--vad [kind]', `also record each clip's speech spans as the daemon's VAD finds them, for training on what the daemon classifies; kind: ${VAD_KINDS.join(', ')} (default ${DEFAULT_VAD_KIND}, the daemon's)`)
    .option('-q, --quiet', 'no progress bar')
    .action(async (paths: string[], opts: FeaturesOptions) => {
      const r = await runFeatures(paths, opts);
      process.stderr.write(`features: wrote ${r.written} file(s) to ${opts.out}${r.failed ? `, ${r.failed} skipped (see above)` : ''}\n`);
      if (r.failed > 0) process.exitCode = 1;
    });
}
