/**
 * Who may do what on the embedded broker (./embedded-broker.ts). Without it any local process
 * could publish fake events, overwrite the retained emotion, status and Home Assistant discovery,
 * or connect with the daemon's client id and knock the daemon off.
 *
 * - The daemon's own connection proves itself with a per-run secret (random, never written
 *   anywhere): only it may publish under the base topic and the discovery prefix, with two
 *   exceptions meant for others: `<discoveryPrefix>/status` (Home Assistant announces itself
 *   there) and the commands to the daemon, `<base>/baseline/reset` and `<base>/listening/set`
 *   (Home Assistant's switch, a dashboard). A retained message on those command topics is refused
 *   (checked here, on the wire: delivery to a live subscription clears the flag, MQTT-3.3.1-9), so
 *   no command is stored to be acted on again at every connect; an empty one (a clear) passes.
 * - Everyone else may subscribe to everything, and publish elsewhere.
 * - A client that reuses the client id of the connected daemon is refused (CONNACK 2, identifier
 *   rejected) instead of taking the daemon's session over.
 * - Clients other than the daemon must give `credentials` when they are set; binding an address
 *   other than loopback requires them (checkBindAddress).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EarshotError } from '../../core/errors.ts';
import { baseTopicOf, type PublisherConfig } from '../../runtime/publish/config.ts';
import { topicsFor } from '../../runtime/publish/payloads.ts';

export interface BrokerCredentials {
  username: string;
  password: string;
}

/** What aedes hands the hooks; only the fields used here. */
interface GuardedClient {
  id: string;
  broker: { clients: Record<string, GuardedClient | undefined> };
}
type ConnectError = Error & { returnCode: number };

export interface BrokerGuardOptions {
  /** Topic prefixes only the daemon may publish under: its base topic and the discovery prefix. */
  reservedPrefixes: string[];
  /** Exact topics under those prefixes that anyone may publish (HA status, baseline reset). */
  openTopics?: string[];
  /** Required of every other client when set. */
  credentials?: BrokerCredentials;
  /** Open topics that take commands: a retained, non-empty publish there is refused. */
  commandTopics?: string[];
}

export interface BrokerGuard {
  /** What the daemon's publisher connects with (mqtt.username / mqtt.password). */
  readonly daemon: BrokerCredentials;
  /** aedes `authenticate` hook. */
  authenticate(client: GuardedClient, username: string | undefined, password: Buffer | undefined, done: (err: ConnectError | null, ok: boolean) => void): void;
  /** aedes `authorizePublish` hook. */
  authorizePublish(client: GuardedClient | null, packet: { topic: string; retain?: boolean; payload?: Buffer | string }, done: (err?: Error | null) => void): void;
  /** True for the daemon's own connection (its retained messages are never refused by the broker's limits). */
  isDaemon(client: object | null): boolean;
}

const DAEMON_USER = 'earshot-daemon';

export function createBrokerGuard(opts: BrokerGuardOptions): BrokerGuard {
  const secret = randomBytes(24).toString('base64url');
  const daemons = new WeakSet<GuardedClient>();
  const open = new Set(opts.openTopics ?? []);
  const commands = new Set(opts.commandTopics ?? []);
  const reserved = opts.reservedPrefixes.filter((p) => p.length > 0);
  const isReserved = (topic: string) => !open.has(topic) && reserved.some((p) => topic === p || topic.startsWith(`${p}/`));
  const refuse = (returnCode: number, message: string): ConnectError => Object.assign(new Error(message), { returnCode });
  return {
    daemon: { username: DAEMON_USER, password: secret },
    authenticate(client, username, password, done) {
      if (username === DAEMON_USER) {
        if (password && same(password, secret)) {
          daemons.add(client);
          return done(null, true);
        }
        return done(refuse(4, 'bad user name or password'), false);
      }
      const c = opts.credentials;
      if (c && !(username === c.username && password && same(password, c.password))) return done(refuse(4, 'bad user name or password'), false);
      const holder = client.broker.clients[client.id];
      if (holder && holder !== client && daemons.has(holder)) return done(refuse(2, `client id ${client.id} is the earshot daemon's`), false);
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      // client is null for messages the broker itself publishes ($SYS)
      if (client && !daemons.has(client) && isReserved(packet.topic)) return done(new Error(`${packet.topic} is reserved for the earshot daemon`));
      if (packet.retain && commands.has(packet.topic) && (packet.payload?.length ?? 0) > 0) return done(new Error(`${packet.topic} takes commands, which must not be retained`));
      done(null);
    },
    isDaemon: (client) => client !== null && daemons.has(client as GuardedClient),
  };
}

/** The guard for a daemon publishing with `config`: its base topic and discovery prefix are reserved. */
export function guardForPublisher(config: PublisherConfig, credentials?: BrokerCredentials): BrokerGuard {
  const t = topicsFor({ baseTopic: baseTopicOf(config), deviceId: config.deviceId, discoveryPrefix: config.discoveryPrefix });
  return createBrokerGuard({ reservedPrefixes: [baseTopicOf(config), config.discoveryPrefix], openTopics: [t.haStatus, t.resetBaseline, t.listeningSet], commandTopics: [t.resetBaseline, t.listeningSet], credentials });
}

/** `start` with the guard (and the credentials for other clients) added to every call. */
export function withGuard<O extends object, R>(start: (opts: O & { guard?: BrokerGuard; credentials?: BrokerCredentials }) => R, guard: BrokerGuard | undefined, credentials?: BrokerCredentials): (opts: O) => R {
  return (opts) => start({ ...opts, ...(guard ? { guard } : {}), ...(credentials ? { credentials } : {}) });
}

function same(given: Buffer, expected: string): boolean {
  const e = Buffer.from(expected);
  return given.length === e.length && timingSafeEqual(given, e);
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|::ffff:127(\.\d{1,3}){3})$/i;

/** An embedded broker reachable from the network must not accept anonymous clients. */
export function checkBindAddress(host: string, credentials: BrokerCredentials | undefined): void {
  if (LOOPBACK.test(host) || credentials) return;
  throw new EarshotError(
    'E_CONFIG',
    `embeddedBroker.host ${host} is not a loopback address, so other machines could connect: set embeddedBroker.username and embeddedBroker.password (then every client but the daemon must log in), or keep the default 127.0.0.1`,
  );
}
