#!/usr/bin/env bash
# Builds the Debian packages earshot_<version>_amd64.deb and earshot_<version>_arm64.deb with
# dpkg-deb, from this checkout, without network: the package's own files are exactly what
# `npm pack` ships (package.json "files"), and its node_modules are the production dependencies
# already installed here (`npm ci`), trimmed to the target architecture.
#
#   /usr/lib/earshot/                 the program (compiled JS, WASM, models, assets, node_modules)
#   /usr/bin/earshot                  -> ../lib/earshot/bin/earshot.js
#   /lib/systemd/system/earshot.service
#   /etc/earshot/config.yaml          conffile: every key with its default, commented out
#   /usr/share/doc/earshot/           copyright, changelog, the model licence note, examples/ (a
#                                     link to /usr/lib/earshot/examples: the MQTT-WebSockets page, Node-RED)
#
# onnxruntime-node ships CPU binaries for linux x64 and arm64: each package keeps its own. The
# PortAudio addon (naudiodon) is compiled for the build machine: the amd64 package keeps it when
# built on x86-64; the arm64 package leaves it out and earshot captures through arecord
# (alsa-utils), as it does today when the addon cannot load (scripts/portaudio-arm64.sh rebuilds it
# on a Pi from a checkout).
#
# usage: bash scripts/build-deb.sh [--arch amd64|arm64|all] [--out DIR]   (default: all, build/deb)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
arches=(amd64 arm64)
out=build/deb
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) [ "$2" = all ] || arches=("$2"); shift ;;
    --out) out="$2"; shift ;;
    *) echo "build-deb: unknown option $1 (usage: --arch amd64|arm64|all, --out DIR)" >&2; exit 64 ;;
  esac
  shift
done
for a in "${arches[@]}"; do
  case "$a" in amd64|arm64) ;; *) echo "build-deb: --arch $a: use amd64, arm64 or all" >&2; exit 64 ;; esac
done
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb is missing (apt-get install dpkg)" >&2; exit 69; }
command -v patchelf >/dev/null || { echo "build-deb: patchelf is missing (apt-get install patchelf; scripts/setup.sh does)" >&2; exit 69; }
[ -d node_modules ] || { echo "build-deb: node_modules is missing: run \`npm ci\` first" >&2; exit 66; }
[ -f dist/cli.js ] && [ -f dist/wasm/frontend.wasm ] || { echo "build-deb: dist/ is not built: run \`npm run build\` first" >&2; exit 66; }

version=$(node -p "require('./package.json').version")
mkdir -p "$out"
out=$(cd "$out" && pwd)
host_arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)

# what `npm pack` ships, file by file (no scripts: dist/ is built)
mapfile -t pack_files < <(npm pack --dry-run --json --ignore-scripts 2>/dev/null | node -e "
  let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => {
    for (const f of JSON.parse(s)[0].files) console.log(f.path);
  });")
[ "${#pack_files[@]}" -gt 10 ] || { echo "build-deb: npm pack --dry-run listed no files" >&2; exit 70; }
# the production dependencies as installed here (top-level folders of node_modules)
mapfile -t prod_modules < <(npm ls --omit=dev --all --parseable 2>/dev/null | sed "s#^$repo/##" | grep '^node_modules/' |
  awk -F/ '{ print ($2 ~ /^@/) ? $1 "/" $2 "/" $3 : $1 "/" $2 }' | sort -u)

for arch in "${arches[@]}"; do
  node_arch=$([ "$arch" = amd64 ] && echo x64 || echo arm64)
  other_arch=$([ "$arch" = amd64 ] && echo arm64 || echo x64)
  stage=$(mktemp -d "${TMPDIR:-/tmp}/earshot-deb-$arch.XXXXXX")
  chmod 0755 "$stage"
  trap 'rm -rf "$stage"' EXIT
  lib="$stage/usr/lib/earshot"
  mkdir -p "$lib"
  for f in "${pack_files[@]}"; do install -D -m 0644 "$f" "$lib/$f"; done
  chmod 0755 "$lib/bin/earshot.js"
  for m in "${prod_modules[@]}"; do
    mkdir -p "$lib/$(dirname "$m")"
    cp -a "$m" "$lib/$m"
  done
  ort="$lib/node_modules/onnxruntime-node/bin/napi-v6"
  rm -rf "$ort/darwin" "$ort/win32" "$ort/linux/$other_arch"
  [ -f "$ort/linux/$node_arch/onnxruntime_binding.node" ] || { echo "build-deb: onnxruntime-node has no linux/$node_arch binary" >&2; exit 70; }
  if [ "$arch" != "$host_arch" ]; then
    # native addons built here are for the build machine: leave them out (arecord is the fallback)
    rm -rf "$lib/node_modules/naudiodon" "$lib/node_modules/segfault-handler" "$lib/node_modules/sd-notify/build"
  else
    # keep the built addons and naudiodon's copy of libportaudio, not the build's intermediates nor
    # the libraries it bundles for every other platform; the addon finds its libportaudio beside
    # it ($ORIGIN) instead of in this checkout's build folder (its RUNPATH as built)
    for m in naudiodon segfault-handler sd-notify; do
      rm -rf "$lib/node_modules/$m/build/Release/obj.target" "$lib/node_modules/$m/build/Release/.deps" "$lib/node_modules/$m/build/"*.mk "$lib/node_modules/$m/build/Makefile"
    done
    rm -rf "$lib/node_modules/naudiodon/portaudio" "$lib/node_modules/naudiodon/scratch"
    patchelf --set-rpath '$ORIGIN' "$lib/node_modules/naudiodon/build/Release/naudiodon.node"
  fi
  # npm's own leftovers and development files inside dependencies
  find "$lib/node_modules" \( -name '.package-lock.json' -o -name '*.map' -o -name '.github' -o -name '.eslintrc*' -o -name '.travis.yml' -o -name '.npmignore' \) -prune -exec rm -rf {} +
  find "$lib" -type d -exec chmod 0755 {} +
  find "$lib" -type f ! -perm -u+x -exec chmod 0644 {} +
  find "$lib" -type f -perm -u+x -exec chmod 0755 {} +
  # shared objects are loaded, not run
  find "$lib" -type f \( -name '*.so' -o -name '*.so.*' -o -name '*.node' \) -exec chmod 0644 {} +

  mkdir -p "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/earshot" "$stage/usr/share/doc/earshot" "$stage/DEBIAN"
  ln -s ../lib/earshot/bin/earshot.js "$stage/usr/bin/earshot"
  install -m 0644 systemd/earshot.service "$stage/lib/systemd/system/earshot.service"
  # without the sd-notify addon (left out above) the daemon notifies through systemd-notify children
  [ "$arch" = "$host_arch" ] || sed -i 's/^NotifyAccess=main$/NotifyAccess=all/' "$stage/lib/systemd/system/earshot.service"
  node dist/cli.js run --print-template > "$stage/etc/earshot/config.yaml"
  chmod 0644 "$stage/etc/earshot/config.yaml"
  install -m 0644 packaging/debian/copyright "$stage/usr/share/doc/earshot/copyright"
  install -m 0644 models/README.md "$stage/usr/share/doc/earshot/MODELS-LICENCE.md"
  gzip -9n -c packaging/debian/changelog > "$stage/usr/share/doc/earshot/changelog.gz"
  # examples/ ships in the program's folder (package.json "files"); Debian looks for them here
  [ -d "$lib/examples" ] || { echo "build-deb: examples/ is not in the package files" >&2; exit 70; }
  ln -s ../../../lib/earshot/examples "$stage/usr/share/doc/earshot/examples"
  mkdir -p "$stage/usr/share/lintian/overrides"
  install -m 0644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/earshot"

  installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
  sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$installed_kb/" packaging/debian/control > "$stage/DEBIAN/control"
  echo /etc/earshot/config.yaml > "$stage/DEBIAN/conffiles"
  for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$stage/DEBIAN/$s"; done
  (cd "$stage" && find . -path ./DEBIAN -prune -o -type f -print0 | sed -z 's#^\./##' | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
  chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles"

  deb="$out/earshot_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
  rm -rf "$stage"
  trap - EXIT
  echo "build-deb: $deb ($(du -h "$deb" | cut -f1), installed $((installed_kb / 1024)) MB)"
done
