// One definition per default (issue 30 item 2, docs STYLE.md item 23): scripts/literals.ts finds a
// schema default repeated as `x.setting ?? literal`, the 16 kHz rate, the 400/160 framing and the
// variance floor outside their one home. Before the capture and VAD schemas took these over, it
// found 47 (`stopGraceMs ?? 2000` six times, 16000 in twelve files, ...).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { scanLiterals, scanText } from '../../scripts/literals.ts';
import { ROOT } from '../helpers/paths.ts';

test('src/ writes each shared default once', () => {
  const found = scanLiterals(join(ROOT, 'src'));
  assert.equal(found, [], found.map((f) => `src/${f.file}:${f.line}: ${f.rule}: ${f.text}`).join('\n'));
});

test('the check catches a repeated default, and not comments, strings or other quantities', () => {
  const text = [
    '// Default 16000, stopGraceMs ?? 2000 in a comment',
    "const hint = 'stdin:s16le:16000';",
    'setTimeout(kill, this.opts.stopGraceMs ?? 2000);',
    'const rate = opts.sampleRate ?? 16_000;',
    'const framing = { frameLength: 400, hopLength: 160 };',
    'const v = x / Math.sqrt(variance + 1e-6);',
    'const n = this.queue?.depth ?? 0;',
    'const url = req.url ?? "/";',
    'const port = opts.port ?? 8080;',
  ].join('\n');
  assert.equal(
    scanText('runtime/capture/x.ts', text).map((f) => `${f.line} ${f.rule}`),
    ['3 setting ?? literal', '4 setting ?? literal', '4 rate 16000', '5 framing 400/160', '5 framing 400/160', '6 floor 1e-6'],
  );
  assert.equal(scanText('core/constants.ts', 'export const MODEL_SAMPLE_RATE = 16000;'), []);
});

test.run();
