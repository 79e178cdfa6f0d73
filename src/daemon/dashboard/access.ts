/**
 * Who may see the dashboard. On a loopback bind with no token it is open (only this machine, or
 * an `ssh -L` tunnel, reaches it). Any other bind needs `dashboard.token`: without it configured
 * every dashboard request is refused; with it, a request must carry it as
 * `Authorization: Bearer <token>`, the `earshot_token` cookie (set when the page is opened once
 * with `?token=<token>`, so the token does not stay in the address bar), or `?token=` itself
 * (curl, EventSource). A bad or missing token gets 401 and nothing else. Tokens are compared in
 * constant time (through SHA-256 digests, so their lengths do not leak either).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';

export const TOKEN_COOKIE = 'earshot_token';

/** 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export class DashboardAccess {
  private readonly want: Buffer | null;
  /** false: nobody gets in (a non-loopback bind without a token) */
  readonly possible: boolean;
  /** true: no token needed (loopback and none configured) */
  readonly open: boolean;

  constructor(opts: { host: string; token?: string }) {
    this.want = opts.token ? digest(opts.token) : null;
    this.open = !opts.token && isLoopbackHost(opts.host);
    this.possible = this.open || this.want !== null;
  }

  /** The token a request offers, from the header, the cookie or the query; null if none. */
  static offered(req: IncomingMessage, url: URL): string | null {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
    const fromQuery = url.searchParams.get('token');
    if (fromQuery) return fromQuery;
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) return safeDecode(part.slice(eq + 1).trim());
    }
    return null;
  }

  allows(offered: string | null): boolean {
    if (this.open) return true;
    if (!this.want || offered === null) return false;
    return timingSafeEqual(digest(offered), this.want);
  }
}

// ---------- who may talk to the HTTP server at all (http.ts) ----------
//
// DNS rebinding: a page on attacker.example whose name is re-pointed at 127.0.0.1 reaches the
// daemon as a same-origin page of attacker.example, and its requests say `Host: attacker.example`.
// So every request's Host must be a name this server is known by; anything else gets 403.
// Cross-site requests: a page on another origin can POST with `mode: 'no-cors'` (no preflight for
// text/plain), so a state-changing request must be typed `application/json` (which a cross-site
// page can only send after a CORS preflight this server never answers) and carry no Origin or its
// own.

const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

const bare = (h: string) => h.replace(/^\[|\]$/g, '').toLowerCase();

/** The machine's own addresses and names, for a server bound to every interface. */
export function machineNames(): string[] {
  const addrs = Object.values(networkInterfaces())
    .flat()
    .filter((a): a is NonNullable<typeof a> => !!a)
    .map((a) => a.address);
  const host = hostname().toLowerCase();
  return [...addrs, host, `${host}.local`];
}

/** Host names (without port) a request may carry: the bind address, localhost and loopback, the configured ones. */
export function allowedHostNames(bind: string, extra: readonly string[] = [], machine: () => string[] = machineNames): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '::1', bare(bind), ...extra.map(bare)]);
  if (WILDCARD.has(bind)) for (const n of machine()) names.add(bare(n));
  return names;
}

/** `Host: name[:port]` -> [name, port]; the port is 80 when absent (plain HTTP). */
function splitHost(header: string): [string, number] {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(header.trim());
  if (!m) return ['', -1];
  return [bare(m[1]), m[2] === undefined ? 80 : Number(m[2])];
}

/** True when the Host header names this server (a request without one, not from a browser, passes). */
export function hostAllowed(header: string | undefined, names: ReadonlySet<string>, port: number): boolean {
  if (header === undefined) return true;
  const [name, p] = splitHost(header);
  return names.has(name) && p === port;
}

/** For a state-changing request: no Origin (curl, scripts) and not marked cross-site, or exactly this server's own origin. */
export function originAllowed(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) {
    const site = req.headers['sec-fetch-site'];
    return site === undefined || site === 'same-origin' || site === 'none';
  }
  try {
    const u = new URL(origin);
    return u.protocol === 'http:' && u.host.toLowerCase() === (req.headers.host ?? '').toLowerCase();
  } catch {
    return false; // `Origin: null` (a sandboxed page, a file:// page, a redirect) is nobody we know
  }
}

/** `Content-Type: application/json` (parameters allowed). */
export function isJson(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() === 'application/json';
}
