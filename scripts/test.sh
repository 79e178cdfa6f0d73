#!/usr/bin/env bash
# The whole test suite: builds the WASM kernels and the compiled JavaScript (bin/earshot.js runs
# dist/), then runs every test file (the type check is one of them).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build

node scripts/run-tests.mjs "$@"
