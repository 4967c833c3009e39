#!/usr/bin/env bash
# Builds the worker (wasm + JS shim) into build/. wrangler runs this before `dev` and
# `deploy` (see [build] in wrangler.toml). The wasm-bindgen CLI, wasm-opt and esbuild
# come from this machine (scripts/setup.sh installs them), so the build never downloads
# tools from GitHub.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir="${CARGO_HOME:-$HOME/.cargo}/bin"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$bin_dir/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/.bin/esbuild}"

exec "$bin_dir/worker-build" --release "$@"
