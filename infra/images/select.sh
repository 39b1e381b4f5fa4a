#!/usr/bin/env bash
# Chooses the images `docker compose` runs and writes the choice to $SDLAB_CACHE/images/selected.env
# (empty when the pinned images in .env are used):
#   SDLAB_IMAGES=auto (default)  the pinned images when a registry serves them, else build them
#   SDLAB_IMAGES=pull            the pinned images; fail when they cannot be pulled
#   SDLAB_IMAGES=build           always the images built from package registries (infra/images/build.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
SDLAB_CACHE=${SDLAB_CACHE:-$HOME/.cache/sdlab}
out=$SDLAB_CACHE/images/selected.env
mode=${SDLAB_IMAGES:-auto}
mkdir -p "$(dirname "$out")"
log() { printf '[images] %s\n' "$*"; }

pinned=$(sed -n 's/^\([A-Z_]*_IMAGE\)=\(.*\)/\2/p' .env | grep -v grafana)
pull_all() {
  local image
  for image in $pinned; do
    docker image inspect "$image" >/dev/null 2>&1 && continue
    log "pulling $image"
    timeout 60 docker pull -q "$image" >/dev/null 2>&1 || { log "cannot pull $image"; return 1; }
  done
}

case $mode in
  pull) pull_all || { log "ERROR: pinned images unavailable; SDLAB_IMAGES=build builds them from package registries"; exit 1; }
    : >"$out"; log "using the pinned images from .env" ;;
  build) bash infra/images/build.sh && cp "$SDLAB_CACHE/images/images.env" "$out" ;;
  auto)
    if pull_all; then : >"$out"; log "using the pinned images from .env"
    else
      log "no image registry serves them: building the images from package registries (infra/images/build.sh)"
      bash infra/images/build.sh && cp "$SDLAB_CACHE/images/images.env" "$out"
    fi ;;
  *) log "ERROR: SDLAB_IMAGES must be auto, pull or build"; exit 2 ;;
esac
