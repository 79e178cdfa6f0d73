/**
 * The daemon's HTTP face, on loopback by default: GET /healthz (200 or 503 with a JSON body that
 * says why) and GET /metrics (Prometheus text), plus the routes handed in (the dashboard, which
 * guards itself with a token off loopback), and the listening switch: GET /listening and
 * POST /listening (body `ON`/`OFF`, at most 64 bytes), accepted from loopback peers only unless
 * privacy.remoteListeningControl is set (and then, with the dashboard on, its token rule
 * applies too), even when the host is changed to a LAN address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EarshotError } from '../core/errors.ts';
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
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d: string) => {
    body += d;
    if (body.length > 64) req.destroy();
  });
  req.on('end', () => {
    const on = parseListeningCommand(body);
    if (on === null) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('send ON or OFF\n');
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

export async function startHttpServer(opts: { host: string; port: number }, target: Observable, routes?: RouteHandler): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
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
  const port = (server.address() as AddressInfo).port;
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
