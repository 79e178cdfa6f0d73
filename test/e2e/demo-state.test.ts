// `earshot run --demo` touches nothing of the configured installation (issue 29 item 3): it runs on
// a fresh temporary state directory removed at exit unless --state-dir is given, so two demos in a
// row print the same numbers (the clip's voices do not warm the room's speaker baseline) and the
// configured state directory has the same files, bytes and times before and after. The configured
// directory here says listening OFF: a demo that used it would print no events at all.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../helpers/mosquitto.ts';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-demo-state-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

function snapshot(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).sort().map((f) => {
    const st = statSync(join(dir, f));
    return `${f} ${st.isFile() ? readFileSync(join(dir, f), 'utf8') : 'dir'} ${st.mtimeMs}`;
  });
}

async function demo(env: NodeJS.ProcessEnv, extra: string[] = []): Promise<{ numbers: string[]; out: string }> {
  const args = ['bin/earshot.js', 'run', '--demo', '--log-format', 'json', '--log-level', 'warn', '--set', `embeddedBroker.port=${await freePort()}`, '--set', 'embeddedBroker.wsPort=0', ...extra];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 90_000 });
  assert.is(r.status, 0, r.stderr.slice(-2000));
  const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { label: string; confidence: number; adapted: boolean; start: string });
  return { numbers: events.map((e) => `${e.label} ${(e.confidence * 100).toFixed(1)}% adapted=${e.adapted}`), out: r.stdout + r.stderr };
}

test('two demos in a row print the same numbers; the configured state directory and TMPDIR are as before', async () => {
  const home = join(tmp, 'home');
  const configured = join(tmp, 'configured');
  const tmpd = join(tmp, 'tmp');
  for (const d of [home, configured, tmpd]) mkdirSync(d);
  writeFileSync(join(configured, 'listening.json'), '{"on":false,"by":"HTTP","since":"2026-12-01T00:00:00.000Z"}\n');
  const env = { HOME: home, TMPDIR: tmpd, EARSHOT_STATE_DIR: configured };
  const before = snapshot(configured);
  const a = await demo(env);
  const b = await demo(env);
  assert.ok(a.numbers.length >= 3, `the demo printed ${a.numbers.length} events:\n${a.out.slice(-2000)}`);
  assert.equal(b.numbers, a.numbers, 'the second demo prints what the first did');
  console.log(`  demo events: ${a.numbers.join(', ')}`);
  assert.equal(snapshot(configured), before, 'the configured state directory is untouched');
  assert.equal(readdirSync(tmpd), [], 'the temporary state directory is removed at exit');
  assert.equal(readdirSync(home), [], 'nothing in HOME either');
});

test('--state-dir given: the demo uses (and keeps) it', async () => {
  const dir = join(tmp, 'explicit');
  await demo({ HOME: join(tmp, 'home') }, ['--state-dir', dir]);
  assert.ok(existsSync(join(dir, 'installation-id')), readdirSync(dir).join(' '));
});

test.run();
