#!/usr/bin/env bash
# Compiles the AssemblyScript kernels: the frontend with SIMD (release) and without (scalar, for
# the benchmark and for CPUs without WASM SIMD), and the resampler.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
asc=node_modules/.bin/asc
$asc assembly/frontend.ts --config asconfig.json --target release -o build/frontend.wasm -t build/frontend.wat
$asc assembly/frontend.ts --config asconfig.json --target scalar -o build/frontend-scalar.wasm
if [ -f assembly/resampler.ts ]; then
  $asc assembly/resampler.ts --config asconfig.json --target release -o build/resampler.wasm
fi
