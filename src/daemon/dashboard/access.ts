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
