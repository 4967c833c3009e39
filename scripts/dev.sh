#!/usr/bin/env bash
# Runs the worker locally under wrangler dev (workerd, with local Durable Object SQLite
# state in .wrangler/). Listens on 127.0.0.1:${PORT:-8787}. Extra arguments go to
# wrangler, for example: scripts/dev.sh --var LONG_POLL_TIMEOUT_MS:1000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export WRANGLER_SEND_METRICS=false
exec npx wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" "$@"
