// Runs every test/**/*.test.ts (test/unit: fast, in-process; test/e2e: processes, brokers, browsers, training) in its own Node process (a crash fails one file, not the run),
// streams its output, and ends with the line CI reads: `N passed, N failed`.
// libasound's own diagnostics (`ALSA lib FILE:LINE:(FUNCTION) ...`, printed by every in-process
// PortAudio initialisation on a machine without a sound card: about 180 per capture test file) are
// left out of the output and counted, unless `--verbose` (or EARSHOT_TEST_VERBOSE=1).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir).sort().flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'fixtures' ? [] : find(p);
    return n.endsWith('.test.ts') ? [p] : [];
  });
}

const FILE_TIMEOUT_MS = 20 * 60_000;
const verbose = process.argv.includes('--verbose') || process.env.EARSHOT_TEST_VERBOSE === '1';
const filter = process.argv.slice(2).filter((a) => a !== '--verbose');
const ALSA_LIB_LINE = /^ALSA lib \S+:\d+:.*\n?/gm;
let alsaHidden = 0;
/** the text without libasound's lines (all of them kept with --verbose) */
function quiet(text) {
  if (verbose || !text) return text;
  return text.replace(ALSA_LIB_LINE, () => {
    alsaHidden++;
    return '';
  });
}
const files = find('test').filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
let passed = 0;
let failed = 0;
for (const file of files) {
  process.stdout.write(`\n# ${file}\n`);
  // a file that does not end (a test left a client reconnecting) fails after FILE_TIMEOUT_MS instead of holding CI up
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, maxBuffer: 1 << 28, timeout: FILE_TIMEOUT_MS, killSignal: 'SIGKILL' });
  if (r.error?.code === 'ETIMEDOUT') process.stdout.write(`\n${file}: still running after ${FILE_TIMEOUT_MS / 60000} min: killed, counted as failed\n`);
  const hiddenBefore = alsaHidden;
  process.stdout.write(quiet(r.stdout));
  process.stderr.write(quiet(r.stderr));
  if (alsaHidden > hiddenBefore) process.stdout.write(`(${alsaHidden - hiddenBefore} ALSA library lines hidden; --verbose shows them)\n`);
  // eslint-disable-next-line no-control-regex -- strips the ANSI colour codes (ESC [ ... m) of uvu output before counting
  const text = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '');
  const total = [...text.matchAll(/Total:\s+(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
  const ok = [...text.matchAll(/Passed:\s+(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
  const skipped = [...text.matchAll(/Skipped:\s+(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
  let fileFailed = total - ok - skipped;
  if (r.status !== 0 && fileFailed === 0) fileFailed = 1; // crashed before or after its tests
  passed += ok;
  failed += fileFailed;
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
