#!/usr/bin/env bash
# Build naudiodon (the PortAudio backend) against the system libportaudio on 64-bit ARM
# (Raspberry Pi OS 64-bit, Jetson). Run from `postinstall`; a no-op elsewhere.
#
# Why: naudiodon 2.3.6's binding.gyp knows Linux x64 and 32-bit "arm" only. On arm64
# (target_arch "arm64") it takes the x64 branch: it copies the bundled x86-64
# portaudio/bin/libportaudio.so.2 into build/Release and links against it, so the link fails
# ("file in wrong format") or the addon does not load. Here we replace its binding.gyp with one
# that compiles the same sources against /usr/include/portaudio.h and links -lportaudio
# (Debian: libportaudio2 + portaudio19-dev), then rebuild it with npm's node-gyp.
# If anything is missing, we say what and exit 0: earshot then captures through arecord.
#
# usage: bash scripts/portaudio-arm64.sh [--force] [--dir NAUDIODON_DIR]
#   --force  run on any architecture (to exercise the build on x86-64)
#   --dir    the naudiodon package to patch (default node_modules/naudiodon)
set -euo pipefail
cd "$(dirname "$0")/.."
force=0
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --dir) dir="$2"; shift ;;
    *) echo "portaudio-arm64: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
say() { echo "portaudio-arm64: $*" >&2; }
# in a checkout naudiodon is in node_modules/; in an installed earshot it is hoisted beside it
[ -n "$dir" ] || dir=$(node -e "try { console.log(require('path').dirname(require.resolve('naudiodon/package.json'))) } catch { console.log('node_modules/naudiodon') }")

case "$(uname -m)" in
  aarch64|arm64) ;;
  *) [ "$force" = 1 ] || exit 0 ;;
esac

if [ ! -f "$dir/binding.gyp" ]; then
  # naudiodon's own build failed on this machine and npm dropped it: fetch its files without building.
  version=$(node -p "const p=require('./package.json'); (p.dependencies||{}).naudiodon || (p.optionalDependencies||{}).naudiodon || ''")
  [ -n "$version" ] || { say "naudiodon is not a dependency; nothing to do"; exit 0; }
  say "naudiodon missing from $dir; installing its files (no build) ..."
  npm install --no-save --ignore-scripts "naudiodon@$version" >&2 || { say "could not fetch naudiodon; earshot will capture with arecord"; exit 0; }
fi

# (not `ldconfig -p | grep -q`: with pipefail, grep quitting early fails the pipe)
# /sbin too: ldconfig lives in /usr/sbin, which a normal user's PATH on Debian and Raspberry Pi OS
# lacks; without it `npm ci` as that user (or a postinstall with a trimmed PATH) reported PortAudio
# missing even when installed (seen under qemu arm64, scripts/verify-arm64.sh).
libs="$(PATH="$PATH:/usr/sbin:/sbin" ldconfig -p 2>/dev/null || true)"
if [ ! -f /usr/include/portaudio.h ] || [[ "$libs" != *"libportaudio.so.2 "* ]]; then
  say "system PortAudio not found: sudo apt-get install libportaudio2 portaudio19-dev, then run: bash scripts/portaudio-arm64.sh"
  say "until then earshot captures through arecord (alsa-utils)"
  exit 0
fi

[ -f "$dir/binding.gyp.bundled" ] || cp "$dir/binding.gyp" "$dir/binding.gyp.bundled"
cat > "$dir/binding.gyp" <<'GYP'
# Written by earshot scripts/portaudio-arm64.sh: the upstream file (kept as binding.gyp.bundled)
# links a bundled x86-64 libportaudio on arm64. This one uses the system libportaudio.
{
  "targets": [
    {
      "target_name": "naudiodon",
      "sources": [
        "src/naudiodonUtil.cc",
        "src/naudiodon.cc",
        "src/GetDevices.cc",
        "src/GetHostAPIs.cc",
        "src/AudioIO.cc",
        "src/PaContext.cc"
      ],
      "cflags_cc!": ["-fno-rtti", "-fno-exceptions"],
      "cflags_cc": ["-std=c++11", "-fexceptions"],
      "libraries": ["-lportaudio"]
    }
  ]
}
GYP
# the bundled header is the same PortAudio v19 API; the system one must win so it matches the library
rm -rf "$dir/build"

gyp="${npm_config_node_gyp:-}"
if [ -z "$gyp" ]; then
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
fi
# Build against the headers of the node that runs earshot when they are installed beside it
# (Debian/NodeSource packages, nvm): no download, so it works offline.
nodedir="${npm_config_nodedir:-}"
prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
if [ -z "$nodedir" ] && [ -f "$prefix/include/node/node_api.h" ]; then nodedir="$prefix"; fi
say "building naudiodon against the system libportaudio ..."
if ! (cd "$dir" && node "$gyp" rebuild ${nodedir:+--nodedir="$nodedir"} >&2); then
  say "the build failed (see above); earshot will capture with arecord. Needs build-essential and python3."
  exit 0
fi

# naudiodon's index.js requires segfault-handler, a native addon of its own. When npm dropped
# naudiodon after its failed build, the files fetched above came with --ignore-scripts, so
# segfault-handler is unbuilt and `require('naudiodon')` throws (seen under qemu arm64).
sfh="$(node -p "require('path').dirname(require.resolve('segfault-handler/package.json', { paths: [require('path').resolve('$dir')] }))" 2>/dev/null || true)"
if [ -n "$sfh" ] && [ ! -f "$sfh/build/Release/segfault-handler.node" ]; then
  say "building segfault-handler (naudiodon requires it) ..."
  if ! (cd "$sfh" && node "$gyp" rebuild ${nodedir:+--nodedir="$nodedir"} >&2); then
    say "the segfault-handler build failed (see above); earshot will capture with arecord"
    exit 0
  fi
fi

# load the package the way earshot does (require('naudiodon'), JS deps included) and list devices
if err="$(node -e "require('$(readlink -f "$dir")').getDevices()" 2>&1 >/dev/null)"; then
  say "ok: $(ldd "$dir/build/Release/naudiodon.node" | grep -o 'libportaudio[^ ]* => [^ ]*')"
else
  say "naudiodon built but does not load ($(printf '%s' "$err" | grep -m1 -E 'Error|error' || true)); earshot will capture with arecord"
fi
