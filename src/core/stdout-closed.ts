/**
 * A reader that goes away (`earshot run --print-env | head -1`, `earshot analyze --json DIR | head`)
 * closes stdout: the next write fails with EPIPE, which Node raises as an unhandled 'error' event, a
 * crash with a stack trace. Like other Unix tools, earshot then stops writing: a command exits 0 at
 * once; the daemon (`earshot run --stdout`) registers its own handler and shuts down as on SIGTERM,
 * its undelivered events kept in the on-disk queue.
 */
let onClosed: () => void = () => process.exit(0);
let closed = false;

/** What happens when stdout's reader has gone (replaces the default, exit 0). */
export function whenStdoutCloses(handler: () => void): void {
  onClosed = handler;
}

/** Installs the handler on process.stdout (once, from the CLI's entry point). */
export function watchStdout(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    // after the first EPIPE the stream is destroyed, and each later write fails with ERR_STREAM_DESTROYED
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
    if (closed) return;
    closed = true;
    onClosed();
  });
}
