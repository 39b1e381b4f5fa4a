# shellcheck shell=bash
# PostgreSQL 15 from Debian apt, run as a throwaway cluster owned by the `postgres` user.

PG_BIN=/usr/lib/postgresql/15/bin

postgres_port() { echo "$SDLAB_PG_PORT"; }
postgres_url() { echo "postgres://postgres@$SDLAB_HOST:$SDLAB_PG_PORT/postgres"; }

postgres_install() {
  apt_ensure postgres postgresql-15 postgresql-client-15 acl
  # The package also creates the cluster 15/main (port 5432). Keep it from starting on its own;
  # `up` stops it if it is running on our port.
  local sc=/etc/postgresql/15/main/start.conf
  if [[ -f $sc ]] && ! grep -qx manual "$sc"; then
    log postgres "setting packaged cluster 15/main to 'manual' start ($sc)"
    sed -i 's/^\(auto\|disabled\)$/manual/' "$sc"
  fi
  installed_msg postgres "$("$PG_BIN/postgres" --version)"
}

postgres_installed() { [[ -x $PG_BIN/postgres && -x $PG_BIN/initdb ]] && command -v psql >/dev/null; }

postgres_ready() {
  [[ $(psql -h "$SDLAB_HOST" -p "$SDLAB_PG_PORT" -U postgres -d postgres -XAtqc 'select 1' 2>/dev/null) == 1 ]]
}

# Stop the Debian-packaged cluster 15/main if it is online on our port.
_postgres_stop_packaged() {
  command -v pg_lsclusters >/dev/null || return 0
  local ver name port status
  while read -r ver name port status _; do
    [[ $status == online* && $port == "$SDLAB_PG_PORT" ]] || continue
    log postgres "stopping packaged cluster $ver/$name on port $port (it would clash with ours)"
    pg_ctlcluster "$ver" "$name" stop -m fast || true
  done < <(pg_lsclusters -h 2>/dev/null)
}

postgres_start() {
  local dir data
  dir=$(run_dir postgres)
  data=$dir/data
  _postgres_stop_packaged
  require_free_ports postgres "$SDLAB_PG_PORT"
  ensure_traversable postgres "$dir/x"
  # SDLAB_KEEP_DATA=1 (pnpm fault: a stopped server comes back with its data, as after a real
  # outage) restarts the existing cluster; otherwise every start is a fresh throwaway cluster.
  if [[ ${SDLAB_KEEP_DATA:-} == 1 && -f $data/PG_VERSION ]]; then
    log postgres "keeping the existing cluster in $data (SDLAB_KEEP_DATA=1)"
  else
    rm -rf "$data" "$dir/socket"
    mkdir -p "$data" "$dir/socket"
    chown postgres:postgres "$data" "$dir/socket"
    log postgres "initdb (throwaway cluster in $data)"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { tail -n 50 "$dir/initdb.log" >&2; die postgres "initdb failed"; }
  fi
  log postgres "starting on $SDLAB_HOST:$SDLAB_PG_PORT"
  # setpriv execs in place (no fork), so the recorded pid is the postmaster itself.
  # fsync and full_page_writes stay on: a crash keeps every commit whose WAL was flushed. The
  # server's default synchronous_commit=off lets the test suite's commits return before that flush;
  # `pnpm load` runs the measured services with synchronous_commit=on (loadtests/src/processes.ts).
  # pg_stat_statements is loaded so a benchmark can name the statements a bottleneck spends its
  # time in (`CREATE EXTENSION pg_stat_statements` in the database to read them).
  start_daemon postgres setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$PG_BIN/postgres" -D "$data" -p "$SDLAB_PG_PORT" -k "$dir/socket" \
    -c listen_addresses="$SDLAB_HOST" -c max_connections=300 \
    -c synchronous_commit=off \
    -c shared_preload_libraries=pg_stat_statements
}

postgres_wait() { wait_ready postgres 60; }

# SIGINT = PostgreSQL "fast" shutdown (SIGTERM would be "smart" and wait for every client pool to disconnect).
postgres_down() { stop_pid postgres INT; }
