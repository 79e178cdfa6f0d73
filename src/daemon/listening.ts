/**
 * The privacy switch: whether earshot listens at all. OFF stops audio at the capture stage (the
 * daemon closes a microphone it supervises and drops the chunks of a file or stdin source, so no
 * frame reaches the frontend and no event, state or metric counts that audio); ON starts again.
 *
 * Set from MQTT (`<base>/listening/set`), from HTTP (`POST /listening`, see http.ts) or by code
 * (the dashboard can take this object as it is: `isOn`, `current`, `set()`, the `change` event).
 *
 * Durability: the state is written to `<stateDir>/listening.json` on every change (temp file,
 * fsync, rename: a crash keeps the old state or the new one). At start, `privacy.listeningAtStart`
 * decides: `last` (default) takes the saved state (ON when there is none), `on`/`off` force it.
 */
import { EventEmitter } from 'node:events';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
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

export class ListeningSwitch extends EventEmitter<{ change: [ListeningState] }> {
  private state: ListeningState;
  readonly file: string;

  constructor(
    stateDir: string,
    atStart: ListeningAtStart,
    private readonly log?: { warn(obj: object, msg: string): void },
  ) {
    super();
    this.file = join(stateDir, LISTENING_FILE);
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

  /** Switches; returns true when it changed (saved and `change` emitted), false when it already was so. */
  set(on: boolean, by: string): boolean {
    if (on === this.state.on) return false;
    this.state = { on, by, since: new Date().toISOString() };
    this.save();
    this.emit('change', this.current);
    return true;
  }

  private read(): ListeningState | null {
    try {
      const j = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<ListeningState>;
      if (typeof j.on === 'boolean') return { on: j.on, by: String(j.by ?? 'saved'), since: String(j.since ?? '') };
    } catch {
      // none yet, or unreadable: the default
    }
    return null;
  }

  private save(): void {
    try {
      mkdirSync(join(this.file, '..'), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      const fd = openSync(tmp, 'w', 0o644);
      try {
        writeSync(fd, `${JSON.stringify(this.state)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
    } catch (e) {
      this.log?.warn({ err: e, path: this.file }, 'could not save the listening state; it holds until the daemon stops');
    }
  }
}

/** `ON`, `off`, `true`, `0`, `{"on":true}` -> boolean; anything else -> null. */
export function parseListeningCommand(text: string): boolean | null {
  const t = text.trim();
  if (/^(on|true|1|yes)$/i.test(t)) return true;
  if (/^(off|false|0|no)$/i.test(t)) return false;
  try {
    const j = JSON.parse(t) as { on?: unknown; listening?: unknown };
    const v = j.on ?? j.listening;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') return parseListeningCommand(v);
  } catch {
    // not JSON
  }
  return null;
}
