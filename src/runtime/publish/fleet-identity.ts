/**
 * Fleet identity: who else is on this device id. The publisher collects the retained `status` and
 * `instance` of its device id behind a fence message (publisher.ts), then asks these judgements:
 * - on the first connect of the process (`judgeClaim`): `status` online with another
 *   installation's id in `instance` is only a claim (any client of the broker can publish those
 *   two retained messages, and one forged pair used to stop the service for good): `otherClaim`
 *   finds it, and the publisher asks the claimant to prove it is alive: it publishes a per-run
 *   nonce on `<base>/instance/ping` and waits LIVENESS_TIMEOUT_MS for an answer on
 *   `<base>/instance/pong` (every running daemon answers its device id's pings, `pongFor`). A live
 *   answer -> refuse with `liveTwinError` (exit 69: a supervisor retries, in case that one goes
 *   away); none -> the claim is stale or forged, logged with its host, and replaced by ours. Online
 *   with its own id -> its previous run, which did not stop cleanly: take over;
 * - on a reconnect (`judgeRejoin`) and on every `instance` message while running (`earlierTwin`):
 *   another run of this installation (same state directory) that started earlier means two
 *   daemons share one state directory, and the later one leaves.
 */
import { z } from 'zod';
import { EarshotError } from '../../core/errors.ts';
import type { PublisherConfig } from './config.ts';
import { instanceInfoSchema, type InstanceInfo } from './payloads.ts';

/** The retained messages seen on our own topics behind the fence. */
export interface RetainedView {
  status: string | undefined;
  instance: string | undefined;
}

export interface IdentityLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

type IdentityConfig = Pick<PublisherConfig, 'deviceId' | 'stateDir'>;

function parseInstance(payload: string | undefined): InstanceInfo | undefined {
  if (!payload) return undefined;
  try {
    return instanceInfoSchema.parse(JSON.parse(payload));
  } catch {
    return undefined;
  }
}

/** An error when another installation is online under this device id, else undefined (logged when it takes over). */
export function judgeClaim(seen: RetainedView, installationId: string, config: IdentityConfig, statusTopic: string, log: IdentityLog): EarshotError | undefined {
  if (seen.status !== 'online') return undefined;
  const other = parseInstance(seen.instance);
  const id = config.deviceId;
  if (!other) {
    log.warn({ deviceId: id, topic: statusTopic }, `device id "${id}" is shown online by a daemon that does not say which installation it is (an earshot before 0.2?); going on. If two boxes use this id, give each its own with --device-id`);
    return undefined;
  }
  if (other.installationId === installationId) {
    log.info({ deviceId: id, previous: other.startedAt, clientId: other.clientId }, `device id "${id}" is still shown online by this installation's previous run (started ${other.startedAt}; it did not stop cleanly): taking over`);
    return undefined;
  }
  return new EarshotError(
    'E_CONFIG',
    `device id "${id}" is already in use by another earshot installation (${other.installationId.slice(0, 8)} on host "${other.host}", online since ${other.startedAt}); two daemons with one id would share topics and Home Assistant entities. Give this one its own id: --device-id NAME, EARSHOT_DEVICE_ID=NAME or mqtt.deviceId in the config file (letters, digits, _ and -)`,
  );
}

/**
 * On a reconnect: `instance` was ours since our first connect, so another run of this
 * installation there means it published since: two daemons share one state directory, and their
 * common client id makes them take turns kicking each other off (the status then reads the
 * kicked one's will, `offline`, so it says nothing). The run that started later leaves.
 */
export function judgeRejoin(instance: string | undefined, me: InstanceInfo, config: IdentityConfig): EarshotError | undefined {
  const other = parseInstance(instance);
  if (!other || other.installationId !== me.installationId || other.startedAt >= me.startedAt) return undefined;
  return twinError(other, config);
}

/** An `instance` message while running: an error when it is a run of this installation that started before us. */
export function earlierTwin(payload: string, me: InstanceInfo, config: IdentityConfig): EarshotError | undefined {
  const other = parseInstance(payload);
  if (!other || other.installationId !== me.installationId || other.startedAt === me.startedAt) return undefined;
  return other.startedAt < me.startedAt ? twinError(other, config) : undefined;
}

function twinError(other: InstanceInfo, config: IdentityConfig): EarshotError {
  return new EarshotError('E_CONFIG', `another earshot of this installation (same state directory ${config.stateDir}, started ${other.startedAt}) is running under device id "${config.deviceId}"; run one daemon per state directory, or give this one its own --state-dir and --device-id`);
}

// ---------- liveness of a claim ----------

/** How long a claimed installation gets to answer the ping; a live daemon answers in milliseconds. */
export const LIVENESS_TIMEOUT_MS = 2000;
/** Pings answered per second at most: a flood of pings must not become a flood of pongs. */
export const PONGS_PER_SECOND = 20;

/** `<base>/instance/ping` (the challenge) and `<base>/instance/pong` (the answers); never retained. */
export function livenessTopics(instanceTopic: string): { ping: string; pong: string } {
  return { ping: `${instanceTopic}/ping`, pong: `${instanceTopic}/pong` };
}

/** `<base>/instance/ping`: a fresh nonce per challenge, and who asks. */
export const pingSchema = z.object({ nonce: z.string().min(8).max(128), installationId: z.string().max(64) });
export type Ping = z.infer<typeof pingSchema>;
/** `<base>/instance/pong`: the nonce answered, and who answers (its `instance`). */
export const pongSchema = z.object({ nonce: z.string().min(8).max(128), installationId: z.string().max(64), host: z.string().max(256), startedAt: z.string().max(64) });
export type Pong = z.infer<typeof pongSchema>;

function parseWith<T>(schema: z.ZodType<T>, payload: string): T | undefined {
  if (payload.length > 1024) return undefined;
  try {
    return schema.parse(JSON.parse(payload));
  } catch {
    return undefined;
  }
}

/** The other installation that `status` online + `instance` claim the device id for, if any. */
export function otherClaim(seen: RetainedView, installationId: string): InstanceInfo | undefined {
  if (seen.status !== 'online') return undefined;
  const other = parseInstance(seen.instance);
  return other && other.installationId !== installationId ? other : undefined;
}

/** The answer of a running daemon (`me`) to a ping, or undefined for a malformed one or our own. */
export function pongFor(payload: string, me: InstanceInfo): Pong | undefined {
  const ping = parseWith(pingSchema, payload);
  if (!ping || ping.installationId === me.installationId) return undefined;
  return { nonce: ping.nonce, installationId: me.installationId, host: me.host, startedAt: me.startedAt };
}

/** A pong that answers our challenge `nonce` from another installation, else undefined. */
export function liveAnswer(payload: string, nonce: string, installationId: string): Pong | undefined {
  const pong = parseWith(pongSchema, payload);
  return pong && pong.nonce === nonce && pong.installationId !== installationId ? pong : undefined;
}

/** The refusal when the claimant answered: exit 69, so systemd retries every RestartSec. */
export function liveTwinError(live: Pong, config: IdentityConfig): EarshotError {
  const id = config.deviceId;
  return new EarshotError(
    'E_DEVICE_ID_TAKEN',
    `device id "${id}" is in use by another earshot installation that answered just now (${live.installationId.slice(0, 8)} on host "${live.host}", running since ${live.startedAt}); two daemons with one id would share topics and Home Assistant entities. Exiting with 69 so that a supervisor tries again later (systemd: every 5 s). To run both, give this one its own id: --device-id NAME, EARSHOT_DEVICE_ID=NAME or mqtt.deviceId in the config file (letters, digits, _ and -)`,
  );
}
