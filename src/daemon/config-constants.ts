/** Names of the daemon's configuration that modules use at run time, without loading its schema (./config.ts). */

/** `--source demo`: the bundled clip, replayed once at real time (see daemon.ts). */
export const DEMO_SOURCE = 'demo';
