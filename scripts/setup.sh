#!/usr/bin/env bash
# Installs everything earshot needs on Debian/Raspberry Pi OS: the apt packages (sox/flac for
# audio tools, alsa-utils for arecord, mosquitto for the end-to-end tests, PortAudio,
# PyTorch/torchaudio from Debian for training and golden vectors, dpkg-dev/lintian/file for the
# Debian package and its checks, chromium for the dashboard's browser tests through playwright-core,
# which never downloads a browser itself, strace for the privacy test (test/e2e/privacy-strace.test.ts)), then `npm ci` and `npm run build`
# (WASM kernels and compiled JavaScript into dist/). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Node.js >= 20 (package.json "engines"). Debian 13 / Raspberry Pi OS trixie ship nodejs 20 in apt;
# Debian 12 / bookworm ship 18, so there it comes from NodeSource's apt repository (docs/install.md).
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
  have="$(node --version 2>/dev/null || echo "no node")"
  echo "setup: earshot needs Node.js 20 or newer; this machine has $have." >&2
  case "$codename" in
    bookworm|bullseye|jammy|focal)
      echo "setup: $codename's own nodejs is too old. Install Node.js 20 from NodeSource, then run this again:" >&2
      echo "    curl -fsSL https://deb.nodesource.com/setup_20.x | sudo -E bash -" >&2
      echo "    sudo apt-get install -y nodejs" >&2 ;;
    *)
      echo "setup: on Debian 13 / Raspberry Pi OS trixie (or newer), apt's nodejs is 20: run this again after" >&2
      echo "    sudo apt-get install -y nodejs npm" >&2
      echo "setup: on Debian 12 / bookworm, install Node.js 20 from NodeSource (see docs/install.md)." >&2 ;;
  esac
  exit 69 # EX_UNAVAILABLE
fi
# a leftover of an interrupted `npm pack` (prepack writes it, postpack removes it): npm ci would
# prefer it to package-lock.json, which is the file that is kept up to date
rm -f npm-shrinkwrap.json
APT_PACKAGES=(sox flac alsa-utils mosquitto libportaudio2 portaudio19-dev libsystemd-dev
  python3-torch python3-torchaudio python3-onnx python3-numpy python3-sklearn python3-pytest python3-flake8
  dpkg-dev lintian file adduser patchelf chromium strace)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node-gyp would download Node headers and onnxruntime-node's postinstall would fetch CUDA files:
# neither may touch the network here, and neither is needed (CPU binaries ship in the tarball).
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
npm run --silent build
echo "setup: done"
