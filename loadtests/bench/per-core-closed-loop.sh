#!/bin/bash
# Requests served per second of the server process's own CPU time, under a closed loop (wrk, 1 thread,
# CONNS (50) connections, WARM s unmeasured then DUR s measured; CPU from /proc/<pid>/stat). Run the kinds
# one after another in one sitting and compare ratios; absolute figures move with the machine's load.
#   bash loadtests/bench/per-core-closed-loop.sh <label> <repo checkout> <kind> [VAR=value ...]
# kind: bare-post (limits/bare-fastify.ts, POST, 110-byte answer) | checks (the rate-limiter lean:
# LOG_LEVEL=warn, no tracing, as `pnpm load` starts it) | bare-get | limited-get (limits/limited-get.ts;
# pass LIMITER=ours|fastify-rate-limit|rate-limiter-flexible). NODEFLAGS adds node flags (--cpu-prof).
# Needs wrk and the native Redis. Prints: label, req/s, CPU s, req per CPU s, non-2xx, RSS after.
set -euo pipefail
label=$1; dir=$(cd "$2" && pwd); kind=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
source "$dir/scripts/toolchain.sh" >/dev/null
port=$((27000 + RANDOM % 1000))
script=()
case $kind in
  bare-post) (cd "$dir" && exec env PORT=$port BARE_STATUS=200 BARE_RESPONSE_BYTES=110 "$@" node --conditions=@sdlab/source ${NODEFLAGS:-} loadtests/limits/bare-fastify.ts) >/dev/null 2>&1 & path=/bare; script=(-s "$here/post-checks.lua");;
  checks) (cd "$dir/services/rate-limiter" && exec env PORT=$port LOG_LEVEL=warn SDLAB_DEV_MODE=true OTEL_EXPORTER_OTLP_ENDPOINT= "$@" node --conditions=@sdlab/source ${NODEFLAGS:-} src/main.ts) >/dev/null 2>&1 & path=/v1/checks; script=(-s "$here/post-checks.lua");;
  bare-get) (cd "$dir" && exec env PORT=$port "$@" node --conditions=@sdlab/source ${NODEFLAGS:-} loadtests/limits/bare-fastify.ts) >/dev/null 2>&1 & path=/bare;;
  limited-get) (cd "$dir/loadtests" && exec env PORT=$port "$@" node --conditions=@sdlab/source ${NODEFLAGS:-} limits/limited-get.ts) >/dev/null 2>&1 & path=/bare;;
  *) echo "kind must be bare-post, checks, bare-get or limited-get" >&2; exit 2;;
esac
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; curl -s -o /dev/null "http://127.0.0.1:$port/bare" && break; sleep 0.2; done
pid=$(ss -ltnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
wrk -t1 -c"${CONNS:-50}" -d"${WARM:-4}s" "${script[@]}" "http://127.0.0.1:$port$path" >/dev/null
cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }
c0=$(cpu)
out=$(wrk -t1 -c"${CONNS:-50}" -d"${DUR:-10}s" "${script[@]}" "http://127.0.0.1:$port$path")
c1=$(cpu)
rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
kill "$pid"; wait || true
total=$(echo "$out" | awk '/requests in/{print $1}')
rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
non2xx=$(echo "$out" | awk '/Non-2xx/{print $NF}')
awk -v l="$label" -v r="$rps" -v t="$(( c1 - c0 ))" -v n="$total" -v x="${non2xx:-0}" -v m="$rss" \
  'BEGIN { printf "%s req/s=%s cpu_s=%.2f per_core=%.0f non2xx=%s rss_mb=%.0f\n", l, r, t/100, n/(t/100), x, m/1024 }'
