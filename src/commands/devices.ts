/** `earshot devices`: what --source can capture from on this machine. Exit 0 even with no sound card. */
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { formatDeviceListing, listCaptureDevices, listPortAudioInChild, runCommand } from '../runtime/capture/devices.ts';

export function registerDevices(program: Command): void {
  program
    .command('devices')
    .description(summaryOf('devices'))
    .option('--json', 'print the listing as JSON')
    .option('--verbose', "also print the ALSA library's own messages (`ALSA lib ...`, one per PCM it cannot open), hidden by default")
    .action(async (opts: { json?: boolean; verbose?: boolean }) => {
      // PortAudio's list comes from a child process whose libasound chatter is filtered
      const listPortAudio = async () => (await listPortAudioInChild({ verbose: opts.verbose })).devices;
      const listing = await listCaptureDevices({ listPortAudio, run: runCommand });
      process.stdout.write(opts.json ? `${JSON.stringify(listing, null, 2)}\n` : `${formatDeviceListing(listing)}\n`);
    });
}
