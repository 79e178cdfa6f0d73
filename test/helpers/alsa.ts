/**
 * Real ALSA capture devices without a sound card, through ALSA's `file` plugin: its `infile` is
 * read as the captured audio (slave `null` only supplies the timing, and does not pace: capture
 * runs as fast as the reader takes it). Measured here (alsa-lib 1.2): the first infile-length
 * bytes are the file exactly; after EOF the plugin keeps handing out its stale ring buffer (the
 * last ~4000 bytes again and again), so tests compare only the first N samples.
 *
 * Devices made:
 *   wavcap   - a real corpus clip (RAVDESS, via sox to raw S16_LE mono 16 kHz)
 *   zerocap  - 2 s of digital silence (a muted microphone)
 *   fifocap  - infile is a FIFO whose write end the test holds and never writes: the device opens,
 *              then every read blocks (a microphone that delivers nothing). The writer stays open for
 *              the whole run: without one, opening the device (PortAudio probes every PCM when it
 *              lists devices) would block the process.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** RAVDESS Actor 01, neutral, statement 1: 3.3 s of real speech, 16 kHz mono 16-bit FLAC. */
export const CORPUS_CLIP = new URL('../../../shared/data/ravdess/Actor_01/03-01-01-01-01-01-01.flac', import.meta.url).pathname;

/** one ALSA period or so: enough for the file plugin's read to return (less than the 64 KiB pipe buffer, so the write never blocks) */
const FIFO_WAKE_BYTES = 16384;

export interface AlsaFixture {
  dir: string;
  /** the corpus clip as raw S16_LE mono 16 kHz (what wavcap captures) */
  rawPath: string;
  /** its samples, scaled by 1/32768 as every source scales S16 */
  clip: Float32Array;
  /** value for ALSA_CONFIG_PATH that defines wavcap, zerocap and fifocap */
  alsaConfigPath: string;
  /** environment for arecord children */
  env: NodeJS.ProcessEnv;
  /** wake readers blocked on fifocap by writing a little data into it (closing would make later opens block) */
  unblockFifo(): void;
  /** throw away anything left in fifocap, so the next reader blocks again */
  drainFifo(): void;
  cleanup(): void;
}

export function makeAlsaFixture(): AlsaFixture {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-alsa-'));
  const rawPath = join(dir, 'clip.raw');
  const sox = spawnSync('sox', [CORPUS_CLIP, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-c', '1', '-r', '16000', rawPath], { encoding: 'utf8' });
  if (sox.status !== 0) throw new Error(`sox could not convert ${CORPUS_CLIP}: ${sox.stderr}`);
  const bytes = readFileSync(rawPath);
  const clip = new Float32Array(bytes.length / 2);
  for (let i = 0; i < clip.length; i++) clip[i] = bytes.readInt16LE(2 * i) / 32768;

  const zerosPath = join(dir, 'zeros.raw');
  writeFileSync(zerosPath, new Uint8Array(2 * 16000 * 2));
  const fifoPath = join(dir, 'silent.fifo');
  const mk = spawnSync('mkfifo', [fifoPath]);
  if (mk.status !== 0) throw new Error(`mkfifo failed: ${mk.stderr}`);
  // O_RDWR on a FIFO does not block on Linux, and gives readers a writer to wait on for the whole run.
  let fifoWriter: number | null = openSync(fifoPath, 'r+');
  const fifoDrain = openSync(fifoPath, constants.O_RDONLY | constants.O_NONBLOCK);

  const conf = join(dir, 'earshot-test.conf');
  const dev = (name: string, infile: string) => `pcm.${name} { type file; slave.pcm "null"; file "/dev/null"; infile "${infile}"; format "raw" }\n`;
  writeFileSync(conf, dev('wavcap', rawPath) + dev('zerocap', zerosPath) + dev('fifocap', fifoPath));
  const alsaConfigPath = `/usr/share/alsa/alsa.conf:${conf}`;
  return {
    dir,
    rawPath,
    clip,
    alsaConfigPath,
    env: { ...process.env, ALSA_CONFIG_PATH: alsaConfigPath },
    unblockFifo() {
      if (fifoWriter !== null) writeSync(fifoWriter, new Uint8Array(FIFO_WAKE_BYTES));
    },
    drainFifo() {
      const sink = new Uint8Array(65536);
      try {
        while (readSync(fifoDrain, sink) > 0);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
    },
    cleanup() {
      if (fifoWriter !== null) closeSync(fifoWriter);
      fifoWriter = null;
      closeSync(fifoDrain);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
