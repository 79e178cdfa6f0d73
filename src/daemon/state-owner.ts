/**
 * Ownership of the state directory, checked at start (issue 29 item 4). One `sudo earshot run`
 * on a packaged box used to leave root-owned files in /var/lib/earshot (`mqtt-queue/`,
 * `listening.json`); the service, user `earshot`, then failed on EACCES at every start and
 * RestartPreventExitStatus kept it dead. Now:
 * - the unit repairs it before each start (`ExecStartPre=+/bin/chown -R -h earshot:earshot
 *   /var/lib/earshot`) and the postinst does the same on install;
 * - a daemon that finds an entry it cannot write stops before touching anything, naming that
 *   file, its owner and the one command that fixes it (E_CONFIG, exit 78: a restart cannot help);
 * - a root run on a directory that belongs to another user warns that what it writes will be
 *   root's.
 */
import { accessSync, constants, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { EarshotError } from '../core/errors.ts';

/** Entries looked at, at most: the state directory holds a handful of files and the queue's segments. */
const MAX_ENTRIES = 10_000;

function userName(uid: number): string {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === String(uid));
    if (line) return line.split(':')[0];
  } catch {
    // no passwd file: the number
  }
  return `uid ${uid}`;
}

/**
 * Throws E_CONFIG naming the first entry of `dir` this process cannot write (and the command that
 * fixes it); as root, warns when `dir` belongs to someone else. Nothing when `dir` does not exist.
 */
export function checkStateOwnership(dir: string, log: { warn(obj: object, msg: string): void }, uid: number | undefined = process.getuid?.()): void {
  if (uid === undefined) return;
  let top;
  try {
    top = lstatSync(dir);
  } catch {
    return; // made later by whoever writes first
  }
  if (uid === 0) {
    if (top.uid !== 0) {
      const owner = userName(top.uid);
      log.warn({ stateDir: dir, owner }, `running as root on ${dir}, which belongs to ${owner}: the files this run creates there will be owned by root. The packaged service repairs that at its start; otherwise run as ${owner} (sudo -u ${owner} earshot run ...) or afterwards: sudo chown -R ${owner}: ${dir}`);
    }
    return;
  }
  const me = userInfo().username;
  const fix = `sudo chown -R ${me}: ${dir}`;
  let seen = 0;
  const walk = (path: string): void => {
    if (++seen > MAX_ENTRIES) return;
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    try {
      accessSync(path, st.isDirectory() ? constants.W_OK | constants.X_OK : constants.W_OK);
    } catch {
      throw new EarshotError('E_CONFIG', `the state directory holds ${path}, owned by ${userName(st.uid)}, which this daemon (running as ${me}) cannot write (left by a run as another user, e.g. sudo earshot run). Fix it with: ${fix}`);
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
}
