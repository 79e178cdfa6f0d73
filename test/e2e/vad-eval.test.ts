// The measuring commands of issue 16 on real audio: `earshot vad-eval` (recall in noise, events on
// noise alone through the daemon's pipeline) and `earshot bench --only vad` (what each VAD costs).
// No figure is asserted beyond what must hold whatever the machine: the cascade makes no network
// call in a quiet room, Silero one per 32 ms window, and rumble alone opens the energy VAD but
// yields no event with the cascade.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA, ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-vad-eval-'));
const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 26 });

test('earshot vad-eval: recall rows per VAD and noise, and events on rumble alone', () => {
  const out = join(tmp, 'v.json');
  const r = cli(['vad-eval', join(DATA, 'ravdess'), '--clips', '1', '--vads', 'energy,cascade', '--noises', 'brown', '--snrs', '0', '--noise-only', '60', '--json', out]);
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(readFileSync(out, 'utf8'));
  assert.is(j.clips, 20);
  const row = (vad: string, noise: string) => j.ravdess.find((x: { vad: string; noise: string }) => x.vad === vad && x.noise === noise);
  for (const vad of ['energy', 'cascade']) {
    assert.ok(row(vad, 'clean').clean >= 20, `${vad}: ${row(vad, 'clean').clean} clean utterances`);
    assert.ok(row(vad, 'brown').recall > 0.9, `${vad} in brown noise at 0 dB: ${row(vad, 'brown').recall}`);
  }
  // the energy VAD runs rumble into the speech; the cascade keeps the speech's length
  assert.ok(row('energy', 'brown').speechRatio > 1.3, `energy: x${row('energy', 'brown').speechRatio}`);
  assert.ok(row('cascade', 'brown').speechRatio < 1.15, `cascade: x${row('cascade', 'brown').speechRatio}`);
  const events = (vad: string) => j.noiseOnly.find((x: { vad: string }) => x.vad === vad).events;
  assert.ok(events('energy') > 0, 'the energy VAD was expected to fire on a minute of rumble (else the next check proves nothing)');
  assert.is(events('cascade'), 0);
  assert.match(r.stdout, /noise alone, 60 s at -40 dBFS/);
});

test('earshot bench --only vad: every VAD on every room; the cascade is idle in a quiet room, Silero runs on every window', () => {
  const r = cli(['bench', '--only', 'vad', '--seconds', '4', '--rounds', '1', '--json']);
  assert.is(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout).vad as { stream: string; vad: string; msPerAudioSecond: number; networkCallsPerSec: number }[];
  assert.is(rows.length, 15, rows.map((x) => `${x.stream}/${x.vad}`).join(', '));
  const quiet = (vad: string) => rows.find((x) => x.stream.startsWith('quiet room') && x.vad === vad)!;
  assert.is(quiet('cascade').networkCallsPerSec, 0);
  assert.ok(Math.abs(quiet('silero').networkCallsPerSec - 16000 / 512) < 0.5, `${quiet('silero').networkCallsPerSec}`);
  for (const x of rows) assert.ok(x.msPerAudioSecond > 0 && Number.isFinite(x.msPerAudioSecond), JSON.stringify(x));
});

test('bad VAD and noise names are clear errors', () => {
  const a = cli(['vad-eval', '--vads', 'webrtc']);
  assert.is(a.status, 64, "EX_USAGE");
  assert.match(a.stderr, /--vads webrtc: use energy, silero, cascade/);
  const b = cli(['eval', join(DATA, 'emodb'), '--corpus', 'emodb', '--noise', 'traffic', '--noise-snr', '5']);
  assert.is(b.status, 64, "EX_USAGE");
  assert.match(b.stderr, /--noise traffic: use one of pink, brown, babble, white/);
  const c = cli(['eval', join(DATA, 'emodb'), '--corpus', 'emodb', '--noise', 'brown']);
  assert.is(c.status, 64, "EX_USAGE");
  assert.match(c.stderr, /need --noise-snr/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
