/**
 * An in-process MQTT 3.1.1 broker (aedes, in-memory, retained messages kept while it runs) for a
 * single device without Mosquitto: `earshot run --embedded-broker`, demos, tests. Listens on
 * loopback only; a broker reachable from the network should be a real one with TLS and auth.
 * With `wsPort` it also speaks MQTT over WebSockets (./broker-websocket.ts) for browser dashboards;
 * that module (and `ws`, 1.5 MB of private memory) is imported only then (issue 32).
 * Packet size, retained messages and connections are capped (./broker-limits.ts).
 */
import { createServer, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes } from 'aedes';
import '../../core/mqtt-numbers.ts'; // the codec's 6 MB number cache off before the first packet
import { EarshotError } from '../../core/errors.ts';
import type { BrokerWebSocket } from './broker-websocket.ts';
import { checkBindAddress, type BrokerCredentials, type BrokerGuard } from './broker-guard.ts';
import { brokerLimitsSchema, meteredConnection, RetainedLedger, type BrokerLimits, type LimitViolation } from './broker-limits.ts';

/** Where the broker reports a refused client; one line per kind of limit per LIMIT_LOG_INTERVAL_MS. */
export interface BrokerLog {
  warn(obj: object, msg: string): void;
}
const LIMIT_LOG_INTERVAL_MS = 60_000;

export interface EmbeddedBroker {
  /** `mqtt://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** `ws://127.0.0.1:<port>` of MQTT over WebSockets, when opts.wsPort was given. */
  wsUrl?: string;
  /** The WebSocket port; differs from opts.wsPort when that was taken (a free one is used then). */
  wsPort?: number;
  close(): Promise<void>;
}

/**
 * `wsPort`: also listen for MQTT over WebSockets there (0 = any free port; undefined = not at all);
 * `guard`: who may publish what (./broker-guard.ts); `credentials`: required of clients other than
 * the daemon, and to bind beyond loopback; `limits`: the embedded broker's caps (default: the
 * schema's, ./broker-limits.ts); `log`: where refused clients are reported.
 */
export async function startEmbeddedBroker(
  opts: { port?: number; host?: string; wsPort?: number; guard?: BrokerGuard; credentials?: BrokerCredentials; limits?: Partial<BrokerLimits>; log?: BrokerLog } = {},
): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  checkBindAddress(host, opts.credentials);
  const guard = opts.guard;
  const limits = brokerLimitsSchema.parse(opts.limits ?? {});
  const report = violationReporter(opts.log);
  const ledger = new RetainedLedger(limits);
  const authorizePublish = (client: object | null, packet: { topic: string; payload: Buffer; retain?: boolean }, done: (err?: Error | null) => void) => {
    const decide = (err?: Error | null) => {
      if (err) return done(err);
      // client is null for a will aedes publishes after its client has gone, and for $SYS
      const v = ledger.check(packet, client === null || (guard?.isDaemon(client) ?? false));
      if (!v) return done(null);
      report(v);
      done(new Error(v.message));
    };
    if (guard) guard.authorizePublish(client as never, packet, decide);
    else decide(null);
  };
  const broker = await Aedes.createBroker({
    ...(guard ? { authenticate: guard.authenticate as never } : {}),
    authorizePublish: authorizePublish as never,
    maxInflightInbound: limits.maxInflightInbound,
  });
  let connections = 0;
  const handle = (conn: Duplex, req?: unknown) => {
    if (connections >= limits.maxConnections) {
      report({ limit: 'maxConnections', message: `connection refused: ${connections} clients are connected, embeddedBroker.maxConnections is ${limits.maxConnections}` });
      conn.destroy();
      return;
    }
    connections++;
    const metered = meteredConnection(conn, limits.maxPacketBytes, report);
    metered.once('close', () => connections--);
    broker.handle(metered as never, req as never);
  };
  // no Nagle delay: a packet is written whole (broker-limits.ts meteredConnection), and waiting to
  // coalesce it with the next one only adds latency to a PUBACK or an event
  const server = createServer({ noDelay: true }, (socket) => handle(socket));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 1883, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    const e = err as NodeJS.ErrnoException;
    throw new EarshotError('E_BROKER', `cannot start the embedded MQTT broker on ${host}:${opts.port ?? 1883}: ${e.message}; pick a free port (0 = any) or stop what listens there`, { cause: err });
  }
  const port = (server.address() as AddressInfo).port;
  let ws: BrokerWebSocket | undefined;
  if (opts.wsPort !== undefined) {
    try {
      const { listenWebSocket } = await import('./broker-websocket.ts');
      const wsOpts = { host, handle, maxPacketBytes: limits.maxPacketBytes };
      ws = await listenWebSocket(broker, { ...wsOpts, port: opts.wsPort }).catch((e: NodeJS.ErrnoException) => {
        // a taken WebSocket port (another broker's 9001) must not cost the device its TCP broker
        if (e.code === 'EADDRINUSE' && opts.wsPort !== 0) return listenWebSocket(broker, { ...wsOpts, port: 0 });
        throw e;
      });
    } catch (err) {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw new EarshotError('E_BROKER', `cannot start MQTT over WebSockets on ${host}:${opts.wsPort}: ${(err as Error).message}; set embeddedBroker.wsPort to a free port, or 0 to turn it off`, { cause: err });
    }
  }
  return {
    url: `mqtt://${host}:${port}`,
    port,
    ...(ws ? { wsUrl: ws.url, wsPort: ws.port } : {}),
    close: async () => {
      // Closing the broker first ends its client connections, so server.close() can finish.
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      if (ws) await ws.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Logs a refusal once per limit and interval, with how many were folded into it: a flood costs a few lines. */
function violationReporter(log: BrokerLog | undefined): (v: LimitViolation) => void {
  const last = new Map<string, { at: number; folded: number }>();
  return (v) => {
    if (!log) return;
    const now = Date.now();
    const seen = last.get(v.limit);
    if (seen && now - seen.at < LIMIT_LOG_INTERVAL_MS) {
      seen.folded++;
      return;
    }
    last.set(v.limit, { at: now, folded: 0 });
    log.warn({ limit: v.limit, ...(seen?.folded ? { alsoRefusedSinceLastLine: seen.folded } : {}) }, `embedded broker: ${v.message}; see docs/mqtt-limits.md`);
  };
}
