// Six talkers of the crowd detector's test split (speakers it never trained on), three sentences
// each, and the six-talker babble the crowd tests make of them with sox.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { crowdSplit } from '../../src/training/crowd-mixtures.ts';
import { DATA } from './paths.ts';

const ravdess = (actor: string, clips: string[]) => clips.map((c) => join(DATA, 'ravdess', `Actor_${actor}`, `03-01-${c}-${actor}.flac`));
const nemo = (speaker: string, clips: string[]) => clips.map((c) => join(DATA, 'nemo', 'samples', `${speaker}_${c}.flac`));

/** [speaker key, its three sentences] */
export const TALKERS: [string, string[]][] = [
  ['ravdess:04', ravdess('04', ['01-01-01-01', '03-02-01-02', '05-01-02-01'])],
  ['ravdess:09', ravdess('09', ['02-01-02-01', '04-02-01-02', '06-01-01-01'])],
  ['ravdess:13', ravdess('13', ['03-01-01-01', '05-02-02-02', '07-01-02-01'])],
  ['ravdess:18', ravdess('18', ['04-01-01-02', '06-02-02-01', '08-01-01-01'])],
  ['nemo:MK0', nemo('MK0', ['anger_1', 'neutral_2', 'sadness_3'])],
  ['nemo:MP0', nemo('MP0', ['happiness_1', 'neutral_4', 'surprised_12'])],
];

export function sox(args: string[]): void {
  const r = spawnSync('sox', args, { encoding: 'utf8' });
  assert.is(r.status, 0, `sox ${args.join(' ')}: ${r.stderr}`);
}

/** Writes `out`: each talker's sentences end to end, normalised to one peak level, the six summed (sox -m), 1 s of silence around. */
export function makeBabble(dir: string, out: string): void {
  for (const [speaker] of TALKERS) assert.is(crowdSplit(speaker), 'test', speaker);
  const tracks = TALKERS.map(([, files], i) => {
    const t = join(dir, `talker${i}.wav`);
    sox(['--norm=-3', ...files, '-r', '16000', '-c', '1', t]);
    return t;
  });
  sox(['-m', ...tracks, out, 'pad', '1', '1']);
}
