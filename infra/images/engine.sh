#!/usr/bin/env bash
# A Docker engine, Compose v2 and buildx on a machine that reaches package registries only.
#
#   bash infra/images/engine.sh install   # idempotent: docker.io from apt, compose + buildx from the Go module proxy
#   bash infra/images/engine.sh up        # start dockerd when no engine answers (pid file under the cache)
#   bash infra/images/engine.sh status    # engine, compose and buildx versions
#   bash infra/images/engine.sh down      # stop the dockerd that `up` started (by its pid)
#   bash infra/images/engine.sh nofile    # the open-file limit containers can get (65536 or the engine's lower cap)
#
# Where an engine and the plugins are already installed (Docker Desktop, docker-ce), every step
# finds them and does nothing. The Go-built plugins are cached under $SDLAB_CACHE/docker.
set -euo pipefail

SDLAB_CACHE=${SDLAB_CACHE:-$HOME/.cache/sdlab}
DOCKER_CACHE=$SDLAB_CACHE/docker
COMPOSE_VERSION=${SDLAB_COMPOSE_VERSION:-v2.40.3}
BUILDX_VERSION=${SDLAB_BUILDX_VERSION:-v0.38.2}
PLUGINS=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins

log() { printf '[engine] %s\n' "$*"; }
die() { printf '[engine] ERROR: %s\n' "$*" >&2; exit 1; }

# remove_stale_pidfile FILE COMM: delete FILE unless its pid is a running process named COMM.
remove_stale_pidfile() {
  local pid
  pid=$(tr -dc '0-9' <"$1" 2>/dev/null || true)
  [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]] || rm -f "$1"
}

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# go_plugin NAME MODULE VERSION PACKAGE LDFLAGS: build a CLI plugin from the Go module proxy into the
# cache once, then link it where the docker CLI looks. `go install mod@v` refuses both modules
# (their go.mod files have exclude/replace lines), so the module is built from its downloaded copy.
go_plugin() {
  local name=$1 module=$2 version=$3 package=$4 ldflags=$5
  local bin=$DOCKER_CACHE/$name-$version
  if [[ ! -x $bin ]]; then
    command -v go >/dev/null || die "go not found (needed to build $name; or install the docker-$name plugin)"
    local t0=$SECONDS src work
    log "building $name $version from the Go module proxy (2-4 min on 2 cores, once; cached in $DOCKER_CACHE)"
    go mod download "$module@$version"
    src=$(go env GOMODCACHE)/$module@$version
    work=$(mktemp -d "$DOCKER_CACHE/build-$name.XXXXXX")
    cp -r "$src/." "$work" && chmod -R u+w "$work"
    (cd "$work" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "-s -w $ldflags" -o "$bin.tmp" "$package")
    mv "$bin.tmp" "$bin"
    rm -rf "$work"
    log "built $name in $((SECONDS - t0)) s"
  fi
  mkdir -p "$PLUGINS"
  ln -sfn "$bin" "$PLUGINS/docker-$name"
}

plugin_works() { docker "$1" version >/dev/null 2>&1; }

cmd_install() {
  mkdir -p "$DOCKER_CACHE"
  if ! command -v dockerd >/dev/null && ! engine_answers; then
    [[ $(id -u) == 0 ]] || die "no Docker engine; install one (Docker Desktop, docker-ce, or as root: apt-get install docker.io)"
    log "apt-get install docker.io (Docker Engine from Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >/dev/null
  fi
  command -v docker >/dev/null || die "no docker CLI after installing docker.io"
  if plugin_works compose && [[ ! -L $PLUGINS/docker-compose ]]; then
    log "compose: $(docker compose version --short) (already installed)"
  else
    go_plugin compose github.com/docker/compose/v2 "$COMPOSE_VERSION" ./cmd \
      "-X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION"
  fi
  if plugin_works buildx && [[ ! -L $PLUGINS/docker-buildx ]]; then
    log "buildx: $(docker buildx version) (already installed)"
  else
    go_plugin buildx github.com/docker/buildx "$BUILDX_VERSION" ./cmd/buildx \
      "-X github.com/docker/buildx/version.Version=$BUILDX_VERSION"
  fi
  log "installed: $(docker compose version), $(docker buildx version 2>/dev/null | cut -d' ' -f1-2)"
}

cmd_up() {
  if engine_answers; then
    log "engine answers: $(docker version --format 'Docker {{.Server.Version}}')"
    return 0
  fi
  command -v dockerd >/dev/null || die "no dockerd (run: bash infra/images/engine.sh install)"
  [[ $(id -u) == 0 ]] || die "start your Docker engine (dockerd needs root)"
  mkdir -p "$DOCKER_CACHE"
  # dockerd refuses to start, and attaches to "its" containerd, when their pidfiles name a live
  # process; after a reboot or on a machine restored from a snapshot that pid can be anyone's.
  remove_stale_pidfile "$DOCKER_CACHE/dockerd.pid" dockerd
  remove_stale_pidfile /var/run/docker/containerd/containerd.pid containerd
  log "starting dockerd (log: $DOCKER_CACHE/dockerd.log)"
  # Low CPU priority: image builds and containers yield to interactive work on a shared machine.
  # No userland proxy: published ports are forwarded by the kernel's NAT rules, not by a docker-proxy
  # process per port copying every request and response. That process runs outside the containers'
  # cgroup at dockerd's low priority, beside the load generator: at the k6 smoke's 200 checks/s it
  # spent 0.14 ms of CPU per request (the rate limiter itself 0.47 ms), and each request and response
  # waited for it to be scheduled, at nice 10 in the same session group as k6 (nice 0).
  nohup nice -n "${SDLAB_DOCKER_NICE:-10}" dockerd --userland-proxy=false --pidfile "$DOCKER_CACHE/dockerd.pid" \
    >"$DOCKER_CACHE/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    engine_answers && { log "engine up: $(docker version --format 'Docker {{.Server.Version}}')"; return 0; }
    sleep 1
  done
  tail -20 "$DOCKER_CACHE/dockerd.log" >&2
  die "dockerd did not answer within 60 s"
}

cmd_down() {
  local pid
  pid=$(cat "$DOCKER_CACHE/dockerd.pid" 2>/dev/null || true)
  # The pidfile may outlive its dockerd (a reboot, a machine restored from a snapshot): signal the
  # pid only while it is still a dockerd.
  [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] || { log "no dockerd started by this script"; return 0; }
  kill "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || { log "dockerd stopped"; return 0; }; sleep 1; done
  die "dockerd (pid $pid) still running after 30 s"
}

cmd_status() {
  if engine_answers; then log "engine: $(docker version --format 'Docker {{.Server.Version}} (API {{.Server.APIVersion}})')"
  else log "engine: not answering"; fi
  plugin_works compose && log "compose: $(docker compose version --short)" || log "compose: missing"
  plugin_works buildx && log "buildx: $(docker buildx version | cut -d' ' -f2)" || log "buildx: missing"
}

# docker-compose.yml gives Elasticsearch nofile 65536; a dockerd whose own hard limit is lower (and
# cannot raise it, as in some sandboxes) fails to start the container, so the scripts pass this
# value as SDLAB_ES_NOFILE.
cmd_nofile() {
  local pid hard
  pid=$(pgrep -o -x dockerd || true)
  hard=$(awk '/^Max open files/ {print $5}' "/proc/$pid/limits" 2>/dev/null || true)
  if [[ $hard =~ ^[0-9]+$ ]] && ((hard < 65536)); then echo "$hard"; else echo 65536; fi
}

case ${1:-} in
  install | up | down | status | nofile) "cmd_$1" ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
