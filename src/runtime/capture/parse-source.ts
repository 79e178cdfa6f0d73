/**
 * The `--source` flag: one string names where audio comes from. Parsed into a typed descriptor
 * here; createSource() (create-source.ts) builds the source from it.
 */
import { EarshotError } from '../../core/errors.ts';
import type { PcmFormat } from './chunker.ts';
import { CAPTURE_DEFAULTS, type CaptureConfig } from './config.ts';

export type SourceDescriptor =
  | { kind: 'file'; path: string; realtime: boolean; loop: boolean }
  | { kind: 'portaudio'; /** index, or part of the name; undefined = default input */ device?: string | number; sampleRate: number }
  | { kind: 'arecord'; /** ALSA PCM name */ device: string; sampleRate: number }
  | { kind: 'stdin'; format: PcmFormat; sampleRate: number };

export const SOURCE_FORMS = [
  'file:PATH                    replay a WAV/FLAC/AIFF file',
  'portaudio[:DEVICE][@RATE]    PortAudio input; DEVICE = index or part of its name (see `earshot devices`); default input if omitted',
  'arecord[:DEVICE][@RATE]      ALSA through arecord; DEVICE as `arecord -L` lists it (e.g. plughw:1,0); `default` if omitted',
  'stdin:s16le:RATE             raw mono PCM on stdin (or stdin:f32le:RATE)',
];

/** What a spec does not say: the device rate without @RATE, and how a file is replayed (the capture config's, ./config.ts). */
export type ParseSourceDefaults = Pick<CaptureConfig, 'sampleRate' | 'realtime' | 'loop'>;

function bad(spec: string, why: string): EarshotError {
  return new EarshotError('E_CONFIG', `--source "${spec}": ${why}. Accepted forms:\n  ${SOURCE_FORMS.join('\n  ')}`);
}

/** A rate must be a whole number of Hz in a range real audio hardware uses. */
function parseRate(spec: string, text: string): number {
  const rate = Number(text);
  if (!/^\d+$/.test(text) || rate < 4000 || rate > 384000) throw bad(spec, `sample rate "${text}" must be a whole number of Hz between 4000 and 384000`);
  return rate;
}

/** Split a trailing `@RATE` off a device (ALSA and PortAudio names never end in @digits). */
function deviceAndRate(spec: string, rest: string, fallbackRate: number): { device: string; sampleRate: number } {
  const m = /^(.*)@([^@]*)$/.exec(rest);
  if (!m) return { device: rest, sampleRate: fallbackRate };
  return { device: m[1], sampleRate: parseRate(spec, m[2]) };
}

export function parseSource(spec: string, defaults: ParseSourceDefaults = CAPTURE_DEFAULTS): SourceDescriptor {
  const rate = defaults.sampleRate;
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  switch (kind) {
    case 'file':
      if (!rest) throw bad(spec, 'file: needs a path');
      return { kind: 'file', path: rest, realtime: defaults.realtime, loop: defaults.loop };
    case 'portaudio': {
      const { device, sampleRate } = deviceAndRate(spec, rest, rate);
      if (device === '') return { kind: 'portaudio', sampleRate };
      return { kind: 'portaudio', device: /^\d+$/.test(device) ? Number(device) : device, sampleRate };
    }
    case 'arecord': {
      const { device, sampleRate } = deviceAndRate(spec, rest, rate);
      return { kind: 'arecord', device: device || 'default', sampleRate };
    }
    case 'stdin': {
      const [format, rateText, ...extra] = rest.split(':');
      if (format !== 's16le' && format !== 'f32le') throw bad(spec, `stdin sample format "${format ?? ''}" is not s16le or f32le`);
      if (rateText === undefined || extra.length > 0) throw bad(spec, 'stdin needs exactly a format and a rate, e.g. stdin:s16le:16000');
      return { kind: 'stdin', format, sampleRate: parseRate(spec, rateText) };
    }
    default:
      throw bad(spec, `unknown source kind "${kind}"`);
  }
}

/** The descriptor written back as a spec (for logs and MQTT metrics). */
export function formatSource(d: SourceDescriptor): string {
  switch (d.kind) {
    case 'file': return `file:${d.path}`;
    case 'portaudio': return `portaudio:${d.device ?? ''}@${d.sampleRate}`;
    case 'arecord': return `arecord:${d.device}@${d.sampleRate}`;
    case 'stdin': return `stdin:${d.format}:${d.sampleRate}`;
  }
}
