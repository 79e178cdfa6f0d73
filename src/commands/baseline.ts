/**
 * `earshot baseline [--state-dir DIR] [--reset]`: shows the speaker and room baseline the daemon
 * keeps in its state directory (models trained with normalisation "speaker" or "prosody"), or forgets it. A
 * running daemon keeps its baseline in memory and saves it again: reset that one over MQTT
 * (`<base>/baseline/reset`), or stop it first.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { defaultsLayer } from '../daemon/config.ts';
import { describeBaseline, removeBaseline } from '../runtime/model/baseline.ts';

export function runBaseline(opts: { stateDir?: string; reset?: boolean }, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): void {
  const dir = opts.stateDir ?? String((defaultsLayer(process.env).values.mqtt as { stateDir: string }).stateDir);
  const path = join(dir, 'baseline.json');
  if (opts.reset) {
    removeBaseline(path);
    log(`${path}: removed; the daemon starts with a cold baseline (a running daemon: publish to <base>/baseline/reset instead)`);
    return;
  }
  const d = describeBaseline(path);
  log(d ? `${path}: ${d.speechSeconds.toFixed(1)} s of speech (decayed) from ${d.utterances} utterances, saved ${d.updated}` : `${path}: no baseline saved`);
}

export function registerBaseline(program: Command): void {
  program
    .command('baseline')
    .description(summaryOf('baseline'))
    .option('--state-dir <dir>', "the daemon's state directory (default: as `earshot run` resolves it)")
    .option('--reset', 'forget it')
    .action((opts: { stateDir?: string; reset?: boolean }) => runBaseline(opts));
}
