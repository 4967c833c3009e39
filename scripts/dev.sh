#!/usr/bin/env bash
# Runs the worker locally under wrangler dev (workerd, with local Durable Object SQLite
# state in .wrangler/). Listens on 127.0.0.1:${PORT:-8787}. Extra arguments go to
# wrangler, for example: scripts/dev.sh --var LONG_POLL_TIMEOUT_MS:1000
# It rebuilds when src/ changes. With PREBUILT=1 it builds once and runs that build
# without watching (scripts/prebuilt-config.sh): for measurements.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export WRANGLER_SEND_METRICS=false
if [ "${PREBUILT:-}" = 1 ]; then
  scripts/build.sh
  set -- -c "$(scripts/prebuilt-config.sh .)" "$@"
fi
exec npx wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" "$@"
