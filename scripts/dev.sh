#!/usr/bin/env bash
# Runs every worker locally under wrangler dev (workerd, with local Durable Object SQLite,
# R2, Cache and Queues; state in each worker's .wrangler/):
#   - the streams worker ("core") on 127.0.0.1:${PORT:-8787},
#   - the subscription worker on 127.0.0.1:${SUBSCRIPTION_PORT:-8788}, reaching core
#     over its service binding (all share one dev registry, so they find each other),
#   - the admin worker on 127.0.0.1:${ADMIN_PORT:-8789}, open to anyone
#     (ADMIN_AUTH=dev-open: a local development mode its pages announce), reaching
#     core's stream objects through its Durable Object binding.
# Extra arguments go to core's wrangler, for example:
#   scripts/dev.sh --var LONG_POLL_TIMEOUT_MS:1000
# Each rebuilds when its sources change. With PREBUILT=1 both are built once and run
# without watching (scripts/prebuilt-config.sh): for measurements. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export WRANGLER_SEND_METRICS=false
export WRANGLER_REGISTRY_PATH="${WRANGLER_REGISTRY_PATH:-$PWD/.wrangler/registry}"
mkdir -p "$WRANGLER_REGISTRY_PATH"

core_config=()
subscription_config=()
admin_config=()
if [ "${PREBUILT:-}" = 1 ]; then
  scripts/build.sh
  scripts/build.sh subscription
  scripts/build.sh admin
  core_config=(-c "$(scripts/prebuilt-config.sh .)")
  subscription_config=(-c "$(scripts/prebuilt-config.sh subscription)")
  admin_config=(-c "$(scripts/prebuilt-config.sh admin)")
fi

pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

core_port=${PORT:-8787}
subscription_port=${SUBSCRIPTION_PORT:-8788}
admin_port=${ADMIN_PORT:-8789}
# Local counters on (core's and the subscription layer's): the dashboards read them,
# since Analytics Engine is write-only here.
setsid npx wrangler dev "${core_config[@]}" --ip 127.0.0.1 --port "$core_port" --var METRICS_COUNTERS:1 "$@" &
pids+=($!)
(cd subscription && exec setsid npx wrangler dev "${subscription_config[@]}" --ip 127.0.0.1 \
  --port "$subscription_port" --inspector-port 0 --var METRICS_COUNTERS:1) &
pids+=($!)
(cd admin && exec setsid npx wrangler dev "${admin_config[@]}" --ip 127.0.0.1 \
  --port "$admin_port" --inspector-port 0 --var ADMIN_AUTH:dev-open) &
pids+=($!)

for _ in $(seq 1 300); do
  if curl -sf "http://127.0.0.1:$core_port/health" >/dev/null 2>&1 &&
    curl -sf "http://127.0.0.1:$subscription_port/health" >/dev/null 2>&1 &&
    curl -sf "http://127.0.0.1:$admin_port/health" >/dev/null 2>&1; then
    echo
    echo "core (streams):  http://127.0.0.1:$core_port"
    echo "subscriptions:   http://127.0.0.1:$subscription_port"
    echo "admin:           http://127.0.0.1:$admin_port  (dev-open: no Access gate)"
    echo
    break
  fi
  sleep 1
done
wait -n
