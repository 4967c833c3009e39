#!/usr/bin/env bash
# Writes DIR/.wrangler-prebuilt.toml — DIR's wrangler.toml without its [build] section —
# and prints its name. wrangler dev runs such a config on the wasm already in DIR/build/,
# without the build step's file watcher, which reports a change at startup and then
# restarts the worker while it serves. Tests and measurements use it.
set -euo pipefail
dir=${1:-.}
awk '/^\[build\]/ { skip = 1; next } /^\[/ { skip = 0 } !skip' "$dir/wrangler.toml" >"$dir/.wrangler-prebuilt.toml"
echo .wrangler-prebuilt.toml
