#!/usr/bin/env bash
# Verifies a built earshot .deb for real on THIS machine (root needed; it installs a system
# package, so run it on a throwaway machine or CI): dpkg -i, then as user `earshot`:
# `earshot --version` and `earshot run --demo` (the bundled clip through the whole pipeline to the
# embedded broker); the conffile and the user; `dpkg -r` keeps /etc/earshot/config.yaml and
# /var/lib/earshot, `dpkg -P` removes them. Prints one `ok:` line per check; exits non-zero at
# the first failure. A machine that already had earshot installed gets it removed at the end.
#
# usage: sudo bash scripts/verify-deb.sh [build/deb/earshot_VERSION_ARCH.deb]
set -euo pipefail
cd "$(dirname "$0")/.."
deb=${1:-build/deb/earshot_$(node -p "require('./package.json').version")_$(dpkg --print-architecture).deb}
[ "$(id -u)" -eq 0 ] || { echo "verify-deb: run as root (it installs $deb)" >&2; exit 77; }
[ -f "$deb" ] || { echo "verify-deb: $deb is missing: run bash scripts/build-deb.sh first" >&2; exit 66; }
fail() { echo "verify-deb: FAILED: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
export DEBIAN_FRONTEND=noninteractive
# apt or another dpkg may hold the lock for a while (CI installs packages right before)
dpkg_() { for _ in $(seq 60); do dpkg "$@" 2>/tmp/verify-deb.dpkg && return 0; grep -q 'lock' /tmp/verify-deb.dpkg || { cat /tmp/verify-deb.dpkg >&2; return 1; }; sleep 2; done; cat /tmp/verify-deb.dpkg >&2; return 1; }

dpkg_ -i "$deb" >/dev/null || fail "dpkg -i $deb"
ok "dpkg -i $(basename "$deb")"
getent passwd earshot >/dev/null || fail "no user earshot"
id -nG earshot | grep -qw audio || fail "earshot is not in group audio"
[ "$(stat -c %U /var/lib/earshot)" = earshot ] || fail "/var/lib/earshot is not owned by earshot"
ok "system user earshot in group audio, /var/lib/earshot owned by it"
dpkg-query -W -f='${Conffiles}\n' earshot | grep -q /etc/earshot/config.yaml || fail "config.yaml is not a conffile"
ok "/etc/earshot/config.yaml is a conffile"

version=$(runuser -u earshot -- earshot --version) || fail "earshot --version as earshot"
[ "$version" = "$(dpkg-query -W -f='${Version}' earshot)" ] || fail "earshot --version says $version"
ok "earshot --version as user earshot: $version"
# the packaged config is all comments: running with it is running with the schema's defaults
runuser -u earshot -- earshot run --config /etc/earshot/config.yaml --print-config >/dev/null || fail "the packaged config does not load"
ok "the packaged /etc/earshot/config.yaml loads"
events=$(cd /tmp && runuser -u earshot -- timeout 120 earshot run --demo --log-level warn --state-dir /var/lib/earshot/demo | grep -c '"label"') || fail "earshot run --demo as earshot"
[ "$events" -ge 3 ] || fail "earshot run --demo gave $events events"
ok "earshot run --demo as user earshot: $events events"
status=0
runuser -u earshot -- earshot run --config /nonexistent.yaml >/dev/null 2>&1 || status=$?
[ "$status" = 78 ] || fail "a missing config file exits $status, not 78 (EX_CONFIG, in RestartPreventExitStatus=)"
ok "a missing config file exits 78"

echo '# edited by the user' >> /etc/earshot/config.yaml
dpkg_ -r earshot >/dev/null || fail "dpkg -r"
[ ! -e /usr/bin/earshot ] && [ ! -d /usr/lib/earshot ] || fail "dpkg -r left the program"
grep -q 'edited by the user' /etc/earshot/config.yaml || fail "dpkg -r did not keep the edited config"
[ -d /var/lib/earshot ] || fail "dpkg -r removed the state directory"
ok "dpkg -r removes the program, keeps the edited config and /var/lib/earshot"
dpkg_ -P earshot >/dev/null || fail "dpkg -P"
[ ! -e /etc/earshot ] && [ ! -e /var/lib/earshot ] || fail "dpkg -P left /etc/earshot or /var/lib/earshot"
ok "dpkg -P removes the config and the state directory"
