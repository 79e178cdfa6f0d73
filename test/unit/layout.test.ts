// The layering of src/ (scripts/import-graph.ts): what runs on the device never imports training,
// bench, daemon or CLI code, and a runtime stage never imports a later stage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { layerOf, mayImport, mayImportRepo, repoLayerOf, repoViolations, sourceFiles, violations } from '../../scripts/import-graph.ts';
import { ROOT } from '../helpers/paths.ts';

const SRC = join(ROOT, 'src');

test('src/ has no import against the layering rule', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 50, `${files.length} files found`);
  const v = violations(SRC, files);
  assert.equal(v, [], v.map((x) => `${x.file} -> ${x.imports}: ${x.rule}`).join('\n'));
});

test('every file of src/ sits in a known layer', () => {
  const unknown = sourceFiles(SRC).filter((f) => layerOf(f.path) === '?').map((f) => f.path);
  assert.equal(unknown, []);
});

test('the check catches a runtime stage importing training, the daemon, or a later stage', () => {
  const files = [
    { path: 'runtime/model/session.ts', text: "import { EMOTIONS } from '../../training/corpus/index.ts';" },
    { path: 'runtime/pipeline/pipeline.ts', text: "import type { EmotionState } from '../publish/payloads.ts';\nimport { x } from './config.ts';" },
    { path: 'runtime/publish/publisher.ts', text: "import { VERSION } from '../../daemon/daemon.ts';\nimport type { PipelineResult } from '../pipeline/types.ts';" },
    { path: 'training/evaluate.ts', text: "import { bench } from '../bench/pipeline.ts'; // a comment: import '../daemon/x.ts'" },
    { path: 'core/errors.ts', text: "const s = \"import '../runtime/audio/decode.ts'\";" },
  ];
  assert.equal(
    violations('/src', files).map((v) => `${v.file} -> ${v.imports}`),
    [
      'runtime/model/session.ts -> training/corpus/index.ts',
      'runtime/pipeline/pipeline.ts -> runtime/publish/payloads.ts',
      'runtime/publish/publisher.ts -> daemon/daemon.ts',
      'training/evaluate.ts -> bench/pipeline.ts',
    ],
  );
});

test('the rule table', () => {
  assert.ok(mayImport('runtime/pipeline', 'runtime/model'));
  assert.not.ok(mayImport('runtime/model', 'runtime/pipeline'));
  assert.ok(mayImport('daemon', 'runtime/publish'));
  assert.not.ok(mayImport('daemon', 'training'));
  assert.not.ok(mayImport('core', 'runtime/audio'));
  assert.ok(mayImport('bench', 'daemon'));
  assert.not.ok(mayImport('training', 'daemon'));
  assert.ok(mayImport('commands', 'training'));
  assert.not.ok(mayImport('commands', 'cli'));
});

test('src/, scripts/, experiments/ and test/ keep the direction of the data: nothing in src/ imports them, tests never import experiments', () => {
  const v = repoViolations(ROOT);
  assert.equal(v, [], v.map((x) => `${x.file} -> ${x.imports}: ${x.rule}`).join('\n'));
  assert.is(repoLayerOf('test/helpers/daemon.ts'), 'test');
  assert.is(repoLayerOf('src/runtime/vad/silero.ts'), 'src:runtime/vad');
  assert.ok(mayImportRepo('test', 'src:daemon'));
  assert.ok(mayImportRepo('experiments', 'src:training'));
  assert.not.ok(mayImportRepo('test', 'experiments'));
  assert.not.ok(mayImportRepo('src:runtime/model', 'test'));
  assert.not.ok(mayImportRepo('src:commands', 'scripts'));
  assert.not.ok(mayImportRepo('scripts', 'test'));
});

test.run();
