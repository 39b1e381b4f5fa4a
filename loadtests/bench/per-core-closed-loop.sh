#!/bin/bash
# Requests served per second of the server process's own CPU time, under a closed loop (wrk, 1 thread,
# CONNS (50) connections, WARM s unmeasured then DUR s measured; CPU from /proc/<pid>/stat). Run the kinds
# one after another in one sitting and compare ratios; absolute figures move with the machine's load.
#   bash loadtests/bench/per-core-closed-loop.sh <label> <repo checkout> <kind> [VAR=value ...]
# kind: bare-post | bare-redis-post | checks | bare-get | limited-get | kit-get | clicks | bare-302 | redirect, started
# as start-server.sh describes (the same kinds as per-core-open-loop.sh), unpinned; bare-post and
# checks are driven by post-checks.lua, clicks and bare-302 by click-ids.lua (each id once).
# NODEFLAGS adds node flags (--cpu-prof; for clicks the ingest's only).
# Needs wrk and the native servers. Prints: label, req/s, CPU s, req per CPU s, µs of CPU a request,
# non-2xx (4xx/5xx for wrk), RSS after, write- and read-class system calls per request (/proc/<pid>/io
# syscw, syscr: socket writes and reads, spool writes) and the main thread's voluntary context
# switches per request (its event loop's wake-ups; CONNS=1 makes every request arrive alone, one per
# turn, whatever else runs on the machine); for clicks also the worker's CPU, clicks per spool group commit (fdatasync) and
# dedup SETs per Redis write, over the measured run, from the ingest's /metrics.
set -euo pipefail
label=$1; dir=$(cd "$2" && pwd); kind=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
source "$dir/scripts/toolchain.sh" >/dev/null
source "$here/start-server.sh"
port=$((27000 + RANDOM % 1000))
SERVER_NODE_FLAGS=${NODEFLAGS:-} start_kind "$dir" "$kind" "$port" "$@"
pid=$server_pid ids=$server_ids script=("${server_wrk[@]}") path=$server_path info=$server_info
IDS_FILE=${ids:+$ids/warm.txt} wrk -t1 -c"${CONNS:-50}" -d"${WARM:-4}s" "${script[@]}" "http://127.0.0.1:$port$path" >/dev/null
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
# One sample of the ingest's counters: records and syncs of the group commit, dedup SETs and writes.
sample() { curl -s "http://127.0.0.1:$port/metrics" | awk '
  /^sdlab_adclick_spool_group_commit_records_sum/ {r=$2} /^sdlab_adclick_spool_group_commit_records_count/ {s=$2}
  /^sdlab_adclick_dedup_batch_keys_sum/ {d=$2} /^sdlab_adclick_dedup_batch_keys_count/ {w=$2}
  /^sdlab_adclick_ingest_clicks_total\{.*outcome="recorded"/ {rec=$2}
  END {printf "%d %d %d %d %d", r, s, d, w, rec}'; }
[ "$kind" = clicks ] && { m0=($(sample)); wpid=$(grep -o '"workerPid":[0-9]*' "$info" | cut -d: -f2); w0=$(cpu "$wpid"); }
# THREADS=1: the server's CPU per thread name too (main thread, libuv pool, V8 GC/compiler threads).
threads() { for t in /proc/"$1"/task/*; do echo "$(tr ' ' _ <"$t/comm") $(awk '{print $14+$15}' "$t/stat")"; done |
  awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' | sort; }
[ -n "${THREADS:-}" ] && threads "$pid" >"${TMPDIR:-/tmp}/per-core-threads.$$"
c0=$(cpu "$pid"); s0=$(proc_io "$pid" syscw); r0=$(proc_io "$pid" syscr); v0=$(wakeups "$pid")
# PERF=<file>: perf record of the server over the measured run (on-CPU only, kernel included; add
# NODEFLAGS=--perf-basic-prof for JavaScript names), where the V8 profiler samples wall time.
[ -n "${PERF:-}" ] && perf record -q -F 997 -g -p "$pid" -o "$PERF" -- sleep "${DUR:-10}" >/dev/null 2>&1 &
out=$(IDS_FILE=${ids:+$ids/run.txt} wrk -t1 -c"${CONNS:-50}" -d"${DUR:-10}s" "${script[@]}" "http://127.0.0.1:$port$path")
c1=$(cpu "$pid"); s1=$(proc_io "$pid" syscw); r1=$(proc_io "$pid" syscr); v1=$(wakeups "$pid")
if [ -n "${THREADS:-}" ]; then
  threads "$pid" | join "${TMPDIR:-/tmp}/per-core-threads.$$" - | awk '{printf "  thread %s: %.2f s\n", $1, ($3-$2)/100}' >&2
  rm -f "${TMPDIR:-/tmp}/per-core-threads.$$"
fi
[ "$kind" = clicks ] && { w1=$(cpu "$wpid"); m1=($(sample)); }
rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
stop_servers; wait || true
total=$(echo "$out" | awk '/requests in/{print $1}')
rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
non2xx=$(echo "$out" | awk '/Non-2xx/{print $NF}')
awk -v l="$label" -v r="$rps" -v t="$(( c1 - c0 ))" -v n="$total" -v x="${non2xx:-0}" -v m="$rss" -v w="$(( s1 - s0 ))" \
  -v rd="$(( r1 - r0 ))" -v v="$(( v1 - v0 ))" \
  'BEGIN { printf "%s req/s=%s cpu_s=%.2f per_core=%.0f us_per_req=%.1f non2xx=%s rss_mb=%.0f writes_per_req=%.2f reads_per_req=%.2f wakeups_per_req=%.2f", l, r, t/100, n/(t/100), t*1e4/n, x, m/1024, w/n, rd/n, v/n }'
if [ "$kind" = clicks ]; then
  awk -v w="$(( w1 - w0 ))" -v rec="$(( m1[4] - m0[4] ))" -v r="$(( m1[0] - m0[0] ))" -v s="$(( m1[1] - m0[1] ))" \
    -v d="$(( m1[2] - m0[2] ))" -v dw="$(( m1[3] - m0[3] ))" \
    'BEGIN { printf " worker_cpu_s=%.2f recorded=%d clicks_per_sync=%.1f", w/100, rec, s ? r/s : 0;
             if (dw) printf " sets_per_redis_write=%.1f", d/dw; printf "\n" }'
else
  echo
fi
