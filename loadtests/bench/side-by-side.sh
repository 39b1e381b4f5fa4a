#!/bin/bash
# CPU per request of three servers measured in the same seconds: all three on core 0 (as the runner
# pins a service), one k6 on core 1 offering each RATE/s (700) of GET /bare for DUR s (12) after WARM s
# (3); CPU from /proc. On a shared machine, servers measured one after another meet different load;
# side by side they meet the same, so their ratio holds where the absolute figures do not. Swap the
# positions between rounds (the first-started one can come out a few % apart).
#   bash loadtests/bench/side-by-side.sh <label> "<dir>|<entry>|<VAR=value ...>" x3
# e.g. "main/loadtests|limits/bare-fastify.ts|" "main/loadtests|limits/kit-empty.ts|" "wt/loadtests|limits/kit-empty.ts|"
# Every server runs lean (LOG_LEVEL=warn, no tracing) with the runner's --max-semi-space-size=8,
# started by start-server.sh's start_entry (the start-up the per-core benches share).
# Prints each server's µs of CPU per request and the ratio of the 2nd and 3rd to the 1st.
set -euo pipefail
label=$1; shift
[ $# -eq 3 ] || { echo "three servers: \"<dir>|<entry>|<env>\" x3" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/toolchain.sh" >/dev/null
k6=${K6_BIN:-$(node -p "require('${XDG_CACHE_HOME:-$HOME/.cache}/sdlab/run/endpoints.json').k6" 2>/dev/null || command -v k6)}
source "$here/start-server.sh"
out=$(mktemp -d)
trap 'stop_servers; rm -rf "$out"' EXIT
base=$((29000 + RANDOM % 300)); ports=(); pids=(); names=(); i=0
for spec in "$@"; do
  IFS='|' read -r dir entry vars <<<"$spec"; port=$((base + 300 * i)); i=$((i + 1))
  ports+=("$port"); names+=("${entry##*/}${vars:+[${vars// /,}]}")
  # shellcheck disable=SC2086
  SERVER_CORE=0 SERVER_NODE_FLAGS=--max-semi-space-size=8 \
    start_entry "$dir" "$entry" "$port" LOG_LEVEL=warn OTEL_EXPORTER_OTLP_ENDPOINT= SDLAB_DEV_MODE=true $vars
done
for p in "${ports[@]}"; do await_server "$p" /bare; pids+=("$(listener_pid "$p")"); done
export A=http://127.0.0.1:${ports[0]} B=http://127.0.0.1:${ports[1]} C=http://127.0.0.1:${ports[2]} K6_NO_USAGE_REPORT=true
DURATION=${WARM:-3}s taskset -c 1 "$k6" run -q --no-summary "$here/side-by-side.js" >/dev/null 2>&1 || true
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
c0=(); for p in "${pids[@]}"; do c0+=("$(cpu "$p")"); done
DURATION=${DUR:-12}s taskset -c 1 "$k6" run -q --summary-export="$out/k6.json" "$here/side-by-side.js" >/dev/null 2>&1 || true
c1=(); for p in "${pids[@]}"; do c1+=("$(cpu "$p")"); done
stop_servers
node -e "
const m = require('$out/k6.json').metrics;
const [label, ...rest] = process.argv.slice(1);
const names = rest.slice(0, 3), ticks = rest.slice(3).map(Number);
const us = ['a', 'b', 'c'].map((s, i) => (ticks[i] / 100) * 1e6 / m['http_reqs{scenario:' + s + '}'].count);
console.log(label + ' ' + names.map((n, i) => n + '=' + us[i].toFixed(1) + 'us').join(' ') + ' | 2nd/1st ' + (us[1] / us[0]).toFixed(3) + ' 3rd/1st ' + (us[2] / us[0]).toFixed(3));
" "$label" "${names[@]}" $((c1[0] - c0[0])) $((c1[1] - c0[1])) $((c1[2] - c0[2]))
