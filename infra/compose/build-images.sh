#!/usr/bin/env bash
# Builds the service images docker-compose.yml names, each image once and one at a time at low CPU
# priority: `docker compose up --build` would build an image once per service that uses it (API and
# worker share one) and all of them at once, which on a 2-core machine takes longer in total.
# `docker compose up` then finds the images and starts them.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The first service of each image (compose config resolves variables and anchors).
mapfile -t services < <(docker compose config --format json | node -e '
  const { services } = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
  const seen = new Set();
  for (const [name, s] of Object.entries(services)) {
    if (!s.build || seen.has(s.image)) continue;
    seen.add(s.image);
    console.log(name);
  }')
for service in "${services[@]}"; do
  t0=$SECONDS
  printf '[build] %s ...\n' "$service"
  COMPOSE_PROGRESS=${COMPOSE_PROGRESS:-quiet} nice -n 10 docker compose build "$service"
  printf '[build] %s built in %s s\n' "$service" "$((SECONDS - t0))"
done
