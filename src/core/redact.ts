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

/** Settings that hold a secret when given with `--set path=value`. */
const SECRET_SETTINGS = ['mqtt.password', 'embeddedBroker.password', 'dashboard.token'];

/**
 * A command line with its secrets masked: the password of any URL (`--broker mqtt://u:p@h`,
 * `--set mqtt.url=...`) and the values of `--set mqtt.password=`, `embeddedBroker.password=`,
 * `dashboard.token=`. `found` names what was masked (empty when nothing was).
 */
export function redactArgv(argv: readonly string[]): { argv: string[]; found: string[] } {
  const found: string[] = [];
  const out = argv.map((arg, i) => {
    const flag = arg.startsWith('--broker=') ? '--broker' : argv[i - 1] === '--broker' ? '--broker' : undefined;
    const setting = /^(?:--set=)?([A-Za-z.]+)=/.exec(arg)?.[1];
    const isSet = arg.startsWith('--set=') || argv[i - 1] === '--set';
    if (isSet && setting && SECRET_SETTINGS.includes(setting)) {
      found.push(`--set ${setting}`);
      return arg.slice(0, arg.indexOf('=', arg.indexOf(setting)) + 1) + '***';
    }
    const masked = arg.replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s]*/g, (url) => redactUrl(url));
    if (masked !== arg) found.push(flag ?? (isSet && setting ? `--set ${setting}` : 'a URL argument'));
    return masked;
  });
  return { argv: out, found };
}
