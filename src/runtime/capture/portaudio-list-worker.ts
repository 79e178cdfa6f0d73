/**
 * PortAudio's device list, from a process of its own (started by listPortAudioInChild in
 * devices.ts). Listing initialises PortAudio, whose ALSA host probes every PCM of the ALSA
 * configuration; on a machine without a sound card libasound then prints dozens of
 * `ALSA lib ...: cannot find card '0'` lines to stderr (60 on a card-less Debian 12 VM). They come
 * from snd_lib_error, whose handler (snd_lib_error_set_handler) JavaScript cannot reach, and Node
 * cannot redirect a descriptor of its own process; here fd 2 is a pipe the parent filters.
 *
 * Protocol: one IPC message, {devices} or {error}, then exit (0, or 69 after an error).
 */
import { loadNaudiodon, type PortAudioDevice } from './portaudio.ts';

export type ListWorkerMessage = { devices: PortAudioDevice[] } | { error: string };

const send = (m: ListWorkerMessage) => new Promise<void>((resolve) => (process.send ? process.send(m, () => resolve()) : resolve()));

try {
  const pa = await loadNaudiodon();
  // the plain fields only: naudiodon's objects cross the IPC channel as JSON
  const devices = pa.getDevices().map(({ id, name, maxInputChannels, defaultSampleRate, hostAPIName }): PortAudioDevice => ({ id, name, maxInputChannels, defaultSampleRate, hostAPIName }));
  await send({ devices });
  process.exit(0);
} catch (e) {
  await send({ error: (e as Error).message });
  process.exit(69); // EX_UNAVAILABLE
}
