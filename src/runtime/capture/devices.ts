/**
 * Lists the capture devices `--source` can name: PortAudio's inputs (index, name, channels,
 * default rate) and ALSA's PCMs as `arecord -L` prints them. Each half reports its own failure
 * instead of throwing, so a board without a sound card (or without naudiodon) still gets an answer.
 */
import { execFile } from 'node:child_process';
import type { LoadPortAudio, PortAudioDevice } from './portaudio.ts';

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

export async function listCaptureDevices(deps: { loadPortAudio: LoadPortAudio; run: RunCommand }): Promise<DeviceListing> {
  const listing: DeviceListing = { portaudio: { devices: [] }, alsa: { pcms: [], cards: [] } };
  try {
    const pa = await deps.loadPortAudio();
    listing.portaudio.devices = pa.getDevices().filter((d) => d.maxInputChannels > 0);
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
