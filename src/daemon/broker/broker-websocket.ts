/**
 * MQTT over WebSockets for the embedded broker, so a browser page (examples/mqtt-websocket.html)
 * or Node-RED's websocket client can subscribe to `earshot/#` with no other broker. A plain HTTP
 * server that answers 426 to ordinary requests and upgrades to a WebSocket (subprotocol `mqtt`,
 * MQTT 3.1.1 section 6 / MQTT 5 section 6), whose byte stream aedes handles exactly like a TCP
 * connection. Loopback by default, like the TCP listener; a broker reachable from the network
 * should be a real one with TLS and auth (Mosquitto: `listener 9001` + `protocol websockets`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Aedes } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';

export interface BrokerWebSocket {
  /** `ws://<host>:<port>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port (0 = any free port); rejects with the listen error (EADDRINUSE...). */
export async function listenWebSocket(broker: Aedes, opts: { host: string; port: number }): Promise<BrokerWebSocket> {
  const http: Server = createServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('MQTT over WebSockets: connect with a WebSocket client (subprotocol mqtt)\n'));
  // browsers offer `mqtt`; MQTT.js also accepts it; some old clients offer `mqttv3.1`
  const wss = new WebSocketServer({ server: http, handleProtocols: (offered) => (offered.has('mqtt') ? 'mqtt' : offered.has('mqttv3.1') ? 'mqttv3.1' : false) });
  // ws re-emits the HTTP server's errors (EADDRINUSE at listen); the listen below reports those
  wss.on('error', () => undefined);
  wss.on('connection', (socket, req) => {
    const stream = createWebSocketStream(socket);
    // a client that vanishes mid-frame surfaces here; aedes sees the stream close
    stream.on('error', () => socket.terminate());
    broker.handle(stream as never, req);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
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
