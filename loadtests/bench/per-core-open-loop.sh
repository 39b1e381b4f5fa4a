#!/bin/bash
# CPU per request at a fixed rate, as the runner measures it: the server on core 0, k6 at a constant
# arrival rate (RATE, 2000/s) on core 1, WARM (5) s unmeasured then DUR (10) s measured; CPU (user and
# system) of the server process from /proc/<pid>/stat. At such a rate the rate-limiter's checks mostly
# arrive one per event-loop turn, so each pays a Redis round trip of its own (per-core-closed-loop.sh
# is the saturated case). Run the kinds one after another in one sitting and compare ratios.
#   bash loadtests/bench/per-core-open-loop.sh <label> <repo checkout> bare-post|checks [VAR=value ...]
# NODEFLAGS adds node flags; PERF=<file> also records `perf record -g` of the server for DUR s.
set -euo pipefail
label=$1; dir=$(cd "$2" && pwd); kind=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
source "$dir/scripts/toolchain.sh" >/dev/null
k6=${K6:-$HOME/.cache/sdlab/infra/k6-v1.8.1/k6}
port=$((28000 + RANDOM % 1000))
case $kind in
  bare-post) (cd "$dir" && exec env PORT=$port BARE_STATUS=200 BARE_RESPONSE_BYTES=110 "$@" taskset -c 0 node --max-semi-space-size=8 --conditions=@sdlab/source ${NODEFLAGS:-} loadtests/limits/bare-fastify.ts) >/dev/null 2>&1 & path=/bare;;
  checks) (cd "$dir/services/rate-limiter" && exec env PORT=$port LOG_LEVEL=warn SDLAB_DEV_MODE=true OTEL_EXPORTER_OTLP_ENDPOINT= "$@" taskset -c 0 node --max-semi-space-size=8 --conditions=@sdlab/source ${NODEFLAGS:-} src/main.ts) >/dev/null 2>&1 & path=/v1/checks;;
  *) echo "kind must be bare-post or checks" >&2; exit 2;;
esac
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; curl -s -o /dev/null "http://127.0.0.1:$port/bare" && break; sleep 0.2; done
pid=$(ss -ltnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
drive() { K6_NO_USAGE_REPORT=true URL=http://127.0.0.1:$port$path DUR=$1s taskset -c 1 "$k6" run "${@:2}" "$here/post-checks-k6.js" 2>&1; }
drive "${WARM:-5}" -q >/dev/null
stat() { awk "{print \$$1}" "/proc/$pid/stat"; }
u0=$(stat 14); s0=$(stat 15)
if [[ -n ${PERF:-} ]]; then perf record -e cpu-clock -F 1999 -g -p "$pid" -o "$PERF" -- sleep "${DUR:-10}" >/dev/null 2>&1 & fi
out=$(drive "${DUR:-10}" --summary-trend-stats "p(50),p(99)")
u1=$(stat 14); s1=$(stat 15)
kill "$pid"; wait || true
n=$(echo "$out" | awk '/http_reqs/{print $2; exit}')
fail=$(echo "$out" | awk '/http_req_failed/{print $2; exit}')
p99=$(echo "$out" | awk '/http_req_duration/{print $0; exit}' | grep -o 'p(99)=[^ ]*')
awk -v l="$label" -v n="$n" -v u="$(( u1 - u0 ))" -v s="$(( s1 - s0 ))" -v f="$fail" -v p="$p99" \
  'BEGIN { printf "%s requests=%d cpu_s=%.2f us_per_req=%.1f (user %.1f, system %.1f) failed=%s %s\n", l, n, (u+s)/100, (u+s)*1e4/n, u*1e4/n, s*1e4/n, f, p }'
