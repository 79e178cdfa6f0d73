/**
 * The commented configuration file the Debian package installs as /etc/earshot/config.yaml: every
 * key of the daemon's schema with its description (the JSDoc of its schema field, through
 * ./config-descriptions.ts) and its default, commented out, so the schema stays the one place
 * defaults and descriptions live (an uncommented key overrides it). A key without a default is shown
 * without a value (its description says what happens unset). Printed by `earshot run --print-template`.
 */
import { stringify } from 'yaml';
import { CONFIG_LEAVES, daemonConfigSchema } from './config.ts';
import { CONFIG_DESCRIPTIONS } from './config-descriptions.ts';

/** Keys decided on the device whose form is worth an example (the description says what unset means). */
const EXAMPLES: Record<string, string> = {
  'mqtt.url': 'mqtt://broker.local:1883',
  'mqtt.deviceId': 'kitchen',
  'mqtt.stateDir': '/var/lib/earshot',
};
/** marks an example value: uncommented as is, it would change the configuration */
export const EXAMPLE_MARK = '# an example';

/** the width description lines are wrapped to */
const WIDTH = 100;

/** `text` as comment lines of at most WIDTH characters, each `prefix# ...` (words longer than a line stay whole). */
function wrapped(prefix: string, text: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && prefix.length + 2 + line.length + 1 + word.length > WIDTH) {
      lines.push(`${prefix}# ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(`${prefix}# ${line}`);
  return lines;
}

/** YAML for a scalar on one line (a long string would be folded over several; JSON is YAML too). */
const oneLine = (v: unknown) => {
  const y = stringify(v).trim();
  return y.includes('\n') ? JSON.stringify(v) : y;
};

function valueAt(obj: unknown, path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

export function configTemplate(): string {
  const defaults = daemonConfigSchema.parse({});
  const out = [
    '# earshot daemon configuration (`earshot run --config /etc/earshot/config.yaml`).',
    '# Every key is shown with what it does and its default, commented out: uncomment a key line',
    '# (remove its first "# ") to change it; the description lines above it stay comments.',
    '# Environment variables EARSHOT_* and command-line flags override this file',
    '# (`earshot run --print-env` lists them; `earshot run --print-config` prints the result).',
    '# Secrets (EARSHOT_MQTT_PASSWORD=...) belong in /etc/earshot/earshot.env (root-only), not here.',
    '',
  ];
  let open: string[] = [];
  for (const { path } of CONFIG_LEAVES) {
    const parents = path.slice(0, -1);
    let same = 0;
    while (same < parents.length && parents[same] === open[same]) same++;
    for (let d = same; d < parents.length; d++) out.push(`# ${'  '.repeat(d)}${parents[d]}:`);
    open = parents;
    const indent = '  '.repeat(parents.length);
    const key = path.at(-1)!;
    const dotted = path.join('.');
    const value = valueAt(defaults, path);
    const description = CONFIG_DESCRIPTIONS[dotted];
    if (description) out.push(...wrapped(`# ${indent}`, description));
    if (dotted in EXAMPLES) out.push(`# ${indent}${key}: ${EXAMPLES[dotted]}   ${EXAMPLE_MARK}`);
    else if (value === undefined) out.push(`# ${indent}${key}:`);
    else out.push(`# ${indent}${key}: ${typeof value === 'object' && value !== null ? JSON.stringify(value) : oneLine(value)}`);
  }
  return `${out.join('\n')}\n`;
}
