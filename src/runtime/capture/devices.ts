/**
 * Lists the capture devices `--source` can name: PortAudio's inputs (index, name, channels,
 * default rate) and ALSA's PCMs as `arecord -L` prints them. Each half reports its own failure
 * instead of throwing, so a board without a sound card (or without naudiodon) still gets an answer.
 *
 * Quiet by default: PortAudio's list is taken in a child process (portaudio-list-worker.ts) whose
 * stderr is filtered, because libasound prints `ALSA lib ...` lines for every PCM it cannot open
 * (60 before the 11 useful lines on a machine without a sound card); `arecord`'s stderr is read,
 * not passed on. `verbose` passes the ALSA lines through.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadPortAudio, PortAudioDevice } from './portaudio.ts';
import type { ListWorkerMessage } from './portaudio-list-worker.ts';

export interface AlsaPcm {
  /** what to put after arecord: in --source */
  name: string;
  description: string;
}

export interface DeviceListing {
  portaudio: { devices: PortAudioDevice[]; error?: string };
  alsa: { pcms: AlsaPcm[]; cards: string[]; error?: string };
}

/** Runs a command and returns its stdout and stderr; narrow so tests can feed canned output. */
export type RunCommand = (command: string, args: readonly string[]) => Promise<{ stdout: string; stderr: string; code: number }>;

export const runCommand: RunCommand = (command, args) =>
  new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: 10000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : -1) : 0;
      resolve({ stdout, stderr: err && !stderr ? err.message : stderr, code });
    });
  });

/** `arecord -L`: a PCM name at column 0, its description on the indented lines below. */
export function parseArecordL(text: string): AlsaPcm[] {
  const out: AlsaPcm[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (/^\s/.test(line)) {
      const last = out[out.length - 1];
      if (last) last.description = last.description ? `${last.description} / ${line.trim()}` : line.trim();
    } else {
      out.push({ name: line.trim(), description: '' });
    }
  }
  return out;
}

/** `arecord -l`: keep the `card N: ... device M: ...` lines (hardware capture devices). */
export function parseArecordl(text: string): string[] {
  return text.split('\n').filter((l) => /^card \d+:/.test(l)).map((l) => l.trim());
}

/** libasound's own diagnostics (snd_lib_error's default handler): `ALSA lib FILE:LINE:(FUNCTION) ...` */
export const ALSA_LIB_LINE = /^ALSA lib \S+:\d+:/;

/**
 * Lines of a child's stderr: libasound's go to `alsa` (counted, and written only when `verbose`), the
 * others to `other`. Partial lines are held until their newline or the end.
 */
export class AlsaStderrFilter {
  hidden = 0;
  private partial = '';
  constructor(private readonly sink: { alsa(line: string): void; other(line: string): void }, private readonly verbose = false) {}

  push(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    for (const line of parts) this.line(line);
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  private line(line: string): void {
    if (!line.trim()) return;
    if (!ALSA_LIB_LINE.test(line)) this.sink.other(line);
    else if (this.verbose) this.sink.alsa(line);
    else this.hidden++;
  }
}

/** How listPortAudioInChild starts the worker; narrow so tests can give another script. */
export type SpawnListWorker = () => ChildProcess;

/** The worker beside this module: compiled JavaScript as installed, TypeScript through tsx in a checkout. */
export const spawnListWorker: SpawnListWorker = () => {
  const self = fileURLToPath(import.meta.url);
  const ext = extname(self);
  const entry = join(dirname(self), `portaudio-list-worker${ext}`);
  return spawn(process.execPath, [...(ext === '.ts' ? ['--import', 'tsx'] : []), entry], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
};

/**
 * PortAudio's devices, listed by a child process: its `ALSA lib` lines are dropped (counted in
 * `hidden`) unless `verbose`, when they go to `writeStderr`. Rejects with the worker's own error
 * (naudiodon missing, PortAudio failing) or, if it died without one, with its other stderr lines.
 */
export function listPortAudioInChild(opts: { verbose?: boolean; writeStderr?: (s: string) => void; spawnWorker?: SpawnListWorker } = {}): Promise<{ devices: PortAudioDevice[]; hidden: number }> {
  const write = opts.writeStderr ?? ((s: string) => void process.stderr.write(s));
  return new Promise((resolve, reject) => {
    const child = (opts.spawnWorker ?? spawnListWorker)();
    const other: string[] = [];
    const filter = new AlsaStderrFilter({ alsa: (l) => write(`${l}\n`), other: (l) => other.push(l) }, opts.verbose);
    let message: ListWorkerMessage | null = null;
    child.stderr?.setEncoding('utf8').on('data', (s: string) => filter.push(s));
    child.on('message', (m: ListWorkerMessage) => (message = m));
    child.once('error', (e) => reject(e));
    child.once('close', (code, signal) => {
      filter.end();
      const m = message as ListWorkerMessage | null;
      if (m && 'devices' in m) resolve({ devices: m.devices, hidden: filter.hidden });
      else reject(new Error(m?.error ?? `the PortAudio list worker ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${other.length ? `: ${other.slice(-3).join(' | ')}` : ''}`));
    });
  });
}

export interface ListDeps {
  run: RunCommand;
  /** PortAudio's devices, listed quietly (listPortAudioInChild); preferred to loadPortAudio */
  listPortAudio?: () => Promise<PortAudioDevice[]>;
  /** naudiodon in this process (tests with a fake PortAudio) */
  loadPortAudio?: LoadPortAudio;
}

export async function listCaptureDevices(deps: ListDeps): Promise<DeviceListing> {
  const listing: DeviceListing = { portaudio: { devices: [] }, alsa: { pcms: [], cards: [] } };
  try {
    const all = deps.listPortAudio ? await deps.listPortAudio() : deps.loadPortAudio ? (await deps.loadPortAudio()).getDevices() : [];
    listing.portaudio.devices = all.filter((d) => d.maxInputChannels > 0);
  } catch (e) {
    listing.portaudio.error = (e as Error).message;
  }
  const pcms = await deps.run('arecord', ['-L']);
  if (pcms.code === 0) listing.alsa.pcms = parseArecordL(pcms.stdout);
  else listing.alsa.error = pcms.code === -1 && /ENOENT/.test(pcms.stderr) ? 'arecord is not installed (apt-get install alsa-utils)' : pcms.stderr.trim();
  const cards = await deps.run('arecord', ['-l']);
  listing.alsa.cards = parseArecordl(cards.stdout);
  return listing;
}

/** The human-readable listing `earshot devices` prints. */
export function formatDeviceListing(l: DeviceListing): string {
  const lines: string[] = ['PortAudio capture devices (--source portaudio:INDEX or portaudio:NAME):'];
  if (l.portaudio.error) lines.push(`  unavailable: ${l.portaudio.error}`);
  else if (l.portaudio.devices.length === 0) lines.push('  none found');
  else {
    lines.push('  index  in-ch  default-Hz  host  name');
    for (const d of l.portaudio.devices) {
      lines.push(`  ${String(d.id).padStart(5)}  ${String(d.maxInputChannels).padStart(5)}  ${String(d.defaultSampleRate).padStart(10)}  ${d.hostAPIName}  ${d.name}`);
    }
  }
  lines.push('', 'ALSA sound cards (arecord -l):');
  if (l.alsa.cards.length === 0) lines.push('  no sound card found: plug in a USB microphone or enable an audio HAT, then check `arecord -l`');
  else for (const c of l.alsa.cards) lines.push(`  ${c}`);
  lines.push('', 'ALSA capture PCMs (--source arecord:NAME, from arecord -L):');
  if (l.alsa.error) lines.push(`  unavailable: ${l.alsa.error}`);
  else if (l.alsa.pcms.length === 0) lines.push('  none');
  else {
    const w = Math.max(...l.alsa.pcms.map((p) => p.name.length));
    for (const p of l.alsa.pcms) lines.push(`  ${p.name.padEnd(w)}  ${p.description}`);
  }
  const usable = l.portaudio.devices.length > 0 || l.alsa.cards.length > 0;
  if (!usable) lines.push('', 'No microphone here. earshot can still run from --source file:PATH or --source stdin:s16le:16000.');
  return lines.join('\n');
}
