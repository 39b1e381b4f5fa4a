#!/bin/bash
# The server start-up the per-core benches share (per-core-open-loop.sh, per-core-closed-loop.sh,
# side-by-side.sh): sourced, it starts a server, waits until it answers, finds the pid of the process
# that listens (the one whose CPU is measured) and stops everything it started when the bench exits.
#   source "$here/start-server.sh"
#   start_kind <checkout> <kind> <port> [VAR=value ...]   one of the kinds below, by name
#   start_entry <dir> <entry> <port> [VAR=value ...]      any Node entry, run from <dir>
#   await_server <port> <probe path> [info file]; pid=$(listener_pid <port>)
# SERVER_CORE pins the server (`taskset -c`, as the runner pins a service; unset: unpinned);
# SERVER_NODE_FLAGS are node flags before the entry (the callers put the runner's
# --max-semi-space-size=8 there, and NODEFLAGS).
# Kinds (start_kind sets server_path, the path to drive; server_wrk, the wrk script arguments;
# server_mode, what the k6 script sends: checks | get | ids; server_ids, the id files' folder):
#   bare-post    limits/bare-fastify.ts, POST, 110-byte answer (a check's shape)
#   bare-redis-post  bare-redis-post.ts: bare-post's handler plus one ioredis round trip (EVALSHA
#                of a trivial script, sent as the limiter sends it) before the answer; the floor of
#                a Redis-backed decision when requests arrive one per event-loop turn
#   checks       the rate-limiter lean (LOG_LEVEL=warn, no tracing), POST /v1/checks
#   bare-get     limits/bare-fastify.ts, GET /bare
#   limited-get  limits/limited-get.ts (LIMITER=ours|fastify-rate-limit|rate-limiter-flexible)
#   kit-get      limits/kit-empty.ts, the kit's empty route, lean as `pnpm load` runs it
#   clicks       the ad-click ingest API lean with its worker beside it (adclick-ingest.ts), GET
#                /c/<signed impression>, each id once (from server_ids: warm.txt, run.txt)
#   bare-302     limits/bare-fastify.ts answering 302, driven with the same paths under /bare/
#   redirect     the URL shortener API lean with its worker beside it (shortener-redirect.ts),
#                GET /<code> of one seeded link, a cache hit
# NODEFLAGS reaches the measured process only (for clicks and redirect, the API, not the worker).
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
server_logs=$(mktemp -d)
server_launchers=()

# Stops what start_entry/start_kind started (each launcher stops its own children) and their files.
stop_servers() {
  local p
  for p in "${server_launchers[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${server_launchers[@]}"; do wait "$p" 2>/dev/null || true; done
  server_launchers=()
  rm -rf "$server_logs"
}
trap stop_servers EXIT

# start_entry <dir> <entry> <port> [VAR=value ...]: node with the workspace's source condition.
# `exec` all the way down, so the launcher's pid is node's own.
start_entry() {
  local dir=$1 entry=$2 port=$3 pin=()
  shift 3
  [ -n "${SERVER_CORE:-}" ] && pin=(taskset -c "$SERVER_CORE")
  # shellcheck disable=SC2086
  (cd "$dir" && exec env PORT="$port" "$@" "${pin[@]}" node --conditions=@sdlab/source ${SERVER_NODE_FLAGS:-} "$entry") \
    >"$server_logs/$port.log" 2>&1 &
  server_launchers+=($!)
}

# start_helper <checkout> <helper> <info file> <arg ...> -- [VAR=value ...]: a bench helper that
# stands a service up (lean-service.ts) and prints a JSON line with "listening" once it is seeded.
start_helper() {
  local dir=$1 helper=$2 info=$3 args=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  (cd "$dir" && exec env BENCH_CPUS="${SERVER_CORE:-}" "$@" node --conditions=@sdlab/source "$bench_dir/$helper" "${args[@]}") \
    >"$info" 2>"$info.log" &
  server_launchers+=($!)
}

# await_server <port> <probe path> [info file]: until the probe answers (or, for a helper, its info
# file says listening); the server's log on failure.
await_server() {
  local port=$1 probe=$2 info=${3:-} launcher=${server_launchers[-1]} _
  for _ in $(seq 600); do
    if [ -n "$info" ]; then grep -q listening "$info" && return 0
    else curl -sf -o /dev/null "http://127.0.0.1:$port$probe" && return 0; fi
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.2
  done
  echo "server on port $port did not start:" >&2
  cat "${info:+$info.log}" "$server_logs/$port.log" 2>/dev/null | tail -30 >&2
  exit 1
}

# listener_pid <port>: the process listening there.
listener_pid() { ss -ltnp "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
# The measured process's counters so far, read before and after a run: proc_io <pid> syscr|syscw
# (read- and write-class system calls, /proc/<pid>/io) and wakeups <pid> (the main thread's
# voluntary context switches: its event loop blocking in epoll_wait, i.e. its wake-ups).
proc_io() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/io"; }
wakeups() { awk '/^voluntary_ctxt_switches/{print $2}' "/proc/$1/status"; }
# thread_times <pid>: one line a thread: tid, CPU ns (schedstat run time), run-queue wait ns, preemptions.
thread_times() {
  local t
  for t in /proc/"$1"/task/*; do
    [ -r "$t/schedstat" ] || continue
    echo "${t##*/} $(cut -d' ' -f1,2 "$t/schedstat") $(awk '/^nonvoluntary_ctxt_switches/{print $2}' "$t/status")"
  done
}
# thread_split <requests> <before> <after>: µs a request of main-thread CPU, other threads' CPU, the
# main thread's run-queue wait, and its preemptions a request (pid = main thread's tid).
thread_split() {
  awk -v n="$1" -v main="$pid" 'NR == FNR { c[$1] = $2; q[$1] = $3; p[$1] = $4; next }
    { d = $2 - c[$1]; if ($1 == main) { m = d; w = $3 - q[$1]; pre = $4 - p[$1] } else o += d }
    END { printf "main_cpu=%.1f other_threads_cpu=%.1f main_runq_wait=%.1f us main_preempted=%.3f a request", m/n/1e3, o/n/1e3, w/n/1e3, pre/n }' \
    <(echo "$2") <(echo "$3")
}

# start_kind <checkout> <kind> <port> [VAR=value ...]: starts the kind, waits, sets server_pid too.
start_kind() {
  local dir=$1 kind=$2 port=$3 info="$server_logs/info.json"
  shift 3
  server_path=/bare server_wrk=() server_mode=get server_ids=
  case $kind in
    bare-post) start_entry "$dir" loadtests/limits/bare-fastify.ts "$port" BARE_STATUS=200 BARE_RESPONSE_BYTES=110 "$@"
      server_wrk=(-s "$bench_dir/post-checks.lua") server_mode=checks; await_server "$port" /bare;;
    bare-redis-post) start_entry "$dir" loadtests/bench/bare-redis-post.ts "$port" "$@"
      server_wrk=(-s "$bench_dir/post-checks.lua") server_mode=checks; await_server "$port" /bare;;
    checks) start_entry "$dir/services/rate-limiter" src/main.ts "$port" LOG_LEVEL=warn SDLAB_DEV_MODE=true OTEL_EXPORTER_OTLP_ENDPOINT= "$@"
      server_path=/v1/checks server_wrk=(-s "$bench_dir/post-checks.lua") server_mode=checks; await_server "$port" /readyz;;
    bare-get) start_entry "$dir" loadtests/limits/bare-fastify.ts "$port" "$@"; await_server "$port" /bare;;
    limited-get) start_entry "$dir/loadtests" limits/limited-get.ts "$port" "$@"; await_server "$port" /bare;;
    kit-get) start_entry "$dir/loadtests" limits/kit-empty.ts "$port" LOG_LEVEL=warn OTEL_EXPORTER_OTLP_ENDPOINT= "$@"
      await_server "$port" /bare;;
    bare-302) server_ids="$server_logs/ids"; mkdir "$server_ids"
      (cd "$dir" && node --conditions=@sdlab/source "$bench_dir/adclick-ingest.ts" --ids-only "$server_ids") >/dev/null
      start_entry "$dir" loadtests/limits/bare-fastify.ts "$port" BARE_STATUS=302 "$@"
      server_path=/bare/ server_wrk=(-s "$bench_dir/click-ids.lua") server_mode=ids; await_server "$port" /bare;;
    clicks) server_ids="$server_logs/ids"; mkdir "$server_ids"
      start_helper "$dir" adclick-ingest.ts "$info" "$port" "$server_ids" -- "$@"
      server_path=/c/ server_wrk=(-s "$bench_dir/click-ids.lua") server_mode=ids; await_server "$port" "" "$info";;
    redirect) start_helper "$dir" shortener-redirect.ts "$info" "$port" -- "$@"
      await_server "$port" "" "$info"
      server_path=/$(grep -o '"code":"[^"]*"' "$info" | cut -d'"' -f4);;
    *) echo "kind must be bare-post, bare-redis-post, checks, bare-get, limited-get, kit-get, clicks, bare-302 or redirect" >&2; exit 2;;
  esac
  server_pid=$(listener_pid "$port")
  server_info=$info
}
