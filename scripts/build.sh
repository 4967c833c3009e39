#!/usr/bin/env bash
# Builds a worker crate (wasm + JS shim) into <crate>/build/. wrangler runs this before
# `dev` and `deploy` (see [build] in wrangler.toml). The argument is the crate's
# directory relative to the repository root (default: the root crate).
#
# The wasm-bindgen CLI, wasm-opt and esbuild come from this machine (scripts/setup.sh
# installs them), so the build never downloads tools from GitHub.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

bin_dir="${CARGO_HOME:-$HOME/.cargo}/bin"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$bin_dir/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"

cd "$root/${1:-.}"
exec "$bin_dir/worker-build" --release
