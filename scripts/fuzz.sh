#!/usr/bin/env bash
# Fuzzes the pure protocol parsers with libFuzzer (the targets are in fuzz/):
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 10)
# Installs cargo-fuzz at a pinned version if needed, builds every target once, then runs
# each in turn for the given time and prints its execution count. Exits non-zero if a
# target crashes, fails an assertion, hangs, or allocates past the memory limit; the
# input that did it is saved under fuzz/artifacts/<target>/.
#
# Inputs found along the way are kept in fuzz/corpus/<target>/ (not committed), so
# repeated runs start where the last one stopped; fuzz/seeds/<target>/ holds committed
# starting points. Set FUZZ_SANITIZER=none to build without AddressSanitizer (faster,
# but only Rust-level checks then).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
seconds=${1:-10}
sanitizer=${FUZZ_SANITIZER:-address}
# Per-input limits: a parser must not need more than this to reject anything.
rss_limit_mb=1024
timeout_s=10

case $seconds in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac

bin_dir="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$bin_dir:$PATH"
say() { printf '[fuzz] %s\n' "$*"; }

if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $NF}')" != "$CARGO_FUZZ_VERSION" ]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# cargo-fuzz passes -Z flags (sanitizers, coverage instrumentation) that only nightly
# accepts; this lets the stable toolchain accept them too.
export RUSTC_BOOTSTRAP=1

say "building all targets (sanitizer: $sanitizer)"
cargo fuzz build -s "$sanitizer"

host=$(rustc -vV | sed -n 's/^host: //p')
# cargo fuzz builds into CARGO_TARGET_DIR when one is set (a shared target dir).
bin="${CARGO_TARGET_DIR:-fuzz/target}/$host/release"
logs="fuzz/target/logs"
mkdir -p "$logs"

# Largest input per target: bigger than any real header or query, big enough for JSON
# bodies and SSE payloads with structure.
max_len() {
  case $1 in
    json | sse) echo 4096 ;;
    *) echo 1024 ;;
  esac
}

failed=()
for target in $(cargo fuzz list); do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  log="$logs/$target.log"
  mkdir -p "$corpus" "$artifacts"
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
  status=0
  "$bin/$target" "$corpus" "${seeds[@]}" \
    -max_total_time="$seconds" -max_len="$(max_len "$target")" \
    -rss_limit_mb="$rss_limit_mb" -timeout="$timeout_s" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  if [ "$status" -eq 0 ]; then
    say "$target: ${runs:-?} executions in ${seconds}s, no crash"
  else
    say "$target: FAILED (exit $status) after ${runs:-?} executions; log: $log"
    grep -m 1 -A 8 -E "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer" "$log" >&2 || tail -n 20 "$log" >&2
    ls "$artifacts" >&2
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  say "crashed: ${failed[*]}"
  exit 1
fi
say "all targets ran without a crash"
