# shellcheck shell=bash
# Jaeger v2 built from the Go module proxy.
#
# Why not `go install github.com/jaegertracing/jaeger/cmd/jaeger@<commit>`: the module proxy reachable here
# answers 403 "This module version is not available" for commit pseudo-versions, and the v2.x.y tags are not
# valid versions of the module (its path has no /v2). The newest tagged version is v1.76.0 (= Jaeger v2.13.0,
# cmd/jaeger is the v2 binary) but its go.mod has a `replace` for Shopify/sarama, which `go install pkg@version`
# rejects. So we build it from a tiny local main module that requires jaeger v1.76.0 and repeats that replace.

SDLAB_JAEGER_VERSION=${SDLAB_JAEGER_VERSION:-v1.76.0}
JAEGER_HOME=$SDLAB_INFRA_CACHE/jaeger-$SDLAB_JAEGER_VERSION
JAEGER_BIN=$JAEGER_HOME/jaeger

jaeger_port() { echo "$SDLAB_JAEGER_QUERY_PORT"; }
jaeger_url() { echo "http://$SDLAB_HOST:$SDLAB_JAEGER_QUERY_PORT"; }
jaeger_otlp_url() { echo "http://$SDLAB_HOST:$SDLAB_JAEGER_OTLP_HTTP_PORT"; }

jaeger_installed() { [[ -x $JAEGER_BIN ]]; }

jaeger_install() {
  if jaeger_installed; then
    log jaeger "already installed: $JAEGER_BIN"
    return 0
  fi
  command -v go >/dev/null || die jaeger "go not found"
  local b=$JAEGER_HOME/build t0
  t0=$(now)
  log jaeger "building Jaeger $SDLAB_JAEGER_VERSION (Jaeger v2 binary) from the Go module proxy."
  log jaeger "this takes ~10-20 min on 2 cores (~340 modules); progress: go prints module downloads, then compiles silently."
  mkdir -p "$b"
  cat >"$b/go.mod" <<EOM
module local/sdlab-jaeger

go 1.24.6

require github.com/jaegertracing/jaeger $SDLAB_JAEGER_VERSION

// Copied from jaeger's own go.mod (v1.x tags): go install refuses modules with replace directives.
replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0
EOM
  # The module proxy reachable here serves these modules but its checksum-database proxy answers 404 for
  # their lookups ("verifying module: ... sumdb ... 404 Not Found"), so skip sumdb for this prefix only;
  # go.sum still pins what was downloaded.
  export GONOSUMDB=${GONOSUMDB:+$GONOSUMDB,}go.opentelemetry.io/collector,github.com/open-telemetry/opentelemetry-collector-contrib
  (cd "$b" && GOFLAGS=-mod=mod go get "github.com/jaegertracing/jaeger/cmd/jaeger@$SDLAB_JAEGER_VERSION") \
    || die jaeger "go get failed"
  log jaeger "modules resolved after $(($(now) - t0)) s; compiling ..."
  (cd "$b" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$JAEGER_BIN.tmp" \
    github.com/jaegertracing/jaeger/cmd/jaeger) || die jaeger "go build failed"
  mv "$JAEGER_BIN.tmp" "$JAEGER_BIN"
  log jaeger "installed: $JAEGER_BIN ($(du -h "$JAEGER_BIN" | cut -f1)) in $(($(now) - t0)) s"
}

jaeger_ready() { http_ok "$(jaeger_url)/api/services"; }

jaeger_start() {
  local dir
  jaeger_installed || die jaeger "not installed (run: bash infra/native/infra.sh install jaeger)"
  dir=$(run_dir jaeger)
  require_free_ports jaeger "$SDLAB_JAEGER_OTLP_GRPC_PORT" "$SDLAB_JAEGER_OTLP_HTTP_PORT" \
    "$SDLAB_JAEGER_QUERY_PORT" "$SDLAB_JAEGER_QUERY_GRPC_PORT" "$SDLAB_JAEGER_HEALTH_PORT"
  render_template "$INFRA_DIR/jaeger.yaml.tmpl" "$dir/jaeger.yaml" SDLAB_JAEGER_HEALTH_PORT SDLAB_JAEGER_QUERY_PORT \
    SDLAB_JAEGER_QUERY_GRPC_PORT SDLAB_JAEGER_OTLP_GRPC_PORT SDLAB_JAEGER_OTLP_HTTP_PORT
  log jaeger "starting: OTLP grpc :$SDLAB_JAEGER_OTLP_GRPC_PORT http :$SDLAB_JAEGER_OTLP_HTTP_PORT, query :$SDLAB_JAEGER_QUERY_PORT"
  start_daemon jaeger "$JAEGER_BIN" --config "$dir/jaeger.yaml"
}

jaeger_wait() { wait_ready jaeger 60; }

jaeger_down() { stop_pid jaeger TERM; }
