// Scaffolding shared by the end-to-end tests: polling with a timeout, and clean-up that runs after
// each test whatever it ended with.
import type { Test } from 'uvu';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `done` every `pollMs`; throws after `timeoutMs`, with `context()` (e.g. the daemon's stderr) in the message. */
export async function waitUntil(what: string, done: () => boolean | Promise<boolean>, timeoutMs = 30000, context: () => string = () => '', pollMs = 20): Promise<void> {
  const t0 = Date.now();
  while (!(await done())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await sleep(pollMs);
  }
}

/** A `defer(thing, undo)` for `suite`: each undo runs after the test that deferred it, newest first, errors ignored. */
export function deferAfterEach(suite: Test): <T>(thing: T, undo: (t: T) => unknown) => T {
  const cleanups: (() => unknown)[] = [];
  suite.after.each(async () => {
    while (cleanups.length) await Promise.resolve().then(cleanups.pop()!).catch(() => {});
  });
  return (thing, undo) => (cleanups.push(() => undo(thing)), thing);
}
