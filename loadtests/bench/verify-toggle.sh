#!/bin/bash
# Runs verify-toggle.ts under a wrk closed loop (1 thread, CONNS (50) connections, WARM (3) s then
# DUR (10) s measured, fresh signed ids from adclick-ingest.ts --ids-only) and prints µs of the
# process's CPU a request for each kind of work, the call's own time (TIME=1) and GC pauses.
#   bash loadtests/bench/verify-toggle.sh <repo checkout> [VAR=value ...]   (MODES, SPIN, PHASE_MS, TIME)
# PERF=<file>: perf record -k CLOCK_MONOTONIC of the server over the measured run, with
# <file>.phases beside it (PERFEV=<events> records those events instead of cycles with stacks).
set -euo pipefail
dir=$(cd "$1" && pwd); shift
here=$(cd "$(dirname "$0")" && pwd)
source "$dir/scripts/toolchain.sh" >/dev/null
work=$(mktemp -d); port=$((29000 + RANDOM % 1000))
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$dir" && node --conditions=@sdlab/source "$here/adclick-ingest.ts" --ids-only "$work") >/dev/null
(cd "$dir" && exec env PORT="$port" OUT="$work/out.json" "$@" node --conditions=@sdlab/source ${NODEFLAGS:-} "$here/verify-toggle.ts") >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/bare" && break; sleep 0.2; done
IDS_FILE=$work/warm.txt wrk -t1 -c"${CONNS:-50}" -d"${WARM:-3}s" -s "$here/click-ids.lua" "http://127.0.0.1:$port/bare/" >/dev/null
kill -USR2 "$server"
if [ -n "${PERF:-}" ]; then
  if [ -n "${PERFEV:-}" ]; then events=(-e "$PERFEV"); else events=(-F 997 -g); fi
  perf record -q -k CLOCK_MONOTONIC "${events[@]}" -p "$server" -o "$PERF" -- sleep "${DUR:-10}" >/dev/null 2>&1 &
fi
IDS_FILE=$work/run.txt wrk -t1 -c"${CONNS:-50}" -d"${DUR:-10}s" -s "$here/click-ids.lua" "http://127.0.0.1:$port/bare/" >/dev/null
kill -USR2 "$server"; sleep 0.3
kill "$server"; wait
if [ -n "${PERF:-}" ]; then cp "$work/out.json.phases" "$PERF.phases"; fi
node -e 'for (const s of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")))
  console.log(`${s.mode}: ${s.usPerRequest.toFixed(2)} us a request, call ${s.callUs.toFixed(2)} us, gc ${s.gcUsPerRequest.toFixed(2)} us (${s.requests} requests)`)' "$work/out.json"
