/**
 * The daemon's HTTP face, on loopback by default: GET /healthz (200 or 503 with a JSON body that
 * says why) and GET /metrics (Prometheus text), plus the routes handed in (the dashboard, which
 * guards itself with a token off loopback). No request bodies, so there is nothing to attack even
 * if the host is changed to a LAN address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EarshotError } from '../core/errors.ts';
import type { HealthVerdict } from './metrics.ts';

export interface Observable {
  health(): HealthVerdict;
  metricsText(): string;
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
