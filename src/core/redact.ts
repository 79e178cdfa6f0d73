/**
 * Secrets out of what is shown: a broker URL may carry `user:password@` (RFC 3986 userinfo, which
 * mqtt.js honours), and the URL is logged, put in errors, printed by --print-config and served by
 * /healthz. Everything that shows a URL shows `redactUrl(url)`; only the client gets the original.
 */

/** `mqtt://user:secret@host:1883` -> `mqtt://user:***@host:1883`; a URL without a password is unchanged. */
export function redactUrl(url: string): string {
  // greedy: the host part follows the LAST '@', so an unescaped '@' in a password is still hidden
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(.*)@([^@]*)$/s.exec(url);
  if (!m) return url;
  const [, scheme, userinfo, rest] = m;
  const colon = userinfo.indexOf(':');
  if (colon < 0) return url;
  return `${scheme}${userinfo.slice(0, colon)}:***@${rest}`;
}
