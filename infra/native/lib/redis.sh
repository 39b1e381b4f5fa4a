# shellcheck shell=bash
# Redis 7 from Debian apt. Runs fine as root. No persistence.

redis_port() { echo "$SDLAB_REDIS_PORT"; }
redis_url() { echo "redis://$SDLAB_HOST:$SDLAB_REDIS_PORT"; }

redis_install() {
  apt_ensure redis redis-server redis-tools
  installed_msg redis "$(redis-server --version | cut -d' ' -f1-3)"
}

redis_installed() { command -v redis-server >/dev/null && command -v redis-cli >/dev/null; }

redis_ready() {
  [[ $(redis-cli -h "$SDLAB_HOST" -p "$SDLAB_REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

redis_start() {
  local dir
  dir=$(run_dir redis)
  require_free_ports redis "$SDLAB_REDIS_PORT"
  rm -rf "$dir/data"; mkdir -p "$dir/data"
  log redis "starting on $SDLAB_HOST:$SDLAB_REDIS_PORT"
  # Foreground (daemonize no) under our own pid tracking; logfile "" = stdout -> server.log.
  start_daemon redis redis-server --bind "$SDLAB_HOST" --port "$SDLAB_REDIS_PORT" \
    --save '' --appendonly no --dir "$dir/data" --daemonize no --logfile '' --protected-mode yes
}

redis_wait() { wait_ready redis 30; }

redis_down() { stop_pid redis TERM; }
