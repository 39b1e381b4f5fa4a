#!/usr/bin/env bash
# Real infrastructure for System Design Lab, run natively (no Docker).
#
#   bash infra/native/infra.sh install [server...]   # idempotent; cached under ${SDLAB_CACHE:-~/.cache/sdlab}/infra
#   bash infra/native/infra.sh up      [server...]   # start + wait for a real client round trip
#   bash infra/native/infra.sh down    [server...]   # SIGTERM by pid, SIGKILL after 30 s
#   bash infra/native/infra.sh status  [server...]   # table: server, pid, port, ready
#   bash infra/native/infra.sh installed [server...] # exit 0 when all are installed (no output)
#
# servers: postgres redis kafka elasticsearch jaeger prometheus k6 (default: all)
# See infra/native/README.md for ports, env vars and what comes from where.
set -euo pipefail

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ALL_SERVERS=(postgres redis kafka elasticsearch jaeger prometheus k6)

# shellcheck source=lib/common.sh
source "$INFRA_DIR/lib/common.sh"
for _s in "${ALL_SERVERS[@]}"; do
  # shellcheck disable=SC1090
  source "$INFRA_DIR/lib/$_s.sh"
done
# shellcheck source=lib/endpoints.sh
source "$INFRA_DIR/lib/endpoints.sh"

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# A server is "up" when its pid is alive and it answers its readiness probe.
server_up() {
  local s=$1 pid
  if [[ $s == k6 ]]; then k6_ready; return; fi
  pid=$(read_pid "$s")
  pid_alive "$pid" && "${s}_ready"
}

cmd_install() {
  local s t0 t_all
  t_all=$(now)
  mkdir -p "$SDLAB_INFRA_CACHE"
  for s in "$@"; do
    t0=$(now)
    "${s}_install"
    log "$s" "install step took $(($(now) - t0)) s"
  done
  log infra "install done in $(($(now) - t_all)) s (cache: $SDLAB_INFRA_CACHE)"
}

cmd_up() {
  local s pid rc started=() failed=() t0
  t0=$(now)
  mkdir -p "$SDLAB_RUN"
  for s in "$@"; do
    "${s}_installed" || die "$s" "not installed (run: bash infra/native/infra.sh install $s)"
  done
  # Start everything first (Kafka and Elasticsearch take 10-30 s each), then wait for each in turn.
  for s in "$@"; do
    if [[ $s == k6 ]]; then started+=("$s"); continue; fi
    pid=$(read_pid "$s")
    if pid_alive "$pid"; then
      if "${s}_ready"; then
        log "$s" "already up (pid $pid, port $("${s}_port"))"
      else
        log "$s" "process $pid is running but not ready yet; waiting for it"
        started+=("$s")
      fi
      continue
    fi
    rm -f "$(pid_file "$s")"
    # A failed start (port taken, initdb error, ...) must not keep the others from starting.
    set +e
    (set -e; "${s}_start")
    rc=$?
    set -e
    if ((rc == 0)); then started+=("$s"); else failed+=("$s"); fi
  done
  for s in "${started[@]}"; do
    "${s}_wait" || failed+=("$s")
  done
  write_endpoints
  if ((${#failed[@]})); then
    die infra "FAILED to bring up: ${failed[*]} (see the log lines above; logs in $SDLAB_RUN/<server>/server.log)"
  fi
  log infra "up: $* ($(($(now) - t0)) s). Endpoints: $SDLAB_RUN/endpoints.json (source $SDLAB_RUN/endpoints.env)"
}

cmd_down() {
  local i s
  # reverse order
  for ((i = $# ; i >= 1; i--)); do
    s=${!i}
    "${s}_down"
  done
  write_endpoints
}

cmd_installed() {
  local s
  for s in "$@"; do "${s}_installed" || return 1; done
}

cmd_status() {
  local s pid port ready
  printf '%-14s %-8s %-6s %s\n' SERVER PID PORT READY
  for s in "$@"; do
    pid=$(read_pid "$s")
    if [[ $s == k6 ]]; then pid=-; fi
    pid_alive "$pid" || pid=-
    port=$("${s}_port")
    if server_up "$s"; then ready=yes; else ready=no; fi
    printf '%-14s %-8s %-6s %s\n' "$s" "$pid" "$port" "$ready"
  done
  return 0
}

main() {
  local cmd=${1:-} s servers=()
  [[ -n $cmd ]] || { usage; exit 2; }
  shift
  case $cmd in
    install | up | down | status | installed) ;;
    -h | --help | help) usage; exit 0 ;;
    *) usage >&2; die infra "unknown command: $cmd" ;;
  esac
  if (($# == 0)); then
    servers=("${ALL_SERVERS[@]}")
  else
    for s in "$@"; do
      [[ " ${ALL_SERVERS[*]} " == *" $s "* ]] || die infra "unknown server '$s' (known: ${ALL_SERVERS[*]})"
    done
    # keep the canonical order whatever order was given
    for s in "${ALL_SERVERS[@]}"; do
      [[ " $* " == *" $s "* ]] && servers+=("$s")
    done
  fi
  if [[ $cmd != status && $cmd != installed ]]; then
    # One install/up/down at a time (parallel test runners may all call `up`).
    mkdir -p "$SDLAB_RUN"
    exec 9>"$SDLAB_RUN/.infra.lock"
    if ! flock -n 9; then
      log infra "another infra.sh is running (lock: $SDLAB_RUN/.infra.lock); waiting for it ..."
      flock 9
    fi
  fi
  "cmd_$cmd" "${servers[@]}"
}

main "$@"
