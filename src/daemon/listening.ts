/**
 * The privacy switch: whether earshot listens at all. OFF stops audio at the capture stage (the
 * daemon closes a microphone it supervises and drops the chunks of a file or stdin source, so no
 * frame reaches the frontend and no event, state or metric counts that audio); ON starts again.
 *
 * Set from MQTT (`<base>/listening/set`), from HTTP (`POST /listening`, see http.ts) or by code
 * (the dashboard can take this object as it is: `isOn`, `current`, `set()`, the `change` event).
 *
 * Durability: the state is written to `<stateDir>/listening.json` on every change before the
 * change is acknowledged: a temp file `listening.json.<pid>.tmp`, fsync, rename, fsync of the
 * directory (a crash or a power cut keeps the old state or the new one, never neither). A write
 * that fails (a full disk, EIO) leaves `persisted` false and the microphone closed: OFF still
 * takes effect at once (closing is always safe) but is not confirmed (POST /listening answers 503,
 * since after a restart the saved state would rule); ON is refused until it can be saved. The temp
 * file of a failed write is removed, and any left by a crash are removed at start (one daemon per
 * state directory, state-lock.ts, so none can be another's write in progress). At start,
 * `privacy.listeningAtStart` decides: `last` (default) takes the saved state (ON when there is
 * none), `on`/`off` force it.
 */
import { EventEmitter } from 'node:events';
import * as nodeFs from 'node:fs';
import { join } from 'node:path';

export const LISTENING_FILE = 'listening.json';
export const LISTENING_AT_START = ['last', 'on', 'off'] as const;
export type ListeningAtStart = (typeof LISTENING_AT_START)[number];

export interface ListeningState {
  on: boolean;
  /** who set it last: `MQTT`, `HTTP`, `config`, `saved`, `default` */
  by: string;
  /** when, ISO 8601 UTC */
  since: string;
}

/** The file operations the switch uses; tests hand in failing ones. */
export type ListeningFs = Pick<typeof nodeFs, 'closeSync' | 'fsyncSync' | 'mkdirSync' | 'openSync' | 'readFileSync' | 'readdirSync' | 'renameSync' | 'rmSync' | 'writeSync'>;

const STALE_TMP = /^listening\.json\.\d+\.tmp$/;

export class ListeningSwitch extends EventEmitter<{ change: [ListeningState] }> {
  private state: ListeningState;
  readonly file: string;
  private saved = true;
  private readonly fs: ListeningFs;

  constructor(
    private readonly stateDir: string,
    atStart: ListeningAtStart,
    private readonly log?: { warn(obj: object, msg: string): void },
    fs: ListeningFs = nodeFs,
  ) {
    super();
    this.fs = fs;
    this.file = join(stateDir, LISTENING_FILE);
    this.removeStaleTemps();
    const now = new Date().toISOString();
    if (atStart === 'last') {
      const saved = this.read();
      this.state = saved ? { on: saved.on, by: 'saved', since: saved.since } : { on: true, by: 'default', since: now };
    } else {
      this.state = { on: atStart === 'on', by: 'config', since: now };
      this.save();
    }
  }

  get isOn(): boolean {
    return this.state.on;
  }

  /** A copy of the current state, for status pages. */
  get current(): ListeningState {
    return { ...this.state };
  }

  /** False when the last change could not be written to disk (see the header). */
  get persisted(): boolean {
    return this.saved;
  }

  /**
   * Switches; returns true when it changed (`change` emitted), false when it already was so or
   * when ON could not be saved. Check `persisted` after it: OFF takes effect even unsaved.
   */
  set(on: boolean, by: string): boolean {
    if (on === this.state.on) return false;
    const next = { on, by, since: new Date().toISOString() };
    const saved = this.save(next);
    if (!saved && on) return false; // ON only once it is on disk: the microphone stays closed
    this.state = next;
    this.emit('change', this.current);
    return true;
  }

  private removeStaleTemps(): void {
    let names: string[];
    try {
      names = this.fs.readdirSync(this.stateDir);
    } catch {
      return; // no directory yet
    }
    for (const n of names.filter((x) => STALE_TMP.test(x))) {
      try {
        this.fs.rmSync(join(this.stateDir, n), { force: true });
      } catch (e) {
        this.log?.warn({ err: e, path: join(this.stateDir, n) }, 'could not remove a stale temp file of the listening state');
      }
    }
  }

  private read(): ListeningState | null {
    try {
      const j = JSON.parse(this.fs.readFileSync(this.file, 'utf8') as string) as Partial<ListeningState>;
      if (typeof j.on === 'boolean') return { on: j.on, by: String(j.by ?? 'saved'), since: String(j.since ?? '') };
    } catch {
      // none yet, or unreadable: the default
    }
    return null;
  }

  /** temp, fsync, rename, fsync the directory; false (logged, temp removed) when any step fails. */
  private save(state: ListeningState = this.state): boolean {
    const fs = this.fs;
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(this.stateDir, { recursive: true });
      const fd = fs.openSync(tmp, 'w', 0o644);
      try {
        const text = `${JSON.stringify(state)}\n`;
        if (fs.writeSync(fd, text) !== Buffer.byteLength(text)) throw new Error(`short write to ${tmp}`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
      const dir = fs.openSync(this.stateDir, 'r');
      try {
        fs.fsyncSync(dir); // the rename itself survives a power cut
      } finally {
        fs.closeSync(dir);
      }
      this.saved = true;
      return true;
    } catch (e) {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // the removal at the next start gets it
      }
      this.saved = false;
      this.log?.warn({ err: e, path: this.file, on: state.on }, state.on ? 'could not save listening ON; it stays OFF (the microphone closed) until it can be saved' : 'could not save listening OFF; it is OFF now, but a restart would read the older saved state');
      return false;
    }
  }
}

/** `ON`, `off`, `true`, `0`, `{"on":true}` -> boolean; anything else -> null. */
export function parseListeningCommand(text: string): boolean | null {
  const t = text.trim();
  if (/^(on|true|1|yes)$/i.test(t)) return true;
  if (/^(off|false|0|no)$/i.test(t)) return false;
  try {
    const j = JSON.parse(t) as { on?: unknown; listening?: unknown } | string;
    if (typeof j === 'string') return parseListeningCommand(j);
    const v = j?.on ?? j?.listening;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') return parseListeningCommand(v);
  } catch {
    // not JSON
  }
  return null;
}
