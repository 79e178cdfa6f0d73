/**
 * The daemon's configuration, loaded and validated on a short-lived worker thread (issue 32,
 * memory). The schema (zod), the YAML parser and the tables of every setting cost the main thread
 * 1-2 MB of private memory for as long as it runs, and ES modules are never unloaded; a worker's
 * isolate is freed when it exits, so the daemon keeps only the plain, validated object. Every
 * message is the same as in-process validation gives (./config.ts: each error with its path and
 * origin, `did you mean`), with the same code and so the same exit status; the schema, its
 * defaults and its types stay defined once, in ./config.ts and the stages' schemas.
 *
 * The worker is ./config-worker.ts; under tsx (development, tests) it registers tsx's hooks first,
 * which a worker does not inherit in Node 20 (as src/bench/fuzz.ts does).
 */
import { Worker } from 'node:worker_threads';
import { EarshotError, type ErrorCode } from '../core/errors.ts';
import type { DaemonConfig, LoadConfigInput } from './config.ts';

/** What ./config-worker.ts posts back: the config, or the error it threw. */
export type ConfigReply = { ok: true; config: DaemonConfig } | { ok: false; code?: ErrorCode; message: string; stack?: string };

/** loadDaemonConfig() of ./config.ts on a worker thread: the same config, or the same error. */
export async function loadDaemonConfigIsolated(input: Omit<LoadConfigInput, 'readFile'>): Promise<DaemonConfig> {
  const dev = import.meta.url.endsWith('.ts');
  const entry = JSON.stringify(new URL(`./config-worker.${dev ? 'ts' : 'js'}`, import.meta.url).href);
  const boot = dev ? `import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); })` : `import(${entry})`;
  const worker = new Worker(boot, { eval: true, workerData: { ...input, env: { ...input.env } } });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const reply = await new Promise<ConfigReply | Error>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', resolve);
    void exited.then((status) => resolve(new Error(`the configuration worker exited (${status}) without an answer`)));
  });
  // its isolate (zod, yaml, the schema) is gone once it has exited
  await exited;
  if (reply instanceof Error) throw reply;
  if (reply.ok) return reply.config;
  if (reply.code) throw new EarshotError(reply.code, reply.message);
  const bug = new Error(reply.message);
  if (reply.stack) bug.stack = reply.stack;
  throw bug;
}
