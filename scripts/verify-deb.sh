#!/usr/bin/env bash
# Verifies a built earshot .deb for real on THIS machine (root needed; it installs a system
# package, so run it on a throwaway machine or CI): dpkg -i, then as user `earshot`:
# `earshot --version` and `earshot run --demo` (the bundled clip through the whole pipeline to the
# embedded broker); the conffile and the user; `dpkg -r` keeps /etc/earshot/config.yaml and
# /var/lib/earshot, `dpkg -P` removes them; the privacy checks of issue 29 under strace (needs strace)
# and the ownership repair after a root run. Prints one `ok:` line per check; exits non-zero at
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

# privacy (issue 29, docs/privacy.md): the installed program under strace as user earshot with an
# empty HOME: no DNS query, no connection off the machine, no file outside the demo's temporary
# state directory (ONNX Runtime's telemetry wrote ~/.cache/Microsoft/DeveloperTools/.onnxruntime)
command -v strace >/dev/null || fail "strace is missing (apt-get install strace)"
priv=$(mktemp -d /tmp/verify-deb-privacy.XXXXXX)
mkdir "$priv/home" "$priv/tmp"
chown -R earshot:earshot "$priv"
for what in analyze demo; do
  if [ $what = analyze ]; then cmd=(earshot analyze /usr/lib/earshot/assets/demo-angry.flac); else cmd=(earshot run --demo --log-level warn); fi
  (cd /tmp && env -i PATH="$PATH" HOME="$priv/home" TMPDIR="$priv/tmp" ORT_DISABLE_TELEMETRY=0 strace -f -y -qq -o "$priv/$what.strace" \
    -e trace=connect,sendto,openat,creat,mkdir,mkdirat,rename,renameat,renameat2 runuser -u earshot -- "${cmd[@]}" >"$priv/$what.out" 2>&1) || fail "earshot $what under strace: $(tail -3 "$priv/$what.out")"
  node scripts/strace-check.mjs "$priv/$what.strace" --allow "$priv/tmp" >"$priv/$what.check" || fail "earshot $what: $(head -5 "$priv/$what.check")"
  [ -z "$(ls -A "$priv/home")" ] || fail "earshot $what wrote into HOME: $(find "$priv/home" | head -5)"
  [ -z "$(ls -A "$priv/tmp")" ] || fail "earshot $what left its temporary state directory: $(ls "$priv/tmp")"
done
rm -rf "$priv"
ok "earshot analyze and run --demo as earshot under strace: no DNS, no connection off the machine, nothing written outside the demo's state directory, HOME empty"

# ownership (issue 29 item 4): a run as root on the real state directory leaves root-owned files and
# says so; the unit's ExecStartPre= (run here as systemd would, as root) gives them back
root_run=$(cd /tmp && timeout 120 earshot run --demo --log-level warn --state-dir /var/lib/earshot 2>&1 >/dev/null) || fail "earshot run --demo as root"
grep -q 'will be owned by root' <<<"$root_run" || fail "a root run on /var/lib/earshot did not warn about root-owned state"
[ -n "$(find /var/lib/earshot ! -user earshot | head -1)" ] || fail "the root run left no root-owned file (nothing to repair was tested)"
status=0
blocked=$(cd /tmp && runuser -u earshot -- timeout 120 earshot run --demo --log-level warn --state-dir /var/lib/earshot 2>&1 >/dev/null) || status=$?
[ "$status" = 78 ] && grep -q 'Fix it with: sudo chown -R earshot: /var/lib/earshot' <<<"$blocked" || fail "the daemon as earshot on root-owned state: exit $status, $(tail -2 <<<"$blocked")"
pre=$(sed -n 's/^ExecStartPre=+//p' /lib/systemd/system/earshot.service)
[ -n "$pre" ] || fail "the unit has no ExecStartPre=+ ownership repair"
$pre || fail "the unit's ExecStartPre ($pre)"
[ -z "$(find /var/lib/earshot ! -user earshot | head -1)" ] || fail "files not owned by earshot after ExecStartPre: $(find /var/lib/earshot ! -user earshot | head -3)"
events=$(cd /tmp && runuser -u earshot -- timeout 120 earshot run --demo --log-level warn --state-dir /var/lib/earshot | grep -c '"label"') || fail "earshot run as earshot on /var/lib/earshot after the repair"
ok "a root run on /var/lib/earshot warns; as earshot the daemon then exits 78 naming the fix; after the unit's ExecStartPre ($pre) it runs there ($events events)"

# the installed service itself, where systemd runs this machine: telemetry off in its environment,
# started after the root run above, and under strace for 20 s: loopback only, nothing in its HOME
if [ -d /run/systemd/system ]; then
  systemctl show -p Environment earshot | grep -q 'ORT_DISABLE_TELEMETRY=1' || fail "the unit does not set ORT_DISABLE_TELEMETRY=1"
  systemctl restart earshot || fail "systemctl restart earshot after a root run: $(journalctl -u earshot -n 5 --no-pager)"
  sleep 3
  systemctl is-active -q earshot || fail "the service is not active after a root run: $(journalctl -u earshot -n 5 --no-pager)"
  pid=$(systemctl show -p MainPID --value earshot)
  timeout 20 strace -f -y -qq -p "$pid" -o /tmp/verify-deb-service.strace -e trace=connect,sendto,openat,creat,mkdir,mkdirat,rename,renameat,renameat2 || true
  node scripts/strace-check.mjs /tmp/verify-deb-service.strace --allow /var/lib/earshot || fail "the service: $(head -5 /tmp/verify-deb-service.strace)"
  [ ! -e /var/lib/earshot/.cache ] || fail "the service wrote /var/lib/earshot/.cache (its HOME): ONNX Runtime telemetry?"
  systemctl stop earshot
  ok "the service starts after a root run; 20 s under strace: loopback only, nothing outside /var/lib/earshot, no ~/.cache"
else
  echo "skip: systemd is not running here: the service's own strace check was not run"
fi

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
