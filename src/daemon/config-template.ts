/**
 * The commented configuration file the Debian package installs as /etc/earshot/config.yaml: every
 * key of the daemon's schema with its default, commented out, so the schema stays the one place
 * defaults live (an uncommented key overrides it). Printed by `earshot run --print-template`.
 */
import { stringify } from 'yaml';
import { CONFIG_LEAVES, daemonConfigSchema } from './config.ts';

/** Keys whose value is decided on the device, or that have none by default: an example and a note. */
const NO_STATIC_DEFAULT: Record<string, string> = {
  'mqtt.url': 'mqtt://broker.local:1883   # unset: the broker answering on embeddedBroker.host:port, else an embedded one there',
  'mqtt.deviceId': "kitchen   # unset: this machine's host name and 6 hex digits derived from /etc/machine-id",
  'mqtt.stateDir': '/var/lib/earshot   # unset: $STATE_DIRECTORY (systemd StateDirectory=), /var/lib/earshot as root, else ~/.local/state/earshot',
  'embeddedBroker.enabled': 'true   # unset: on exactly when mqtt.url is not set',
};

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
    '# Every key is shown with its default, commented out: uncomment a line to change it.',
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
    if (dotted in NO_STATIC_DEFAULT) out.push(`# ${indent}${key}: ${NO_STATIC_DEFAULT[dotted]}`);
    else if (value === undefined) out.push(`# ${indent}${key}:   # unset: no default (see README.md / systemd/README.md)`);
    else out.push(`# ${indent}${key}: ${typeof value === 'object' && value !== null ? JSON.stringify(value) : oneLine(value)}`);
  }
  return `${out.join('\n')}\n`;
}
