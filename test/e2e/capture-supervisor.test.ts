/**
 * The supervisor (restart with backoff, never give up), the --source parser, and the device
 * listing, against real sources: arecord on real ALSA file-plugin devices and the real corpus clip.
 */
import { Command } from 'commander';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ArecordSource } from '../../src/runtime/capture/arecord.ts';
import { ALSA_LIB_LINE, AlsaStderrFilter, formatDeviceListing, listCaptureDevices, listPortAudioInChild, parseArecordL, runCommand } from '../../src/runtime/capture/devices.ts';
import { CAPTURE_DEFAULTS } from '../../src/runtime/capture/config.ts';
import { FileReplaySource } from '../../src/runtime/capture/file-replay.ts';
import { formatSource, parseSource } from '../../src/runtime/capture/parse-source.ts';
import { realTimers, type CaptureCondition, type CaptureSource, type CaptureTimers } from '../../src/runtime/capture/source.ts';
import { SupervisedSource } from '../../src/runtime/capture/supervisor.ts';
import { registerDevices } from '../../src/commands/devices.ts';
import { EarshotError } from '../../src/core/errors.ts';
import { CORPUS_CLIP, makeAlsaFixture } from '../helpers/alsa.ts';

const alsa = makeAlsaFixture();
process.env.ALSA_CONFIG_PATH = alsa.alsaConfigPath;
const log = { lines: [] as string[], info(m: string) { this.lines.push(m); }, warn(m: string) { this.lines.push(m); } };

/** Real timers that also record every delay asked for (the backoff schedule). */
/** Real timers that record each delay and know which are still pending (set, neither fired nor cleared). */
function recordingTimers(): CaptureTimers & { delays: number[]; pending: Set<unknown> } {
  const delays: number[] = [];
  const pending = new Set<unknown>();
  return {
    ...realTimers,
    delays,
    pending,
    setTimeout: (fn, ms) => {
      delays.push(ms);
      const h: unknown = realTimers.setTimeout(() => {
        pending.delete(h);
        fn();
      }, ms);
      pending.add(h);
      return h;
    },
    clearTimeout: (h) => {
      pending.delete(h);
      realTimers.clearTimeout(h);
    },
  };
}

/** Polls `done` every 5 ms until it holds (a condition, not a fixed sleep), failing after `ms`. */
async function until(what: string, done: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) assert.unreachable(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function arecord(device: string): () => Promise<CaptureSource> {
  return async () => new ArecordSource({ ...CAPTURE_DEFAULTS, device, env: alsa.env, firstChunkTimeoutMs: 2000 }, { log });
}

test('supervisor: a missing device is retried with backoff until one works; chunks keep one clock', async () => {
  const timers = recordingTimers();
  const plan = ['nosuchdev', 'nosuchdev', 'wavcap'];
  let attempt = 0;
  const sup = new SupervisedSource('mic', () => arecord(plan[Math.min(attempt++, plan.length - 1)])(), { initialBackoffMs: 20, maxBackoffMs: 30_000, backoffFactor: 3 }, { timers, log });
  const conditions: CaptureCondition[] = [];
  sup.on('condition', (c) => conditions.push(c));
  let samples = 0;
  let timeOk = true;
  sup.on('chunk', (c) => {
    if (Math.abs(c.time - samples / c.sampleRate) > 1e-9) timeOk = false;
    samples += c.samples.length;
  });
  await sup.start();
  await sup.stop();
  assert.is(sup.attempts, 3);
  assert.is(sup.restarts, 2);
  assert.equal(timers.delays, [20, 60]);
  assert.equal(conditions.map((c) => c.kind), ['device-lost', 'recovered']);
  assert.match(conditions[0].detail, /Unknown PCM nosuchdev/);
  assert.ok(samples > 0 && timeOk);
});

test('supervisor: a device lost mid-stream is reopened; a flat-lined one too; time stays continuous', async () => {
  // first a file that flat-lines (digital silence, looped), then the real clip: restart on flatline
  const zeros = { sampleRate: 16000, channels: 1, samples: new Float32Array(16000), format: 'wav/pcm16', durationSec: 1 };
  let attempt = 0;
  const factory = async (): Promise<CaptureSource> =>
    attempt++ === 0
      ? new FileReplaySource('zeros.wav', zeros, { ...CAPTURE_DEFAULTS, loop: true, realtime: false, flatlineSec: 0.5 }, { log })
      : FileReplaySource.fromFile(CORPUS_CLIP, { ...CAPTURE_DEFAULTS, realtime: false }, { log });
  const sup = new SupervisedSource('replay', factory, { initialBackoffMs: 10, maxBackoffMs: 30_000 }, { log });
  const kinds: string[] = [];
  sup.on('condition', (c) => kinds.push(c.kind));
  const times: number[] = [];
  sup.on('chunk', (c) => times.push(c.time));
  const ended = new Promise<void>((r) => sup.on('end', r));
  await sup.start();
  await ended;
  await sup.stop();
  assert.equal(kinds, ['flatline', 'recovered']);
  assert.is(sup.restarts, 1);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] > times[i - 1], `time went back at chunk ${i}`);
});

test('supervisor: arecord killed mid-capture -> device-lost, restart, audio again', async () => {
  let attempt = 0;
  let first: ArecordSource | null = null;
  const factory = async () => {
    const s = new ArecordSource({ ...CAPTURE_DEFAULTS, device: 'wavcap', env: alsa.env }, { log });
    if (attempt++ === 0) first = s;
    return s;
  };
  const sup = new SupervisedSource('mic', factory, { initialBackoffMs: 10, maxBackoffMs: 30_000 }, { log });
  const kinds: string[] = [];
  const recovered = new Promise<void>((r) => sup.on('condition', (c) => { kinds.push(c.kind); if (c.kind === 'recovered') r(); }));
  await sup.start();
  // kill the real arecord child from outside, as when the USB microphone is unplugged
  const pid = (first as unknown as { child: { pid: number } }).child.pid;
  process.kill(pid, 'SIGKILL');
  await recovered;
  await sup.stop();
  assert.equal(kinds, ['device-lost', 'recovered']);
  assert.is(sup.attempts, 2);
});

test('supervisor: backoff is capped; stop() while waiting rejects start() and ends the retries', async () => {
  const timers = recordingTimers();
  const sup = new SupervisedSource('mic', arecord('nosuchdev'), { initialBackoffMs: 10, backoffFactor: 2, maxBackoffMs: 40 }, { timers, log });
  const started = sup.start();
  await until('four retries scheduled', () => timers.delays.length >= 5);
  const p = sup.stop();
  try {
    await started;
    assert.unreachable('start() resolved with no audio');
  } catch (e) {
    assert.is((e as EarshotError).code, 'E_CAPTURE');
  }
  await p;
  // no retry can follow: stop() left no backoff timer pending
  assert.is(timers.pending.size, 0, 'a retry timer is still pending after stop()');
  assert.ok(timers.delays.length >= 4, `delays ${timers.delays}`);
  assert.equal(timers.delays.slice(0, 4), [10, 20, 40, 40]);
});

test('parseSource: every accepted form, and E_CONFIG listing them for a bad one', () => {
  assert.equal(parseSource('file:/tmp/a b.wav'), { kind: 'file', path: '/tmp/a b.wav', realtime: true, loop: false });
  assert.equal(parseSource('file:x.flac', { ...CAPTURE_DEFAULTS, realtime: false, loop: true }), { kind: 'file', path: 'x.flac', realtime: false, loop: true });
  assert.equal(parseSource('portaudio'), { kind: 'portaudio', sampleRate: 16000 });
  assert.equal(parseSource('portaudio:'), { kind: 'portaudio', sampleRate: 16000 });
  assert.equal(parseSource('portaudio:3'), { kind: 'portaudio', device: 3, sampleRate: 16000 });
  assert.equal(parseSource('portaudio:USB Audio@48000'), { kind: 'portaudio', device: 'USB Audio', sampleRate: 48000 });
  assert.equal(parseSource('arecord:plughw:1,0'), { kind: 'arecord', device: 'plughw:1,0', sampleRate: 16000 });
  assert.equal(parseSource('arecord:plughw:CARD=Device,DEV=0@44100'), { kind: 'arecord', device: 'plughw:CARD=Device,DEV=0', sampleRate: 44100 });
  assert.equal(parseSource('arecord'), { kind: 'arecord', device: 'default', sampleRate: 16000 });
  assert.equal(parseSource('stdin:s16le:16000'), { kind: 'stdin', format: 's16le', sampleRate: 16000 });
  assert.equal(parseSource('stdin:f32le:48000'), { kind: 'stdin', format: 'f32le', sampleRate: 48000 });
  assert.is(formatSource(parseSource('arecord:hw:1,0@8000')), 'arecord:hw:1,0@8000');
  const bad: [string, RegExp][] = [
    ['mic', /unknown source kind "mic"/],
    ['file:', /needs a path/],
    ['stdin:s24le:16000', /not s16le or f32le/],
    ['stdin:s16le', /exactly a format and a rate/],
    ['stdin:s16le:16k', /whole number of Hz/],
    ['arecord:hw:0@999999', /between 4000 and 384000/],
  ];
  for (const [spec, why] of bad) {
    try {
      parseSource(spec);
      assert.unreachable(spec);
    } catch (e) {
      assert.is((e as EarshotError).code, 'E_CONFIG', spec);
      assert.match((e as Error).message, why);
      assert.match((e as Error).message, /Accepted forms:[\s\S]*stdin:s16le:RATE/);
    }
  }
});

test('devices: PortAudio and ALSA listings from this machine (no sound card, file-plugin PCMs)', async () => {
  const listing = await listCaptureDevices({ listPortAudio: async () => (await listPortAudioInChild()).devices, run: runCommand });
  assert.equal(listing.portaudio.devices.map((d) => d.name).sort(), ['fifocap', 'wavcap', 'zerocap']);
  assert.ok(listing.alsa.pcms.some((p) => p.name === 'null' && /zero samples \(capture\)/.test(p.description)));
  assert.ok(listing.alsa.pcms.some((p) => p.name === 'wavcap'));
  assert.equal(listing.alsa.cards, []);
  const text = formatDeviceListing(listing);
  assert.match(text, /\n\s+\d+\s+128\s+44100\s+ALSA\s+wavcap/);
  assert.match(text, /no sound card found/);
  assert.equal(parseArecordL('null\n    Discard all\nhw:CARD=U,DEV=0\n    USB mic\n    Direct hardware\n'), [
    { name: 'null', description: 'Discard all' },
    { name: 'hw:CARD=U,DEV=0', description: 'USB mic / Direct hardware' },
  ]);
});

test('devices: PortAudio lists in a child whose libasound lines are hidden (counted), or passed on with verbose', async () => {
  const shown: string[] = [];
  const quiet = await listPortAudioInChild({ writeStderr: (s) => shown.push(s) });
  assert.equal(quiet.devices.map((d) => d.name).sort(), ['fifocap', 'wavcap', 'zerocap']);
  assert.ok(quiet.hidden > 10, `libasound complained about the card-less PCMs: ${quiet.hidden} lines`);
  assert.equal(shown, []);
  const loud = await listPortAudioInChild({ verbose: true, writeStderr: (s) => shown.push(s) });
  assert.is(loud.hidden, 0);
  assert.is(shown.length, quiet.hidden);
  assert.ok(shown.every((l) => ALSA_LIB_LINE.test(l)), shown.join(''));
  // other stderr lines are kept apart, partial lines wait for their newline
  const alsaLines: string[] = [];
  const other: string[] = [];
  const f = new AlsaStderrFilter({ alsa: (l) => alsaLines.push(l), other: (l) => other.push(l) });
  f.push("ALSA lib confmisc.c:855:(parse_card) cannot find card '0'\nsomething el");
  f.push('se\nALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM front');
  f.end();
  assert.equal([f.hidden, alsaLines, other], [2, [], ['something else']]);
  console.log(`  PortAudio's listing: ${quiet.hidden} ALSA library lines hidden`);
});

test("arecord's stderr (libasound's lines) reaches the log at debug level only; a failure still names its cause", async () => {
  const lines: Record<'info' | 'warn' | 'debug', string[]> = { info: [], warn: [], debug: [] };
  const log = { info: (m: string) => lines.info.push(m), warn: (m: string) => lines.warn.push(m), debug: (m: string) => lines.debug.push(m) };
  const s = new ArecordSource({ ...CAPTURE_DEFAULTS, device: 'nosuchpcm', env: alsa.env, firstChunkTimeoutMs: 5000 }, { log });
  const err = await s.start().then(() => null, (e: Error) => e);
  await s.stop();
  assert.ok(err, 'an unknown PCM fails');
  assert.match(err!.message, /nosuchpcm/);
  assert.ok(lines.debug.some((l) => /ALSA lib .*nosuchpcm/.test(l)), lines.debug.join('\n'));
  assert.not.ok([...lines.info, ...lines.warn].some((l) => /^arecord:nosuchpcm\S*: ALSA lib/.test(l)), 'no ALSA line of its own at info or warn');
});

test('earshot devices: prints a helpful listing and exits 0 when PortAudio is unavailable and there is no card', async () => {
  const program = new Command('earshot').exitOverride();
  registerDevices(program);
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'earshot', 'devices', '--json']);
  } finally {
    process.stdout.write = write;
  }
  const parsed = JSON.parse(out.join(''));
  assert.ok(Array.isArray(parsed.portaudio.devices) && Array.isArray(parsed.alsa.pcms));
  const text = formatDeviceListing({ portaudio: { devices: [], error: 'PortAudio (naudiodon) could not be loaded: x' }, alsa: { pcms: [], cards: [] } });
  assert.match(text, /unavailable: PortAudio \(naudiodon\) could not be loaded/);
  assert.match(text, /No microphone here\. earshot can still run from --source file:PATH/);
});

test.after(() => alsa.cleanup());
test.run();
