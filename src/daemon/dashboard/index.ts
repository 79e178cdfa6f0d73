/**
 * The live dashboard on the daemon's HTTP server: `/` (one page), its script and style from
 * assets/dashboard/ in the package (plain files: no build step, no CDN, nothing fetched from
 * elsewhere; a strict Content-Security-Policy says so to the browser), and `/events`, the live
 * data as Server-Sent Events (./feed.ts). Access rules: ./access.ts.
 *
 * The listening switch (issue 18: POST /listening) belongs on this page once it exists on the
 * server: the page has an empty `#listening` section for it (see assets/dashboard/dashboard.js),
 * and `authorized(req)` applies the same token rule to that POST.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { ROOT } from '../../core/paths.ts';
import type { Logger } from '../logger.ts';
import { DashboardAccess, isLoopbackHost, TOKEN_COOKIE } from './access.ts';
import { DashboardFeed, type DashboardSource } from './feed.ts';

export { DashboardFeed, type DashboardSource } from './feed.ts';

export const DASHBOARD_DIR = join(ROOT, 'assets', 'dashboard');

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
  // browsers ask for it on their own (on the 401 page too); an SVG answers as well as an icon
  '/favicon.ico': { file: 'favicon.svg', type: 'image/svg+xml' },
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export interface DashboardOptions {
  host: string;
  token?: string;
  idleAfterSec: number;
  deviceId: string;
  version: string;
  log: Logger;
  now?: () => number;
}

export interface Dashboard {
  feed: DashboardFeed;
  /** Answers a dashboard path and returns true; false for any other path (left to the caller). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** The dashboard's access rule for another route of the page (the listening switch's POST): true when the request may act. */
  authorized(req: IncomingMessage): boolean;
  close(): void;
}

export function createDashboard(source: DashboardSource, opts: DashboardOptions): Dashboard {
  const access = new DashboardAccess({ host: opts.host, token: opts.token });
  if (!access.possible) {
    opts.log.warn({ host: opts.host }, `the dashboard is locked: http.host ${opts.host} is not loopback and no dashboard.token is set, so every dashboard request gets 401; set dashboard.token (e.g. \`openssl rand -hex 16\`), or bind loopback and use \`ssh -L\``);
  }
  // read once: a few kilobytes, and an upgrade of the files on disk mid-run cannot mix versions
  const body = new Map(Object.entries(FILES).map(([path, f]) => [path, readFileSync(join(DASHBOARD_DIR, f.file))]));
  const feed = new DashboardFeed(source, { deviceId: opts.deviceId, version: opts.version, idleAfterSec: opts.idleAfterSec, now: opts.now });

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://earshot');
    const file = FILES[url.pathname];
    if (!file && url.pathname !== '/events') return false;
    const offered = DashboardAccess.offered(req, url);
    if (!access.allows(offered)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'www-authenticate': 'Bearer realm="earshot"' }).end('401 unauthorized\n');
      return true;
    }
    if (url.pathname === '/events') {
      feed.open(req, res);
      return true;
    }
    if (!access.open && url.searchParams.has('token') && file.type.startsWith('text/html')) {
      // keep the token in a cookie for the page's own requests, and out of the address bar and history
      const secure = req.socket && 'encrypted' in req.socket ? '; Secure' : '';
      res.writeHead(303, { location: url.pathname, 'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(offered ?? '')}; Path=/; HttpOnly; SameSite=Strict${secure}`, 'cache-control': 'no-store' }).end();
      return true;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : body.get(url.pathname));
    return true;
  };

  const authorized = (req: IncomingMessage) => access.allows(DashboardAccess.offered(req, new URL(req.url ?? '/', 'http://earshot')));
  return { feed, handle, authorized, close: () => feed.close() };
}

export { isLoopbackHost };
