#!/usr/bin/env bash
# Compiles the AssemblyScript kernels into dist/wasm/: the frontend with SIMD (release) and without
# (scalar, for the benchmark and for CPUs without WASM SIMD), and the resampler. asc also writes
# each kernel's typings (NAME.d.ts, raw bindings): the TypeScript side takes the kernels' export
# signatures from them, so a changed kernel signature fails the type check instead of drifting.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/wasm
mkdir -p "$out"
asc=node_modules/.bin/asc
if [ ! -x "$asc" ]; then
  echo "build-wasm: $asc is missing: run \`npm ci\` (assemblyscript is a development dependency)" >&2
  exit 1
fi
$asc assembly/frontend.ts --config asconfig.json --target release -o "$out/frontend.wasm"
$asc assembly/frontend.ts --config asconfig.json --target scalar -o "$out/frontend-scalar.wasm"
$asc assembly/resampler.ts --config asconfig.json --target release -o "$out/resampler.wasm"
# the raw bindings' JavaScript is not used (src/runtime/frontend/wasm.ts instantiates the modules)
rm -f "$out"/*.js
