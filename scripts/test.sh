#!/usr/bin/env bash
# The whole test suite: builds the WASM kernels, type-checks, runs every test file.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build:wasm

node scripts/run-tests.mjs "$@"
