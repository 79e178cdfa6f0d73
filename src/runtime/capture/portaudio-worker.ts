/**
 * The PortAudio stream, in a process of its own (started by PortAudioProcessSource,
 * portaudio-process.ts). naudiodon's native code printf()s to file descriptor 1 whenever a stream
 * opens or finishes ("PortAudio V19...", "Input device name is ..."), and Node cannot redirect a
 * descriptor of its own process (there is no dup2 without a native addon). Here fd 1 is a pipe the
 * parent reads and logs, so that chatter never reaches the daemon's stdout, which `--stdout`
 * promises carries only event lines. It also keeps a crash in the audio driver out of the daemon:
 * the parent sees this process die and reports `device-lost`.
 *
 * Protocol: argv[2] is the JSON of WorkerRequest. Raw S16_LE mono PCM goes out on fd 3; one
 * message goes over the IPC channel: {opened: label} once the stream started, or {error: text}
 * before exiting with code 69. Closing the IPC channel quits the stream and exits 0.
 */
import { createWriteStream } from 'node:fs';
import { loadNaudiodon, resolvePortAudioDevice, type PortAudioInput } from './portaudio.ts';

export interface WorkerRequest {
  device?: string | number;
  sampleRate: number;
}

export type WorkerMessage = { opened: string } | { error: string };

const send = (m: WorkerMessage) => new Promise<void>((resolve) => (process.send ? process.send(m, () => resolve()) : resolve()));

async function die(text: string): Promise<never> {
  await send({ error: text });
  process.exit(69); // EX_UNAVAILABLE
}

async function main(): Promise<void> {
  const req = JSON.parse(process.argv[2] ?? '{}') as WorkerRequest;
  const pa = await loadNaudiodon();
  const device = resolvePortAudioDevice(pa.getDevices(), req.device);
  const label = device ? `${device.id} "${device.name}"` : 'the default input';
  const pcm = createWriteStream('', { fd: 3 });
  pcm.on('error', () => process.exit(0)); // the parent closed its end: it is gone or stopping us
  let stream: PortAudioInput;
  try {
    stream = new pa.AudioIO({
      inOptions: { channelCount: 1, sampleFormat: 16, sampleRate: req.sampleRate, deviceId: device ? device.id : -1, closeOnError: true },
    });
  } catch (e) {
    const rate = device ? ` (its default rate is ${device.defaultSampleRate} Hz)` : '';
    return die(`PortAudio could not open ${label} for mono 16-bit capture at ${req.sampleRate} Hz${rate}: ${(e as Error).message}. Try another rate with @RATE in --source, or an ALSA plug device (plughw:...)`);
  }
  let quitting = false;
  const quit = () => {
    if (quitting) return;
    quitting = true;
    // Not stream.quit(): it stops the stream by joining PortAudio's callback thread, which blocks this
    // event loop for as long as that thread sits in a driver read (seen with the ALSA file plugin:
    // seconds). Exiting releases the device just the same; the parent SIGKILLs us if even that hangs.
    process.exit(0);
  };
  // The parent stops us by closing the IPC channel (and so does its death). SIGINT and SIGTERM are
  // ignored: a Ctrl-C in a terminal or systemd's stop reaches the whole process group, and the
  // stream must outlive the daemon's own orderly shutdown rather than look like a lost device.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('disconnect', quit);
  stream.on('end', () => void (quitting || die('the stream ended')));
  stream.on('error', (e) => void (quitting || die(e.message)));
  // Backpressure: a reader slower than the device (the ALSA file plugin is not paced at all) must
  // not make this process buffer without bound; paused, PortAudio's own small queue drops instead.
  const readable = stream as unknown as NodeJS.ReadableStream;
  stream.on('data', (b) => {
    if (!pcm.write(b)) readable.pause();
  });
  pcm.on('drain', () => readable.resume());
  stream.start();
  await send({ opened: label });
}

main().catch((e: Error) => die(e.message));
