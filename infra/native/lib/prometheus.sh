# shellcheck shell=bash
# Prometheus from Debian apt (2.42, classic UI only). Config rendered from infra/native/prometheus.yml.tmpl.

prometheus_port() { echo "$SDLAB_PROM_PORT"; }
prometheus_url() { echo "http://$SDLAB_HOST:$SDLAB_PROM_PORT"; }
prometheus_targets_dir() { echo "$SDLAB_RUN/prometheus/targets"; }

prometheus_install() {
  apt_ensure prometheus prometheus
  installed_msg prometheus "$(prometheus --version 2>&1 | head -1)"
}

prometheus_installed() { command -v prometheus >/dev/null; }

prometheus_ready() { http_ok "$(prometheus_url)/-/ready"; }

prometheus_start() {
  local dir PROM_TARGETS_DIR
  dir=$(run_dir prometheus)
  PROM_TARGETS_DIR=$(prometheus_targets_dir)
  require_free_ports prometheus "$SDLAB_PROM_PORT"
  rm -rf "$dir/data"
  # The targets dir is kept across restarts: whoever dropped a file there keeps its targets.
  mkdir -p "$dir/data" "$PROM_TARGETS_DIR"
  render_template "$INFRA_DIR/prometheus.yml.tmpl" "$dir/prometheus.yml" SDLAB_PROM_PORT PROM_TARGETS_DIR
  log prometheus "starting on $SDLAB_HOST:$SDLAB_PROM_PORT (file_sd targets: $PROM_TARGETS_DIR/*.json)"
  start_daemon prometheus prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="$SDLAB_HOST:$SDLAB_PROM_PORT" --web.enable-lifecycle
}

prometheus_wait() { wait_ready prometheus 60; }

prometheus_down() { stop_pid prometheus TERM; }
