#!/bin/bash
# CPU per request at a fixed rate, as the runner measures it: the server on core 0 (with the runner's
# --max-semi-space-size=8), k6 at a constant arrival rate (RATE, 2000/s) on core 1, WARM (15) s
# unmeasured then DUR (10) s measured (after 5 s V8's compiler threads still took ~17 us a check in
# the measured window, ~1.5 after 15 s); CPU (user and system) of the server process from
# /proc/<pid>/stat. At such a rate the rate-limiter's checks mostly arrive one per event-loop turn, so
# each pays a Redis round trip of its own (per-core-closed-loop.sh is the saturated case). Run the
# kinds one after another in one sitting and compare ratios.
#   bash loadtests/bench/per-core-open-loop.sh <label> <repo checkout> <kind> [VAR=value ...]
# kind: bare-post | bare-redis-post | checks | bare-get | limited-get | kit-get | clicks | bare-302 | redirect, started
# as start-server.sh describes (the same kinds as per-core-closed-loop.sh); k6 script:
# per-core-open-loop.js. For clicks and redirect the figure is the API's CPU (their worker's is not
# counted), e.g. redirect against bare-get, or clicks against bare-302.
# NODEFLAGS adds node flags; PERF=<file> also records `perf record -g` of the server for DUR s;
# STRACE=<file> counts the server's system calls, all threads, over the measured DUR s (`strace -c
# -f`; it slows the process, so read counts per request from it, not the CPU figure).
# Prints: label, requests, CPU s, µs of CPU per request (user, system), failed share, p50 and p99,
# then per request the process's read and write system calls (/proc/<pid>/io: syscr, syscw; every
# socket read and write, e.g. a Redis round trip adds one of each) and the main thread's voluntary
# context switches (/proc/<pid>/status: the event loop blocking in epoll_wait, i.e. its wake-ups);
# then per request the CPU of the main thread and of the process's other threads (V8's compiler and
# GC helpers, libuv's pool), the time the main thread waited runnable for the core (the run queue,
# /proc/<pid>/task/<tid>/schedstat: what a request's latency pays when another thread holds the
# core) and how often it was preempted (nonvoluntary context switches);
# for clicks also clicks per spool group commit over the measured run (the ingest's /metrics).
set -euo pipefail
label=$1; dir=$(cd "$2" && pwd); kind=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
source "$dir/scripts/toolchain.sh" >/dev/null
source "$here/start-server.sh"
# k6 as side-by-side.sh and the testkit find it: K6_BIN, else the native install's endpoints.json, else PATH.
k6=${K6_BIN:-$(node -p "require('${XDG_CACHE_HOME:-$HOME/.cache}/sdlab/run/endpoints.json').k6" 2>/dev/null || command -v k6)}
port=$((28000 + RANDOM % 1000))
SERVER_CORE=0 SERVER_NODE_FLAGS="--max-semi-space-size=8 ${NODEFLAGS:-}" start_kind "$dir" "$kind" "$port" "$@"
pid=$server_pid
# drive <seconds> <ids file> [k6 flags]
drive() { K6_NO_USAGE_REPORT=true URL=http://127.0.0.1:$port$server_path MODE=$server_mode IDS_FILE=$2 DUR=$1s \
  taskset -c 1 "$k6" run "${@:3}" "$here/per-core-open-loop.js" 2>&1; }
drive "${WARM:-15}" "${server_ids:+$server_ids/warm.txt}" -q >/dev/null
stat() { awk "{print \$$1}" "/proc/$pid/stat"; }
# Records and syncs of the spool's group commit so far (clicks only).
commits() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^sdlab_adclick_spool_group_commit_records_sum/ {r=$2}
  /^sdlab_adclick_spool_group_commit_records_count/ {s=$2} END {printf "%d %d", r, s}'; }
[ "$kind" = clicks ] && g0=($(commits))
u0=$(stat 14); s0=$(stat 15); r0=$(proc_io "$pid" syscr); w0=$(proc_io "$pid" syscw); v0=$(wakeups "$pid")
t0=$(thread_times "$pid")
if [[ -n ${PERF:-} ]]; then perf record -e cpu-clock -F 1999 -g -p "$pid" -o "$PERF" -- sleep "${DUR:-10}" >/dev/null 2>&1 & fi
if [[ -n ${STRACE:-} ]]; then timeout -s INT "${DUR:-10}" strace -c -f -p "$pid" -o "$STRACE" >/dev/null 2>&1 & fi
out=$(drive "${DUR:-10}" "${server_ids:+$server_ids/run.txt}" --summary-trend-stats "p(50),p(99)")
u1=$(stat 14); s1=$(stat 15); r1=$(proc_io "$pid" syscr); w1=$(proc_io "$pid" syscw); v1=$(wakeups "$pid")
t1=$(thread_times "$pid")
[ "$kind" = clicks ] && g1=($(commits))
stop_servers; wait || true
n=$(echo "$out" | awk '/http_reqs/{print $2; exit}')
fail=$(echo "$out" | awk '/http_req_failed/{print $2; exit}')
p99=$(echo "$out" | awk '/http_req_duration/{print $0; exit}' | grep -oE 'p\((50|99)\)=[^ ]*' | paste -sd' ')
awk -v l="$label" -v n="$n" -v u="$(( u1 - u0 ))" -v s="$(( s1 - s0 ))" -v f="$fail" -v p="$p99" \
  -v r="$(( r1 - r0 ))" -v w="$(( w1 - w0 ))" -v v="$(( v1 - v0 ))" \
  'BEGIN { printf "%s requests=%d cpu_s=%.2f us_per_req=%.1f (user %.1f, system %.1f) failed=%s %s reads=%.2f writes=%.2f wakeups=%.2f a request", l, n, (u+s)/100, (u+s)*1e4/n, u*1e4/n, s*1e4/n, f, p, r/n, w/n, v/n }'
printf ' %s' "$(thread_split "$n" "$t0" "$t1")"
if [ "$kind" = clicks ]; then
  awk -v r="$(( g1[0] - g0[0] ))" -v s="$(( g1[1] - g0[1] ))" 'BEGIN { printf " clicks_per_sync=%.2f\n", s ? r/s : 0 }'
else
  echo
fi
