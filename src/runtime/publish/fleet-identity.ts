/**
 * Fleet identity: who else is on this device id. The publisher collects the retained `status` and
 * `instance` of its device id behind a fence message (publisher.ts), then asks these judgements:
 * - on the first connect of the process (`judgeClaim`): `status` online with another
 *   installation's id in `instance` -> refuse; online with its own id -> its previous run, which
 *   did not stop cleanly: take over;
 * - on a reconnect (`judgeRejoin`) and on every `instance` message while running (`earlierTwin`):
 *   another run of this installation (same state directory) that started earlier means two
 *   daemons share one state directory, and the later one leaves.
 */
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
