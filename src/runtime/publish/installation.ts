/**
 * Who this earshot is, for a fleet where many boxes share a host name (every Raspberry Pi OS box
 * is `raspberrypi`):
 *
 * - the **installation id**: a random UUID made on the first start and kept in
 *   `<stateDir>/installation-id`. It survives restarts, upgrades and crashes (written to a temp
 *   file, fsynced and renamed, so a crash leaves the old file or the new one, never half of one),
 *   and goes with the state directory: a wiped directory is a new installation. A cloned SD card
 *   that carries the state directory along clones the id too; delete the file on the clone.
 * - the **default device id**: the host name plus six hex digits of a hash of /etc/machine-id
 *   (`raspberrypi-3fa9c1`): stable for the machine, different between machines, and not the
 *   machine id itself (systemd asks applications not to publish it, machine-id(5)).
 */
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EarshotError } from '../../core/errors.ts';

export const INSTALLATION_FILE = 'installation-id';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The installation id kept in `stateDir`, made (and saved) on the first call. A directory that
 * refuses the write for want of space or by an I/O error (ENOSPC, EDQUOT, EIO) does not stop the
 * start: the new id serves this run, `warn` says so, and the next start tries again (a full disk
 * must degrade, not stop the daemon: issue 17). Throws E_CONFIG when the directory is unusable.
 */
export function loadInstallationId(stateDir: string, warn: (msg: string) => void = () => {}): string {
  const file = join(stateDir, INSTALLATION_FILE);
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (UUID.test(text)) return text;
  } catch {
    // first start (or unreadable): make one
  }
  const id = randomUUID();
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(stateDir, { recursive: true });
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, `${id}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO') {
      rmSync(tmp, { force: true });
      warn(`cannot save the installation id in ${file} (${code}): this run uses ${id}; a restart before the disk has room again counts as a new installation`);
      return id;
    }
    throw new EarshotError('E_CONFIG', `cannot write the installation id to ${file} (${(e as Error).message}); make mqtt.stateDir (--state-dir, EARSHOT_STATE_DIR) a writable directory`, { cause: e });
  }
  return id;
}

/** Six hex digits derived from the machine id, or '' when there is none to read. */
export function machineSuffix(read: (p: string) => string = (p) => readFileSync(p, 'utf8')): string {
  for (const path of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = read(path).trim();
      if (/^[0-9a-f]{32}$/i.test(id)) return createHash('sha256').update(`earshot:${id.toLowerCase()}`).digest('hex').slice(0, 6);
    } catch {
      // try the next
    }
  }
  return '';
}

/** `<hostname>-<suffix>`, with every character MQTT topics and Home Assistant ids dislike replaced by `_`. */
export function defaultDeviceId(host: string = hostname(), suffix: string = machineSuffix()): string {
  const name = host.replace(/[^A-Za-z0-9_-]/g, '_') || 'earshot';
  return suffix ? `${name}-${suffix}` : name;
}
