/**
 * The table of `earshot` commands: name, one-line summary, and a loader for the module that
 * registers its flags and action. cli.ts loads only the module of the command being run (and none
 * for `earshot --help` / `--version`), so start-up never pays for ONNX Runtime, MQTT or zod when a
 * command does not need them.
 */
import type { Command } from 'commander';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<(program: Command) => void>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'run',
    summary: 'the daemon: capture -> features -> model -> MQTT events, from a config file, EARSHOT_* variables and flags (flags win)',
    load: async () => (await import('./run.ts')).registerRun,
  },
  {
    name: 'analyze',
    summary: 'classify the emotion in audio files or folders of them (WAV, FLAC, AIFF): one verdict per file, the timeline of utterances with --timeline',
    load: async () => (await import('./analyze.ts')).registerAnalyze,
  },
  {
    name: 'devices',
    summary: 'list capture devices (PortAudio and ALSA) for --source',
    load: async () => (await import('./devices.ts')).registerDevices,
  },
  {
    name: 'features',
    summary: "compute features (float32 .npy [frames, features]) with a model's or a given frontend config, for training",
    load: async () => (await import('./features.ts')).registerFeatures,
  },
  {
    name: 'eval',
    summary: 'score a model on an emotional speech corpus: accuracy, UAR, macro F1, per-class P/R/F1, confusion matrix',
    load: async () => (await import('./eval.ts')).registerEval,
  },
  {
    name: 'train',
    summary: 'features -> PyTorch training -> ONNX -> speaker-independent evaluation through the runtime',
    load: async () => (await import('./train.ts')).registerTrain,
  },
  {
    name: 'calibrate',
    summary: 'fit a confidence temperature on held-out predictions (earshot eval --json F --predictions) and report ECE before/after',
    load: async () => (await import('./calibrate.ts')).registerCalibrate,
  },
  {
    name: 'baseline',
    summary: "show or reset the daemon's saved speaker and room baseline (models trained with --norm prosody or speaker)",
    load: async () => (await import('./baseline.ts')).registerBaseline,
  },
  {
    name: 'vad-eval',
    summary: 'the VADs in noise: utterances found vs clean (RAVDESS + demo clip) per noise and SNR, and events on noise alone',
    load: async () => (await import('./vad-eval.ts')).registerVadEval,
  },
  {
    name: 'bench',
    summary: 'benchmark the kernels (frontend, resampler) and the whole daemon, and print figures and ratios',
    load: async () => (await import('./bench.ts')).registerBench,
  },
];

/** The summary of a command, for its own registration (one definition of each description). */
export function summaryOf(name: string): string {
  const e = COMMANDS.find((c) => c.name === name);
  if (!e) throw new Error(`no command ${name} in COMMANDS`);
  return e.summary;
}
