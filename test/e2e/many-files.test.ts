// `earshot analyze` with a command line longer than ~30 KB used to die with SIGSEGV before any
// output (onnxruntime-node 1.30 crashes in InferenceSession.create when the process's command
// line is that long; docs/operations.md, "Known upstream problems"). bin/earshot.js hands a long
// argument list to a child over a pipe; here 600 long file names (36 KB), one of them missing, through the real CLI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'earshot-many-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
const MODEL = join(ROOT, 'test/fixtures/models/tiny-lstm.json');

test('600 files with long names (36 KB of arguments) in one analyze call: every file analysed, exit status kept', () => {
  const clip = join(tmp, 'clip.wav');
  assert.is(spawnSync('sox', [join(ROOT, 'assets/demo-angry.flac'), clip, 'trim', '0', '0.6']).status, 0);
  const files = Array.from({ length: 600 }, (_, i) => join(tmp, `a-rather-long-clip-name-for-the-command-line-${String(i).padStart(4, '0')}.wav`));
  files.forEach((f, i) => i !== 300 && symlinkSync(clip, f)); // file 300 is missing
  assert.ok(files.join(' ').length > 32 * 1024);
  const r = spawnSync(process.execPath, ['bin/earshot.js', 'analyze', '--model', MODEL, '--json', ...files], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28, timeout: 300_000 });
  assert.is(r.signal, null, `killed by ${r.signal}: ${r.stderr.slice(-500)}`);
  assert.is(r.status, 1, `status ${r.status}: ${r.stderr.slice(-500)}`); // one file could not be read
  const out = JSON.parse(r.stdout) as { file: string }[];
  assert.is(out.length, 599);
  assert.equal(out.map((a) => a.file), files.filter((_, i) => i !== 300), 'in order, as given');
  assert.match(r.stderr, `${files[300]}: cannot read`);
});

test.run();
