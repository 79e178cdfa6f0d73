// Quiet, helpful configuration (issue 31, item 6): a misspelt setting or EARSHOT_* name gets a "did you
// mean" by edit distance (src/core/suggest.ts, commander's rule for flags), a key in the wrong section
// is pointed to its place, and the config template carries each key's description from the schema's
// JSDoc (scripts/config-descriptions.ts -> src/daemon/config-descriptions.ts), with no
// "unset: no default" lines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configDescriptions, descriptionsSource, DESCRIPTIONS_FILE } from '../../scripts/config-descriptions.ts';
import { readFileSync } from 'node:fs';
import { editDistance, nearest, didYouMean } from '../../src/core/suggest.ts';
import { CONFIG_LEAVES, loadDaemonConfig } from '../../src/daemon/config.ts';
import { CONFIG_DESCRIPTIONS } from '../../src/daemon/config-descriptions.ts';
import { configTemplate } from '../../src/daemon/config-template.ts';

function configError(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadDaemonConfig({ flags: { config: '/c.yaml' }, env, readFile: () => yaml });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('the configuration was accepted');
}

test('edit distance (optimal string alignment) and the nearest names, by commander rule', () => {
  assert.is(editDistance('url', 'url'), 0);
  assert.is(editDistance('urll', 'url'), 1);
  assert.is(editDistance('qso', 'qos'), 1, 'a transposition is one edit');
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.equal(nearest('smoothin', ['smoothing', 'mode', 'vad']), ['smoothing']);
  assert.equal(nearest('hots', ['host', 'port']), ['host']);
  assert.equal(nearest('xyz', ['host', 'port']), [], 'nothing near enough');
  assert.equal(nearest('pot', ['port', 'post']), ['port', 'post'], 'every name at the best distance, sorted');
  assert.is(didYouMean('MQTT_URLL', ['MQTT_URL']), 'did you mean MQTT_URL?');
  assert.is(didYouMean('zzzzzz', ['MQTT_URL']), '');
});

test('config errors: did you mean the nearest setting, the right section, the nearest EARSHOT_ name', () => {
  const msg = configError('mqtt:\n  urll: mqtt://broker:1883\npipeline:\n  smoothin: {}\nsource: demo\nhttp:\n  prot: 8080\n', {
    EARSHOT_MQTT_URLL: 'x',
    EARSHOT_LOG_LEVLE: 'debug',
  });
  for (const re of [
    /mqtt\.urll: unknown setting \(did you mean mqtt\.url\? .*\) \(from \/c\.yaml\)/,
    /pipeline\.smoothin: unknown setting \(did you mean pipeline\.smoothing\?/,
    /source: unknown setting \(did you mean capture\.source\?/,
    /http\.prot: unknown setting \(did you mean http\.port\?/,
    /EARSHOT_MQTT_URLL: unknown variable; did you mean EARSHOT_MQTT_URL\?/,
    /EARSHOT_LOG_LEVLE: unknown variable; did you mean EARSHOT_LOG_LEVEL\?/,
  ]) assert.match(msg, re);
  // nothing near: the old advice alone
  assert.match(configError('qwertyuiop: 1\n'), /qwertyuiop: unknown setting \(check the spelling; `earshot run --print-config` shows every setting\)/);
  assert.match(configError('', { EARSHOT_QWERTYUIOP: '1' }), /EARSHOT_QWERTYUIOP: unknown variable; check the spelling; `earshot run --print-env`/);
});

test('src/daemon/config-descriptions.ts is what the schema JSDoc says (scripts/config-descriptions.ts)', () => {
  const fresh = configDescriptions();
  assert.is(readFileSync(DESCRIPTIONS_FILE, 'utf8'), descriptionsSource(fresh), 'stale: run node --import tsx scripts/config-descriptions.ts');
  const missing = CONFIG_LEAVES.map((l) => l.path.join('.')).filter((p) => !CONFIG_DESCRIPTIONS[p]);
  assert.equal(missing, [], 'every setting has a JSDoc line in its schema');
});

test('the config template: each key under its description, no "unset: no default" lines', () => {
  const text = configTemplate();
  assert.not.match(text, /no default/);
  assert.not.match(text, /# unset:/);
  const lines = text.split('\n');
  let cursor = 0; // the keys come in the schema's order
  for (const leaf of CONFIG_LEAVES) {
    const indent = '  '.repeat(leaf.path.length - 1);
    const at = lines.findIndex((l, i) => i >= cursor && l.startsWith(`# ${indent}${leaf.path.at(-1)}:`));
    assert.ok(at > 0, `${leaf.path.join('.')} is in the template`);
    cursor = at + 1;
    // the comment lines right above the key, joined, are its description
    let k = at - 1;
    const above: string[] = [];
    while (k >= 0 && lines[k].startsWith(`# ${indent}# `)) above.unshift(lines[k--].slice(`# ${indent}# `.length));
    assert.is(above.join(' '), CONFIG_DESCRIPTIONS[leaf.path.join('.')], leaf.path.join('.'));
    assert.ok(above.every((l) => `# ${indent}# ${l}`.length <= 100 || !l.includes(' ')), 'wrapped at 100 columns');
  }
  console.log(`  template: ${lines.length} lines, ${CONFIG_LEAVES.length} keys, each with its description`);
});

test.run();
