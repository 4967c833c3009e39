#!/usr/bin/env bash
# Runs every test:
#   1. native unit and property tests (cargo test), and clippy natively and for wasm32,
#   2. the upstream conformance suite and our integration tests (vitest) against the
#      worker running locally under wrangler dev, a smoke test of the example worker
#      that embeds the library, the subscription layer (its test starts a core and
#      two subscription workers of its own, with local queues), and the admin worker
#      (its test starts a core and admin workers of its own, and drives the pages in
#      Chromium),
#   3. a short load test run (loadtest/) against the same worker: 300 readers must get
#      every message in order, with about one stream-object read per append; and a short
#      pub/sub run through a subscription worker bound to it: 150 sessions, fanned out
#      through the local queue, must each get every message once, in the source's order,
#   4. a short fuzzing run of the parsers (scripts/fuzz.sh, FUZZ_SECONDS per target).
# The local workers are started here, on free ports with fresh state, and stopped on
# exit. Set STREAMS_BASE_URL to test an already running worker instead (its long-poll
# timeout must then be about 1 s: wrangler dev --var LONG_POLL_TIMEOUT_MS:1000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export WRANGLER_SEND_METRICS=false
export LONG_POLL_TIMEOUT_MS=1000

echo "== native tests"
cargo test --workspace --quiet

# Natively clippy sees everything but the wasm-only platform glue; the wasm32 run sees
# that too (the load-test harness is native only).
echo "== lints: clippy, native and wasm32"
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo clippy --quiet --target wasm32-unknown-unknown -p durable-streams-cloudflare \
  -p durable-streams-cache -p durable-streams-subscriptions -p durable-streams-admin -p embedded-worker -- -D warnings

work=$(mktemp -d)
workers=()
cleanup() {
  local status=$?
  # On a failure, the workers' own logs say what they saw (uncaught errors, restarts).
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      echo "== the last lines of $(basename "$log")" >&2
      tail -n 60 "$log" >&2
    done
  fi
  for pid in "${workers[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${workers[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Both workers are built here, once, and run without wrangler's build step (see
# scripts/prebuilt-config.sh).
echo "== building the workers"
scripts/build.sh
scripts/build.sh examples/embedded-worker
scripts/build.sh subscription
scripts/build.sh admin

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# start_worker NAME DIR [WRANGLER ARGS...]: runs wrangler dev for the built crate in DIR
# and sets WORKER_URL once /health answers.
start_worker() {
  local name=$1 dir=$2 port inspector log config
  shift 2
  port=$(free_port)
  inspector=$(free_port)
  log="$work/$name.log"
  config=$(scripts/prebuilt-config.sh "$dir")
  # The workers started here find each other's service bindings in a registry of their
  # own, never among workers that tests or a developer run elsewhere on the machine.
  # VSCODE_INSPECTOR_OPTIONS keeps wrangler from starting its DevTools inspector proxy,
  # which relays several events per request a worker makes to wrangler as one local
  # HTTP request each, and leaks a socket per event (see docs/loadtest.md).
  (cd "$dir" && WRANGLER_REGISTRY_PATH="$work/registry" VSCODE_INSPECTOR_OPTIONS='{}' exec setsid npx wrangler dev -c "$config" --ip 127.0.0.1 --port "$port" --inspector-port "$inspector" \
      --persist-to "$work/$name-state" --var "LONG_POLL_TIMEOUT_MS:$LONG_POLL_TIMEOUT_MS" \
      --var DEBUG_STATS:1 "$@" >"$log" 2>&1) &
  workers+=($!)
  local pid=$!
  for _ in $(seq 1 900); do
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      WORKER_URL="http://127.0.0.1:$port"
      # Wake a stream object once, so the first test does not pay for starting the
      # object runtime on a busy machine (stats create no stream).
      curl -s -o /dev/null --max-time 60 "$WORKER_URL/debug/stats/warm-up" || true
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 1
  done
  echo "== $name did not start; its log:" >&2
  cat "$log" >&2
  return 1
}

if [ -z "${STREAMS_BASE_URL:-}" ]; then
  echo "== starting the worker"
  start_worker streams .
  STREAMS_BASE_URL=$WORKER_URL
  echo "== starting a subscription worker bound to it"
  # Above 100 subscribers a publish fans out through the local queue.
  start_worker subscription subscription --var FANOUT_QUEUE_THRESHOLD:100
  SUBSCRIPTION_BASE_URL=$WORKER_URL
fi
echo "== starting the embedded-library example"
# The example has the optional D1 admin index; its local database needs the migrations.
(cd examples/embedded-worker &&
  npx wrangler d1 migrations apply ADMIN_DB --local --persist-to "$work/embedded-state" >/dev/null)
# It also runs with a short SSE session and small segments, so tests see sessions end
# and segments indexed quickly.
start_worker embedded examples/embedded-worker --var SSE_SESSION_MS:1500 --var SEGMENT_MAX_MESSAGES:5
EMBEDDED_BASE_URL=$WORKER_URL
EMBEDDED_STATE="$work/embedded-state"
export STREAMS_BASE_URL EMBEDDED_BASE_URL EMBEDDED_STATE

echo "== conformance suite (@durable-streams/server-conformance-tests) against $STREAMS_BASE_URL"
npx vitest run --config tests/vitest.config.ts tests/conformance

echo "== integration tests against $STREAMS_BASE_URL"
npx vitest run --config tests/vitest.config.ts tests/integration

echo "== load test against $STREAMS_BASE_URL"
cargo run -p loadtest --quiet -- --url "$STREAMS_BASE_URL" --clients 300 --sse-ratio 0.2 \
  --rate 4 --duration 6 --json --max-reads-per-append 1.5

if [ -n "${SUBSCRIPTION_BASE_URL:-}" ]; then
  echo "== pub/sub load test against $SUBSCRIPTION_BASE_URL"
  cargo run -p loadtest --quiet -- --pubsub --url "$STREAMS_BASE_URL" \
    --subscription-url "$SUBSCRIPTION_BASE_URL" --sessions 150 --sse-ratio 0.2 --rate 2 --duration 6
else
  echo "== pub/sub load test skipped: it needs the local core (STREAMS_BASE_URL is set)"
fi

echo "== fuzzing the parsers, ${FUZZ_SECONDS:-5} s per target"
scripts/fuzz.sh "${FUZZ_SECONDS:-5}"
