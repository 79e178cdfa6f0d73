#!/usr/bin/env bash
# Installs everything earshot needs on Debian/Raspberry Pi OS: the apt packages (sox/flac for
# audio tools, alsa-utils for arecord, mosquitto for the end-to-end tests, PortAudio,
# PyTorch/torchaudio from Debian for training and golden vectors, dpkg-dev/lintian/file for the
# Debian package and its checks, chromium for the dashboard's browser tests through playwright-core,
# which never downloads a browser itself, strace for the privacy test (test/privacy-strace.test.ts)), then `npm ci` and `npm run build`
# (WASM kernels and compiled JavaScript into dist/). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_PACKAGES=(sox flac alsa-utils mosquitto libportaudio2 portaudio19-dev libsystemd-dev
  python3-torch python3-torchaudio python3-onnx python3-numpy python3-sklearn
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
