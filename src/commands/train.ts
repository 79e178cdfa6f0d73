/** `earshot train`: the flags; the work is src/training/run-train.ts (runTrain). */
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { EarshotError } from '../core/errors.ts';
import { MODELS_DIR } from '../runtime/model/metadata.ts';
import { DEFAULT_VAD_KIND, VAD_KINDS } from '../runtime/vad/config.ts';
import { SHIPPED_RECIPES } from '../training/recipes.ts';
import { runTrain, type TrainOptions } from '../training/run-train.ts';

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description(summaryOf('train'))
    .option('--data <dir>', 'folder holding ravdess/, tess/, emodb/ corpus roots', '../shared/data')
    .option('--name <name>', 'model name (models/NAME.onnx + NAME.json)', 'earshot-crnn')
    .option('--arch <id>', 'architecture: crnn, lstm-attn, bilstm, lstm2x64, rnn, cnn1d, stride-cnn, cnn2d (crnn and lstm-attn default to the shipped recipes)', 'crnn')
    .option('--protocols <list>', 'any of folds,random,final,loco (leave one corpus out),loso-CORPUS (leave one speaker out, e.g. loso-nemo), loso-CORPUS/K (the speakers in K groups, e.g. loso-emotiontts-kr/5)', 'folds,random,final')
    .option('--folds <spec>', 'held-out actor folds, ";"-separated (default: 1-4;5-8;9-12;13-16;17-20)')
    .option('--tess', 'add TESS to the training data')
    .option('--corpora <list>', 'corpora every run trains on, comma list of ravdess, emodb, emotiontts-kr, nemo, tess (folders under --data); default: the recipe\'s unless --train-args is given (crnn, the default: all five; crnn-ravdess: ravdess), else ravdess')
    .option('--jobs <n>', 'training runs at a time (each member of an --ensemble is a run; give each --threads 1 via --train-args on a small machine)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new EarshotError('E_USAGE', `--jobs ${v}: give a whole number of runs, e.g. 2`);
      return n;
    })
    .option('--vad <kind>', `the VAD that finds the training spans and segments the scored clips: ${VAD_KINDS.join(', ')} (default ${DEFAULT_VAD_KIND}, the daemon's default; the shipped models were trained with energy)`)
    .option('--noise-type <kinds>', 'noise of the noisy copies: pink (default; the crnn recipe: pink,babble), brown (cabin rumble) or babble (the clip\'s fold-mates talking, so no held-out voice reaches training); a comma list (pink,babble) makes a copy per kind')
    .option('--whole-clips', 'train on whole clips, silence included, instead of the VAD\'s speech spans (what the daemon classifies)')
    .option('--noise <snrs>', 'add noisy copies of every training clip at these SNRs in dB, e.g. 20,10,5, or none (default: the shipped recipe\'s, 10 for crnn, unless --train-args is given)')
    .option('-c, --config <file>', 'frontend config (JSON/YAML); default: the shipped recipe\'s (crnn: 40 log-mel + RMS + ZCR + F0 + voicing; others: 20 MFCC + RMS + ZCR)')
    .option('--work <dir>', 'features and fold models go here', 'build/train')
    .option('--models-dir <dir>', 'where the final model is written', MODELS_DIR)
    .option('--python <path>', 'python with torch and onnx', '/usr/bin/python3')
    .option('--recipe <name>', `a shipped recipe by name: ${Object.keys(SHIPPED_RECIPES).join(', ')} (default: the architecture's; crnn-ensemble is the 5-member CRNN ensemble with test-time augmentation)`)
    .option('--train-args <args>', 'passed through to earshot_train (training/python), e.g. "--epochs 30 --hidden 64" (default: the shipped recipe for crnn and lstm-attn, else earshot_train\'s defaults)')
    .option('--more-args <args>', 'appended to the recipe\'s own earshot_train arguments, which (unlike --train-args) keeps its corpora, noisy copies and functional head; a later flag wins, e.g. "--epochs 48 --room 0.5"')
    .option('--teacher <runs>', 'knowledge distillation: comma list of teachers; a fold model learns from the fold models of the named runs in --work trained without exactly its actors, the final model from each named model; earshot_train --distill-weight and --distill-temperature (via --train-args) tune it')
    .option('-q, --quiet', 'no feature progress bar')
    .action(async (opts: TrainOptions) => {
      await runTrain(opts);
    });
}
