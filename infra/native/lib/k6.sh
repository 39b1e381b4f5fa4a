# shellcheck shell=bash
# k6 load generator built with `go install` from the Go module proxy (binary only, nothing to start).
#
# go.k6.io/k6/v2 is not available from the module proxy here (404), so we use the v1 line; v1.8.1 is the
# newest v1 the proxy serves. Built-ins include k6/http, k6/ws, k6/websockets, k6/net/grpc.
# Always run it with K6_NO_USAGE_REPORT=true K6_AUTO_EXTENSION_RESOLUTION=false (exported by lib/common.sh;
# endpoints.env exports them too).

SDLAB_K6_MODULE=${SDLAB_K6_MODULE:-go.k6.io/k6}
SDLAB_K6_VERSION=${SDLAB_K6_VERSION:-v1.8.1}
K6_HOME=$SDLAB_INFRA_CACHE/k6-$SDLAB_K6_VERSION
K6_BIN=$K6_HOME/k6

k6_port() { echo "-"; }
k6_url() { echo "$K6_BIN"; }

k6_installed() { [[ -x $K6_BIN ]]; }

k6_install() {
  if k6_installed; then
    log k6 "already installed: $K6_BIN"
    return 0
  fi
  command -v go >/dev/null || die k6 "go not found"
  local t0
  t0=$(now)
  log k6 "building $SDLAB_K6_MODULE@$SDLAB_K6_VERSION with go install (~3-6 min on 2 cores) ..."
  mkdir -p "$K6_HOME"
  GOBIN=$K6_HOME CGO_ENABLED=0 go install -trimpath -ldflags='-s -w' "$SDLAB_K6_MODULE@$SDLAB_K6_VERSION" \
    || die k6 "go install $SDLAB_K6_MODULE@$SDLAB_K6_VERSION failed"
  k6_installed || die k6 "binary missing after go install"
  log k6 "installed: $("$K6_BIN" version | head -1) ($(du -h "$K6_BIN" | cut -f1)) in $(($(now) - t0)) s"
}

# k6 has no server: "ready" = the binary runs.
k6_ready() { k6_installed && "$K6_BIN" version >/dev/null 2>&1; }
k6_start() { k6_installed || die k6 "not installed (run: bash infra/native/infra.sh install k6)"; }
k6_wait() { k6_ready || die k6 "binary does not run: $K6_BIN"; log k6 "binary ok: $K6_BIN"; }
k6_down() { :; }
