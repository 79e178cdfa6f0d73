/** `earshot devices`: what --source can capture from on this machine. Exit 0 even with no sound card. */
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { formatDeviceListing, listCaptureDevices, runCommand } from '../runtime/capture/devices.ts';
import { loadNaudiodon } from '../runtime/capture/portaudio.ts';

export function registerDevices(program: Command): void {
  program
    .command('devices')
    .description(summaryOf('devices'))
    .option('--json', 'print the listing as JSON')
    .action(async (opts: { json?: boolean }) => {
      const listing = await listCaptureDevices({ loadPortAudio: loadNaudiodon, run: runCommand });
      process.stdout.write(opts.json ? `${JSON.stringify(listing, null, 2)}\n` : `${formatDeviceListing(listing)}\n`);
    });
}
