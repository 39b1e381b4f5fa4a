# shellcheck shell=bash
# Shared settings and helpers for infra/native/infra.sh. Sourced, not executed.

# ---------------------------------------------------------------------------
# Locations
# ---------------------------------------------------------------------------
SDLAB_CACHE=${SDLAB_CACHE:-$HOME/.cache/sdlab}
SDLAB_RUN=${SDLAB_RUN:-$SDLAB_CACHE/run}
# Installed artefacts (jars, unpacked distributions, Go binaries) live here, outside the repo.
SDLAB_INFRA_CACHE=$SDLAB_CACHE/infra

# ---------------------------------------------------------------------------
# Ports (all bound to 127.0.0.1)
# ---------------------------------------------------------------------------
# shellcheck disable=SC2034  # used by lib/<server>.sh
SDLAB_HOST=127.0.0.1
SDLAB_PG_PORT=${SDLAB_PG_PORT:-5432}
SDLAB_REDIS_PORT=${SDLAB_REDIS_PORT:-6379}
SDLAB_KAFKA_PORT=${SDLAB_KAFKA_PORT:-9092}
SDLAB_KAFKA_CONTROLLER_PORT=${SDLAB_KAFKA_CONTROLLER_PORT:-9093}
SDLAB_ES_PORT=${SDLAB_ES_PORT:-9200}
SDLAB_ES_TRANSPORT_PORT=${SDLAB_ES_TRANSPORT_PORT:-9300}
SDLAB_JAEGER_OTLP_GRPC_PORT=${SDLAB_JAEGER_OTLP_GRPC_PORT:-4317}
SDLAB_JAEGER_OTLP_HTTP_PORT=${SDLAB_JAEGER_OTLP_HTTP_PORT:-4318}
SDLAB_JAEGER_QUERY_PORT=${SDLAB_JAEGER_QUERY_PORT:-16686}
SDLAB_JAEGER_QUERY_GRPC_PORT=${SDLAB_JAEGER_QUERY_GRPC_PORT:-16685}
SDLAB_JAEGER_HEALTH_PORT=${SDLAB_JAEGER_HEALTH_PORT:-13133}
SDLAB_PROM_PORT=${SDLAB_PROM_PORT:-9090}

# k6 must never phone home nor try to fetch a custom binary for unknown k6/x/* imports.
export K6_NO_USAGE_REPORT=true
export K6_AUTO_EXTENSION_RESOLUTION=false

# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------
log()  { printf '[%s] %s\n' "$1" "${*:2}"; }
warn() { printf '[%s] WARNING: %s\n' "$1" "${*:2}" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$1" "${*:2}" >&2; exit 1; }

# Seconds since the epoch, for durations.
now() { date +%s; }

# run_dir SERVER -> $SDLAB_RUN/SERVER (created)
run_dir() { mkdir -p "$SDLAB_RUN/$1"; printf '%s\n' "$SDLAB_RUN/$1"; }
pid_file() { printf '%s\n' "$SDLAB_RUN/$1/$1.pid"; }
log_file() { printf '%s\n' "$SDLAB_RUN/$1/server.log"; }

# ---------------------------------------------------------------------------
# apt
# ---------------------------------------------------------------------------
_SDLAB_APT_UPDATED=0
APT_CHANGED=0  # set by apt_ensure: 1 if it installed something
apt_missing() {  # prints the packages (of the arguments) that are not installed
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$p"
  done
}
# apt_ensure SERVER PKG... : installs missing Debian packages (apt-get update at most once per run)
apt_ensure() {
  local who=$1; shift
  local missing
  missing=$(apt_missing "$@" | tr '\n' ' ')
  APT_CHANGED=0
  if [[ -z ${missing// /} ]]; then
    log "$who" "apt packages already installed: $*"
    return 0
  fi
  [[ $(id -u) == 0 ]] || die "$who" "need root for apt-get install $missing"
  if [[ $_SDLAB_APT_UPDATED == 0 ]]; then
    log "$who" "apt-get update ..."
    apt-get update -qq || die "$who" "apt-get update failed"
    _SDLAB_APT_UPDATED=1
  fi
  log "$who" "apt-get install $missing"
  local alog=$SDLAB_INFRA_CACHE/apt-install.log
  mkdir -p "$SDLAB_INFRA_CACHE"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >"$alog" 2>&1 \
    || { tail -n 30 "$alog" >&2; die "$who" "apt-get install $missing failed (full log: $alog)"; }
  APT_CHANGED=1
}

# "installed: X" right after installing, "already installed: X" otherwise
installed_msg() { if [[ $APT_CHANGED == 1 ]]; then log "$1" "installed: ${*:2}"; else log "$1" "already installed: ${*:2}"; fi; }

# ---------------------------------------------------------------------------
# Users and permissions (postgres and elasticsearch refuse to run as root)
# ---------------------------------------------------------------------------
ensure_system_user() {  # ensure_system_user NAME
  id -u "$1" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$1"
}

# ensure_traversable USER PATH: every ancestor directory of PATH must be searchable (x) by USER.
# $HOME is /root (mode 0700) here, so the run dir below it is otherwise unreachable for
# the postgres / sdlab-es users. Grants only "x" for that one user, via a POSIX ACL.
ensure_traversable() {
  local user=$1 path=$2 dir
  dir=$(dirname "$path")
  while [[ $dir != / ]]; do
    if ! runuser -u "$user" -- test -x "$dir" 2>/dev/null; then
      command -v setfacl >/dev/null || die "$user" "setfacl missing (apt-get install acl); cannot let $user into $dir"
      setfacl -m "u:$user:x" "$dir"
    fi
    dir=$(dirname "$dir")
  done
}

# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------
# A pidfile holds "PID START BOOT": the pid, the process's start time (field 22 of /proc/PID/stat)
# and the kernel's boot id. A pid alone is not an identity: after a reboot, or on a machine restored
# from a snapshot of this one (as CI runs), the pid may belong to an unrelated process, and `up`
# then waited 120 s for a server that was never started, or `down` could signal a stranger.
proc_identity() {  # proc_identity PID -> "START BOOT", or fails when there is no such process
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }  # the command name may contain spaces and parentheses; fields 3.. follow it
  # shellcheck disable=SC2086
  set -- $stat
  printf '%s %s\n' "${20}" "$(cat /proc/sys/kernel/random/boot_id)"
}
write_pid() {  # write_pid SERVER PID
  local identity
  identity=$(proc_identity "$2") || identity=""
  printf '%s %s\n' "$2" "$identity" >"$(pid_file "$1")"
}
# pid_is SERVER PID -> 0 when PID's command line names the server (pidfiles written before
# identities were recorded, and pids that a server writes itself, such as Elasticsearch's node).
pid_is() {
  [[ -n ${2:-} ]] && tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null | grep -q -- "$1"
}
read_pid() {  # read_pid SERVER -> the recorded pid when that same process still runs, else nothing
  local f pid start boot
  f=$(pid_file "$1")
  [[ -s $f ]] || return 0
  read -r pid start boot <"$f" || true
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if [[ -n ${start:-} ]]; then
    [[ $(proc_identity "$pid" 2>/dev/null) == "$start $boot" ]] && printf '%s\n' "$pid"
  else
    pid_is "$1" "$pid" && printf '%s\n' "$pid"
  fi
  return 0
}
pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# port_in_use PORT -> 0 when something listens on 127.0.0.1:PORT (or on all interfaces)
port_in_use() {
  ss -Hltn "( sport = :$1 )" 2>/dev/null | grep -q .
}
port_owner() {  # human-readable description of who listens on PORT
  ss -Hltnp "( sport = :$1 )" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -1
}
# require_free_ports SERVER PORT... : fail early with a clear message if a port is taken
require_free_ports() {
  local who=$1 p; shift
  for p in "$@"; do
    if port_in_use "$p"; then
      die "$who" "port $p is already in use by: $(port_owner "$p" || true). Stop that process or set the port env var (see infra/native/README.md)."
    fi
  done
}

# start_daemon SERVER CMD... : run CMD detached (own session, stdin closed, output to server.log)
# and record its pid. Use for servers that stay in the foreground.
start_daemon() {
  local who=$1; shift
  local lf
  lf=$(log_file "$who")
  : >"$lf"
  setsid "$@" >>"$lf" 2>&1 </dev/null 9>&- &
  write_pid "$who" $!
}

# stop_pid SERVER [SIGNAL]: SIGTERM (or SIGNAL), wait up to 30 s, then SIGKILL; removes the pidfile.
stop_pid() {
  local who=$1 sig=${2:-TERM} pid i
  pid=$(read_pid "$who")
  if ! pid_alive "$pid"; then
    log "$who" "not running"
    rm -f "$(pid_file "$who")"
    return 0
  fi
  log "$who" "stopping pid $pid (SIG$sig)"
  kill -s "$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    pid_alive "$pid" || break
    sleep 0.5
  done
  if pid_alive "$pid"; then
    warn "$who" "pid $pid still alive after 30 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do pid_alive "$pid" || break; sleep 0.25; done
  fi
  rm -f "$(pid_file "$who")"
  log "$who" "stopped"
}

# wait_ready SERVER TIMEOUT_S: polls "<server>_ready" until it succeeds; fails early if the pid dies.
# On failure: names the server, prints the last 50 log lines, returns 1.
wait_ready() {
  local who=$1 timeout=$2 start pid
  start=$(now)
  while true; do
    if "${who}_ready"; then
      log "$who" "ready after $(($(now) - start)) s"
      return 0
    fi
    pid=$(read_pid "$who")
    if ! pid_alive "$pid"; then
      # The process may have exited between the two checks after becoming ready: re-check once.
      "${who}_ready" && return 0
      printf '[%s] ERROR: process exited before becoming ready. Last 50 lines of %s:\n' "$who" "$(log_file "$who")" >&2
      tail -n 50 "$(log_file "$who")" >&2 || true
      return 1
    fi
    if (($(now) - start >= timeout)); then
      printf '[%s] ERROR: not ready after %s s (pid %s). Last 50 lines of %s:\n' "$who" "$timeout" "$pid" "$(log_file "$who")" >&2
      tail -n 50 "$(log_file "$who")" >&2 || true
      return 1
    fi
    sleep 1
  done
}

# http_ok URL : 0 if GET URL returns 2xx within 3 s
http_ok() { curl -sf -o /dev/null --max-time 3 "$1"; }

# render_template SRC DST VAR... : replaces @VAR@ with the value of $VAR for each VAR listed
render_template() {
  local src=$1 dst=$2 v expr=()
  shift 2
  for v in "$@"; do
    expr+=(-e "s#@${v}@#${!v}#g")
  done
  sed "${expr[@]}" "$src" >"$dst"
}
