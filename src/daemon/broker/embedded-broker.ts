/**
 * An in-process MQTT 3.1.1 broker (aedes, in-memory, retained messages kept while it runs) for a
 * single device without Mosquitto: `earshot run --embedded-broker`, demos, tests. Listens on
 * loopback only; a broker reachable from the network should be a real one with TLS and auth.
 * With `wsPort` it also speaks MQTT over WebSockets (./broker-websocket.ts) for browser dashboards.
 */
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { EarshotError } from '../../core/errors.ts';
import { listenWebSocket, type BrokerWebSocket } from './broker-websocket.ts';
import { checkBindAddress, type BrokerCredentials, type BrokerGuard } from './broker-guard.ts';

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
 * the daemon, and to bind beyond loopback.
 */
export async function startEmbeddedBroker(opts: { port?: number; host?: string; wsPort?: number; guard?: BrokerGuard; credentials?: BrokerCredentials } = {}): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  checkBindAddress(host, opts.credentials);
  const guard = opts.guard;
  const broker = await Aedes.createBroker(guard ? { authenticate: guard.authenticate as never, authorizePublish: guard.authorizePublish as never } : {});
  const server = createServer(broker.handle);
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
      ws = await listenWebSocket(broker, { host, port: opts.wsPort }).catch((e: NodeJS.ErrnoException) => {
        // a taken WebSocket port (another broker's 9001) must not cost the device its TCP broker
        if (e.code === 'EADDRINUSE' && opts.wsPort !== 0) return listenWebSocket(broker, { host, port: 0 });
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
