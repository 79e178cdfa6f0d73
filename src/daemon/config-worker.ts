/**
 * The worker thread of ./config-isolated.ts: validates the daemon's configuration with
 * loadDaemonConfig() and posts the plain result (or the error: its code, message and stack) back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isEarshotError } from '../core/errors.ts';
import { loadDaemonConfig, type LoadConfigInput } from './config.ts';
import type { ConfigReply } from './config-isolated.ts';

function reply(): ConfigReply {
  try {
    return { ok: true, config: loadDaemonConfig(workerData as LoadConfigInput) };
  } catch (e) {
    if (isEarshotError(e)) return { ok: false, code: e.code, message: e.message };
    return { ok: false, message: e instanceof Error ? e.message : String(e), ...(e instanceof Error && e.stack ? { stack: e.stack } : {}) };
  }
}

parentPort!.postMessage(reply());
