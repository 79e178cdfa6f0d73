#!/usr/bin/env bash
# The main job on the embedded default: the bundled clip through the whole pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -q "registerRun" src/cli.ts; then
  exec node bin/earshot.js run --demo --stdout
elif grep -q "registerAnalyze" src/cli.ts; then
  exec node bin/earshot.js analyze assets/demo-angry.flac
else
  out=$(mktemp -d)
  node bin/earshot.js features assets/demo-angry.flac --out "$out"
  node -e "const b=require('fs').readFileSync('$out/demo-angry.npy');console.log('features:', b.subarray(10,80).toString().trim())"
fi
