/**
 * The live dashboard on the daemon's HTTP server: `/` (this device), its script and style from
 * assets/dashboard/ in the package (plain files: no build step, no CDN, nothing fetched from
 * elsewhere; a strict Content-Security-Policy says so to the browser), and `/events`, the live
 * data as Server-Sent Events (./feed.ts). Access rules: ./access.ts.
 *
 * `/fleet`: every earshot on the broker, read by the browser itself over MQTT-WebSockets
 * (`earshot/+/status`, `emotion`, `metrics`, `listening`, `events`), with MQTT.js's browser bundle
 * served from the installed `mqtt` package at `/mqtt.min.js`; `/fleet.json` tells the page the
 * embedded broker's WebSocket port (`?broker=ws://…` on the page overrides it, for Mosquitto).
 * Its CSP allows WebSocket connections (`ws:`/`wss:`) and nothing else more.
 *
 * The listening switch (issue 18: POST /listening) belongs on this page once it exists on the
 * server: the page has an empty `#listening` section for it (see assets/dashboard/dashboard.js),
 * and `authorized(req)` applies the same token rule to that POST.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
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
  '/fleet': { file: 'fleet.html', type: 'text/html; charset=utf-8' },
  '/fleet.js': { file: 'fleet.js', type: 'text/javascript; charset=utf-8' },
  // browsers ask for it on their own (on the 401 page too); an SVG answers as well as an icon
  '/favicon.ico': { file: 'favicon.svg', type: 'image/svg+xml' },
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
/** The fleet page talks MQTT over a WebSocket to a broker on another port (or host). */
const FLEET_HEADERS = { ...SECURITY_HEADERS, 'content-security-policy': SECURITY_HEADERS['content-security-policy'].replace("connect-src 'self'", "connect-src 'self' ws: wss:") };

/** MQTT.js's browser bundle from the installed package (read on the first request for it: 340 kB). */
let mqttBundle: Buffer | undefined;
function mqttBrowserBundle(): Buffer {
  mqttBundle ??= readFileSync(createRequire(import.meta.url).resolve('mqtt/dist/mqtt.min'));
  return mqttBundle;
}

/**
 * The dashboard's address as other machines reach it, for Home Assistant's `configuration_url`,
 * or null when it has none: on loopback (a link in Home Assistant would open the viewer's own
 * machine). A wildcard bind (0.0.0.0, ::) is named by this machine's first non-loopback IPv4
 * address (republished with the discovery at every start, so a new DHCP lease is picked up).
 */
export function dashboardLink(host: string, port: number, interfaces: () => ReturnType<typeof networkInterfaces> = networkInterfaces): string | null {
  if (isLoopbackHost(host)) return null;
  let h = host;
  if (host === '0.0.0.0' || host === '::' || host === '') {
    const lan = Object.values(interfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
    if (!lan) return null;
    h = lan.address;
  }
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}/`;
}

export interface DashboardOptions {
  host: string;
  token?: string;
  idleAfterSec: number;
  deviceId: string;
  version: string;
  /** pipeline.vad.hangoverMs: the silence awaited before an utterance is decided (the dashboard splits the latency by it) */
  hangoverMs?: number;
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
  const feed = new DashboardFeed(source, { deviceId: opts.deviceId, version: opts.version, idleAfterSec: opts.idleAfterSec, hangoverMs: opts.hangoverMs, now: opts.now });
  const extra = new Set(['/events', '/mqtt.min.js', '/fleet.json']);

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://earshot');
    const file = FILES[url.pathname];
    if (!file && !extra.has(url.pathname)) return false;
    const offered = DashboardAccess.offered(req, url);
    if (!access.allows(offered)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'www-authenticate': 'Bearer realm="earshot"' }).end('401 unauthorized\n');
      return true;
    }
    if (url.pathname === '/events') {
      feed.open(req, res);
      return true;
    }
    if (url.pathname === '/mqtt.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'max-age=86400', ...SECURITY_HEADERS });
      res.end(req.method === 'HEAD' ? undefined : mqttBrowserBundle());
      return true;
    }
    if (url.pathname === '/fleet.json') {
      const ws = source.brokerWsUrl();
      const body = { deviceId: opts.deviceId, brokerWsPort: ws ? Number(new URL(ws).port) : null, brokerWsUrl: ws };
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
      return true;
    }
    if (!access.open && url.searchParams.has('token') && file.type.startsWith('text/html')) {
      // (any other query, such as the fleet page's ?broker=, is kept)
      url.searchParams.delete('token');
      // keep the token in a cookie for the page's own requests, and out of the address bar and history
      const secure = req.socket && 'encrypted' in req.socket ? '; Secure' : '';
      res.writeHead(303, { location: `${url.pathname}${url.search}`, 'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(offered ?? '')}; Path=/; HttpOnly; SameSite=Strict${secure}`, 'cache-control': 'no-store' }).end();
      return true;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache', ...(url.pathname === '/fleet' ? FLEET_HEADERS : SECURITY_HEADERS) });
    res.end(req.method === 'HEAD' ? undefined : body.get(url.pathname));
    return true;
  };

  const authorized = (req: IncomingMessage) => access.allows(DashboardAccess.offered(req, new URL(req.url ?? '/', 'http://earshot')));
  return { feed, handle, authorized, close: () => feed.close() };
}

export { isLoopbackHost };
