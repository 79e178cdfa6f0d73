/**
 * The daemon's HTTP face, on loopback by default: GET /healthz (200 or 503 with a JSON body that
 * says why) and GET /metrics (Prometheus text), plus the routes handed in (the dashboard, which
 * guards itself with a token off loopback), and the listening switch: GET /listening and
 * POST /listening, accepted from loopback peers only unless privacy.remoteListeningControl is set
 * (and then, with the dashboard on, its token rule applies too), even when the host is changed to
 * a LAN address.
 *
 * Every request: its `Host` must name this server (the bind address, localhost, 127.0.0.1, [::1],
 * with the port; on a wildcard bind the machine's addresses and host name; http.allowedHosts),
 * else 403 (DNS rebinding). POST /listening also needs `Content-Type: application/json` (else
 * 415) and no `Origin` or this server's own (else 403): a page on another site cannot send that
 * type without a CORS preflight, which is never granted. The body (at most 64 bytes) is JSON,
 * `{"listening":"OFF"}`, `{"on":false}` or `"OFF"`; the old plain `OFF`/`ON` still works, but
 * only under that JSON content type, so only from the same origin or a non-browser client
 * (`curl -H 'content-type: application/json' -d OFF`). The answer is 503 when the new state could
 * not be saved (listening.ts). See docs/privacy.md.
 *
 * Connections (issue 33): at most MAX_IDLE_CONNECTIONS are kept; one more evicts the oldest that
 * has no request in flight (so a flood of idle or slow connections cannot lock /healthz out,
 * measured with 1,100 by test/e2e/http-guard.test.ts), and server.maxConnections bounds the total
 * below the unit's LimitNOFILE=. Headers must arrive within 5 s, a request within 10 s, and a
 * kept-alive socket is closed after 1 s idle; event streams (the dashboard's) are requests in
 * flight and are neither evicted nor timed out.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EarshotError } from '../core/errors.ts';
import { allowedHostNames, hostAllowed, isJson, originAllowed } from './dashboard/access.ts';
import type { HealthVerdict } from './metrics.ts';
import { parseListeningCommand, type ListeningSwitch } from './listening.ts';

export interface Observable {
  health(): HealthVerdict;
  metricsText(): string;
  /** the privacy switch, for GET/POST /listening */
  listening?: ListeningSwitch;
  /** accept POST /listening from non-loopback peers */
  remoteListeningControl?: boolean;
  /** a further access rule for that POST from other hosts (the dashboard's token) */
  authorized?: (req: IncomingMessage) => boolean;
}

const isLoopback = (addr: string | undefined) => !!addr && (addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.'));

/** GET and POST /listening; true when it answered. */
function serveListening(req: IncomingMessage, res: ServerResponse, target: Observable): boolean {
  const sw = target.listening;
  if (!sw) return false;
  const answer = (status: number) =>
    res
      .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(`${JSON.stringify({ listening: sw.isOn ? 'ON' : 'OFF', ...sw.current, ...(sw.persisted ? {} : { persisted: false, error: `the listening state could not be saved in ${sw.file}; it is ${sw.isOn ? 'ON' : 'OFF'} until the daemon stops, and a restart reads the older saved state. Free space there and send it again` }) })}\n`);
  if (req.method === 'GET' || req.method === 'HEAD') {
    answer(200);
    return true;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'GET, HEAD, POST' }).end();
    return true;
  }
  if (!isLoopback(req.socket.remoteAddress) && !(target.remoteListeningControl && (target.authorized?.(req) ?? true))) {
    res.writeHead(403, { 'content-type': 'text/plain' }).end('POST /listening is accepted from this machine only, unless privacy.remoteListeningControl is set (and, with the dashboard on, its token is given)\n');
    return true;
  }
  if (!isJson(req)) {
    res.writeHead(415, { 'content-type': 'text/plain' }).end('POST /listening takes Content-Type: application/json, e.g. {"listening":"OFF"}\n');
    return true;
  }
  if (!originAllowed(req)) {
    res.writeHead(403, { 'content-type': 'text/plain' }).end('POST /listening is not accepted from a page of another origin\n');
    return true;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d: string) => {
    body += d;
    if (body.length > 64) req.destroy();
  });
  req.on('end', () => {
    const on = parseListeningCommand(body);
    if (on === null) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('send {"listening":"ON"} or {"listening":"OFF"}\n');
      return;
    }
    sw.set(on, 'HTTP');
    // not on disk: OFF holds now but not across a restart, ON was not applied (listening.ts)
    answer(sw.persisted ? 200 : 503);
  });
  return true;
}

export interface HttpEndpoint {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A further set of routes (the dashboard, ./dashboard/index.ts): true when it answered the request. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Connections kept before the oldest idle one is closed for a new one. */
export const MAX_IDLE_CONNECTIONS = 256;
/** Connections at all (idle and busy); the unit's LimitNOFILE=2048 leaves room for MQTT and files. */
export const MAX_CONNECTIONS = 512;

export async function startHttpServer(opts: { host: string; port: number; allowedHosts?: readonly string[] }, target: Observable, routes?: RouteHandler): Promise<HttpEndpoint> {
  let names = allowedHostNames(opts.host, opts.allowedHosts);
  let port = opts.port;
  /** open sockets, oldest first, and whether a request is in flight on each */
  const sockets = new Map<Socket, { busy: boolean }>();
  const server: Server = createServer({ headersTimeout: 5000, requestTimeout: 10_000, keepAliveTimeout: 1000, connectionsCheckingInterval: 1000 }, (req, res) => {
    const state = sockets.get(req.socket);
    if (state) {
      state.busy = true;
      res.once('close', () => (state.busy = false));
    }
    if (!hostAllowed(req.headers.host, names, port)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end(`this server does not answer to Host ${JSON.stringify(req.headers.host ?? '').slice(0, 100)}; add the name to http.allowedHosts if it is yours\n`);
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/listening' && serveListening(req, res, target)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    try {
      if (routes?.(req, res)) return;
      if (path === '/healthz') {
        const h = target.health();
        res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(h.body)}\n`);
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(target.metricsText());
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('earshot serves /healthz and /metrics\n');
      }
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`);
    }
  });
  // a scrape must never keep the daemon alive or delay its shutdown
  server.keepAliveTimeout = 1000;
  server.maxConnections = MAX_CONNECTIONS;
  server.on('connection', (sock: Socket) => {
    if (sockets.size >= MAX_IDLE_CONNECTIONS) {
      const idle = [...sockets].find(([, s]) => !s.busy)?.[0];
      if (idle) {
        sockets.delete(idle);
        idle.destroy();
      } else {
        sock.destroy(); // every kept one is busy (event streams): the newcomer waits for a free one
        return;
      }
    }
    sockets.set(sock, { busy: false });
    sock.once('close', () => sockets.delete(sock));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'EADDRINUSE' ? 'another program (or another earshot) listens there' : e.code === 'EADDRNOTAVAIL' ? 'that address is not on this machine' : 'check the address';
    throw new EarshotError(e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' ? 'E_PORT_IN_USE' : 'E_CONFIG', `http: cannot listen on ${opts.host}:${opts.port} (${e.code ?? e.message}): ${hint}; set http.port (--http-port, EARSHOT_HTTP_PORT) to a free port, or 0 to turn the HTTP server off`, { cause: err });
  }
  port = (server.address() as AddressInfo).port;
  names = allowedHostNames(opts.host, opts.allowedHosts);
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
