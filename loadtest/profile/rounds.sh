#!/usr/bin/env bash
# Alternating rounds of the table's probes against any number of running servers
# (A B C A B C ...), so that machine noise hits them alike, then the median of each figure
# per server and its ratio to the first. The probes are the bench folder's: perf_probe.mjs
# (sequential appends, 4 concurrent writers, an 8 MiB catch-up), collapse.mjs at 200 and
# 1,000 long-poll readers, and the upstream benchmark suite (ping, RTT, small messages).
#
# usage: BENCH=<bench folder> rounds.sh OUT_DIR ROUNDS NAME=URL [NAME=URL ...]
# BENCH_HOME is where the bench folder installed the upstream suite (its setup.sh).
set -u
bench=${BENCH:?set BENCH to the bench folder}
home=${BENCH_HOME:-${TMPDIR:-/tmp}/ds-bench}
out=$1 rounds=$2
shift 2
mkdir -p "$out"
"$bench/upstream/setup.sh" >/dev/null || exit 1

column() { # FILE ROW: the P50 column of the upstream suite's table
  sed 's/\x1b\[[0-9;]*m//g' "$1" | grep "$2" | tail -1 | awk -F'│' '{print $6}' | tr -dc '0-9.'
}
figure() { # FILE WORD: the number after WORD in a collapse.mjs report
  grep -o "$2 [0-9.]*" "$1" | head -1 | awk '{print $2}'
}

one() { # NAME URL ROUND
  local f="$out/$1-r$3"
  timeout 300 node "$bench/probes/perf_probe.mjs" "$2" "$1" >"$f-perf.json"
  timeout 300 node "$bench/probes/collapse.mjs" "$2" 200 20 500 >"$f-c200.txt"
  timeout 300 node "$bench/probes/collapse.mjs" "$2" 1000 20 500 >"$f-c1000.txt"
  (cd "$home/upstream" && DS_URL=$2 DS_LABEL=$1 timeout 400 ./node_modules/.bin/vitest bench --run run.bench.ts >"$f-bench.txt" 2>&1)
  node -e '
    const [perf, name, round, ...v] = process.argv.slice(1);
    const p = JSON.parse(require("fs").readFileSync(perf, "utf8"));
    const [rtt, ping, small, d200, p200, c200, d1000, p1000, c1000] = v.map(Number);
    console.log(JSON.stringify({ name, round: +round, append_p50: p.append_p50_ms, append_p99: p.append_p99_ms,
      appends_s: p.appends_per_s_4writers, catchup_MBps: p.catchup_MBps, rtt_p50: rtt, ping_p50: ping,
      small_msgs_s: small, d200_p50: d200, d200_p99: p200, d1000_p50: d1000, d1000_p99: p1000,
      polls200: c200, polls1000: c1000 }));
  ' "$f-perf.json" "$1" "$3" \
    "$(column "$f-bench.txt" "Total RTT")" "$(column "$f-bench.txt" "Baseline Ping")" \
    "$(column "$f-bench.txt" "Small Messages")" \
    "$(figure "$f-c200.txt" p50)" "$(figure "$f-c200.txt" p99)" "$(grep -o '[0-9.]* DO long-polls' "$f-c200.txt" | awk '{print $1}')" \
    "$(figure "$f-c1000.txt" p50)" "$(figure "$f-c1000.txt" p99)" "$(grep -o '[0-9.]* DO long-polls' "$f-c1000.txt" | awk '{print $1}')" \
    | tee -a "$out/rounds.jsonl"
}

for k in $(seq 1 "$rounds"); do
  for target in "$@"; do one "${target%%=*}" "${target#*=}" "$k"; done
done

node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const names = process.argv.slice(2);
  const median = (xs) => {
    const s = xs.filter(Number.isFinite).sort((a, b) => a - b), m = s.length >> 1;
    return !s.length ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const keys = Object.keys(rows[0]).filter((k) => k !== "name" && k !== "round");
  console.log(`medians over rounds; ratios to ${names[0]}`);
  for (const k of keys) {
    const m = names.map((n) => median(rows.filter((r) => r.name === n).map((r) => r[k])));
    const cells = names.map((n, i) => `${n} ${String(+m[i].toFixed(2)).padStart(9)}` + (i ? ` (${(m[i] / m[0]).toFixed(2)})` : ""));
    console.log(`${k.padEnd(13)} ${cells.join("  ")}`);
  }
' "$out/rounds.jsonl" "${@%%=*}"
