/**
 * `mqtt.url`, parsed by one strict parser: the config schema validates with it (./config.ts), and
 * the publisher's client factory connects with what it returns, as an options object, so no URL
 * reaches Node's legacy `url.parse` (mqtt.js calls it when given a string: it splits
 * `user:Pw/Sec9@host` at the `/`, connects to host `user`, and prints the URL in clear in its
 * DEP0170 warning).
 *
 * Grammar (RFC 3986 section 3.2, narrowed): `SCHEME://[USER[:PASSWORD]@]HOST[:PORT][PATH]` with
 * SCHEME mqtt, mqtts, ws or wss; HOST a name, an IPv4 address or an IPv6 address in brackets;
 * PORT 1..65535 (default 1883, 8883, 80, 443); PATH only for ws/wss (default `/mqtt`). A user name
 * or password holding `/ ? # %` or spaces must be percent-encoded, or given as mqtt.username /
 * mqtt.password (EARSHOT_MQTT_PASSWORD). Problems never quote the user name or password.
 */
import { isIPv6 } from 'node:net';

export const BROKER_SCHEMES = ['mqtt', 'mqtts', 'ws', 'wss'] as const;
export type BrokerScheme = (typeof BROKER_SCHEMES)[number];
const DEFAULT_PORT: Record<BrokerScheme, number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };

export interface BrokerEndpoint {
  protocol: BrokerScheme;
  /** without brackets for IPv6 */
  host: string;
  port: number;
  /** ws/wss only */
  path?: string;
  username?: string;
  password?: string;
}

export type BrokerUrlResult = { ok: true; endpoint: BrokerEndpoint } | { ok: false; problem: string };

const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const ENCODE_HINT = 'percent-encode it (/ is %2F, ? is %3F, # is %23, @ is %40, % is %25) or set mqtt.username and mqtt.password (EARSHOT_MQTT_PASSWORD) instead';

// eslint-disable-next-line complexity -- a URL parser: one check per part (scheme, credentials, host, port, path), each with its own message
export function parseBrokerUrl(url: string): BrokerUrlResult {
  const fail = (problem: string): BrokerUrlResult => ({ ok: false, problem });
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(url);
  if (!m) return fail('must look like mqtt://host:1883, mqtts://host:8883, ws://host/mqtt or wss://host/mqtt');
  const scheme = m[1].toLowerCase();
  if (!(BROKER_SCHEMES as readonly string[]).includes(scheme)) return fail(`scheme ${JSON.stringify(m[1].slice(0, 10))} is not one of mqtt, mqtts, ws, wss`);
  const protocol = scheme as BrokerScheme;
  const rest = m[2];
  // eslint-disable-next-line no-control-regex -- a URL must hold no control character: this looks for them
  if (/[\s\x00-\x1f\x7f]/.test(rest)) return fail('holds a space or control character (text after the URL?); nothing may follow host:port');
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const tail = end < 0 ? '' : rest.slice(end);
  // an '@' after the first / ? # means the user name or password holds one of them unencoded
  if (tail.includes('@')) return fail(`the user name or password holds a / ? or # character: ${ENCODE_HINT}`);
  const at = authority.lastIndexOf('@');
  let username: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    try {
      username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
      password = colon < 0 ? undefined : decodeURIComponent(userinfo.slice(colon + 1));
    } catch {
      return fail(`the user name or password holds a % that is not percent-encoding: ${ENCODE_HINT}`);
    }
  }
  const hostPort = authority.slice(at + 1);
  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) return fail('the IPv6 address has no closing ]: write mqtt://[::1]:1883');
    host = hostPort.slice(1, close);
    if (!isIPv6(host)) return fail('the address in [ ] is not an IPv6 address');
    const after = hostPort.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return fail('unexpected text after the IPv6 address: write mqtt://[::1]:1883');
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = hostPort.indexOf(':');
    if (colon >= 0 && hostPort.indexOf(':', colon + 1) >= 0) return fail('an IPv6 address must be in brackets: mqtt://[::1]:1883');
    host = colon < 0 ? hostPort : hostPort.slice(0, colon);
    portText = colon < 0 ? undefined : hostPort.slice(colon + 1);
    if (host === '') return fail('has no host: write mqtt://host:1883');
    if (!HOST_NAME.test(host)) return fail('the host is not a host name or an IP address');
  }
  let port = DEFAULT_PORT[protocol];
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return fail('the port must be a number from 1 to 65535');
    port = Number(portText);
    if (port < 1 || port > 65535) return fail(`port ${port} is out of range: it must be from 1 to 65535`);
  }
  let path: string | undefined;
  if (protocol === 'ws' || protocol === 'wss') {
    if (tail.includes('#')) return fail('a ws:// or wss:// URL has no #fragment');
    path = tail === '' ? '/mqtt' : tail;
  } else if (tail !== '' && tail !== '/') {
    return fail(`unexpected text after host:port: an ${protocol}:// URL has no path, query or fragment`);
  }
  return { ok: true, endpoint: { protocol, host, port, ...(path !== undefined ? { path } : {}), ...(username !== undefined && username !== '' ? { username } : {}), ...(password !== undefined ? { password } : {}) } };
}

/** What mqtt.js connects with instead of the URL string: protocol, host and port, and credentials found in the URL. */
export function connectOptionsOf(e: BrokerEndpoint): { protocol: BrokerScheme; hostname: string; host: string; port: number; path?: string; username?: string; password?: string } {
  // mqtt.js's WebSocket builder writes `${protocol}://${hostname}:${port}${path}`: brackets for IPv6 there
  const hostname = (e.protocol === 'ws' || e.protocol === 'wss') && e.host.includes(':') ? `[${e.host}]` : e.host;
  return { protocol: e.protocol, hostname, host: e.host, port: e.port, ...(e.path !== undefined ? { path: e.path } : {}), ...(e.username !== undefined ? { username: e.username } : {}), ...(e.password !== undefined ? { password: e.password } : {}) };
}

/** True when the URL carries a password (`user:password@`), however it is written. */
export function urlHasPassword(url: string): boolean {
  const r = parseBrokerUrl(url);
  if (r.ok) return r.endpoint.password !== undefined && r.endpoint.password !== '';
  // an invalid URL may still hold one: anything between :// and an @ with a : in it
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^@]*:[^@]*@/s.test(url);
}
