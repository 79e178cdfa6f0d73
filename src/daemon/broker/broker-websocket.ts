/**
 * MQTT over WebSockets for the embedded broker, so a browser page (examples/mqtt-websocket.html)
 * or Node-RED's websocket client can subscribe to `earshot/#` with no other broker. A plain HTTP
 * server that answers 426 to ordinary requests and upgrades to a WebSocket (subprotocol `mqtt`,
 * MQTT 3.1.1 section 6 / MQTT 5 section 6), whose byte stream aedes handles exactly like a TCP
 * connection. Loopback by default, like the TCP listener; a broker reachable from the network
 * should be a real one with TLS and auth (Mosquitto: `listener 9001` + `protocol websockets`).
 *
 * A web page is a client too: any page open in a browser on the device could read the live
 * emotions through a WebSocket to loopback. So an upgrade is refused (403) unless its `Host` is the
 * bind address, localhost or loopback (a DNS-rebinding page carries its own name) and its `Origin`,
 * when a browser sends one, is a page of this machine (the dashboard's fleet view, on another port)
 * or a page opened from disk (`null`).
 * Clients that send no Origin (Node-RED, MQTT.js in Node, scripts) are not browsers and pass.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Aedes } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { allowedHostNames, hostAllowed } from '../dashboard/access.ts';

export interface BrokerWebSocket {
  /** `ws://<host>:<port>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on host:port (0 = any free port); rejects with the listen error (EADDRINUSE...).
 * `handle`: what takes each connection's byte stream (default broker.handle; the embedded broker
 * meters it); `maxPacketBytes`: sets the largest WebSocket message accepted (ws would buffer 100 MiB).
 */
export async function listenWebSocket(broker: Aedes, opts: { host: string; port: number; handle?: (conn: Duplex, req: unknown) => void; maxPacketBytes?: number }): Promise<BrokerWebSocket> {
  const http: Server = createServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('MQTT over WebSockets: connect with a WebSocket client (subprotocol mqtt)\n'));
  // browsers offer `mqtt`; MQTT.js also accepts it; some old clients offer `mqttv3.1`
  const handle = opts.handle ?? ((conn: Duplex, req: unknown) => broker.handle(conn as never, req as never));
  // a WebSocket message may hold parts of several MQTT packets (MQTT-3.1.1 section 6): twice the
  // packet cap leaves room for a client that batches its writes; the meter still sees each packet
  const maxPayload = opts.maxPacketBytes !== undefined ? 2 * opts.maxPacketBytes : undefined;
  const names = allowedHostNames(opts.host);
  let port = -1;
  const sameMachine = (req: IncomingMessage): boolean => {
    if (!hostAllowed(req.headers.host, names, port)) return false;
    const origin = req.headers.origin;
    // a page opened from disk (examples/mqtt-websocket.html, as its README says to run it): Chromium
    // sends `file://`, others `null`; a sandboxed frame of a web site sends `null` too: that remains
    // open, said in docs/privacy.md
    if (origin === undefined || origin === 'null' || origin === 'file://') return true;
    try {
      return names.has(new URL(origin).hostname.replace(/^\[|\]$/g, '').toLowerCase());
    } catch {
      return false;
    }
  };
  const wss = new WebSocketServer({ server: http, verifyClient: ({ req }: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string) => void) => done(sameMachine(req), 403, 'not from this machine'), ...(maxPayload !== undefined ? { maxPayload } : {}), handleProtocols: (offered) => (offered.has('mqtt') ? 'mqtt' : offered.has('mqttv3.1') ? 'mqttv3.1' : false) });
  // ws re-emits the HTTP server's errors (EADDRINUSE at listen); the listen below reports those
  wss.on('error', () => undefined);
  wss.on('connection', (socket, req) => {
    const stream = createWebSocketStream(socket);
    // a client that vanishes mid-frame surfaces here; aedes sees the stream close
    stream.on('error', () => socket.terminate());
    handle(stream, req);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  port = (http.address() as AddressInfo).port;
  return {
    url: `ws://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    port,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
