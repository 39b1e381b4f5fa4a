#!/usr/bin/env bash
# CI's compose step: the whole stack but Grafana with `docker compose up -d --wait`, on images built
# from package registries where no image registry answers; then the README tour as a script, every
# k6 scenario's smoke profile against the containers, a check that no container was OOM-killed or
# restarted, the telemetry test against the containers, and `docker compose down -v`.
#
#   bash infra/compose/ci.sh
#
# Host ports are the defaults plus 20000 (SDLAB_PORT_OFFSET), so the step runs beside a native
# stack on the standard ports. Everything slow is cached: the Go-built plugins under
# ~/.cache/sdlab/docker, the images (rebuilt only when their inputs change) and BuildKit's layers
# and pnpm store in the engine.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS
step() { printf '\n==> compose: %s (t+%ss)\n' "$1" "$((SECONDS - started))"; }
source scripts/toolchain.sh

step 'engine, compose and buildx (installed once)'
bash infra/images/engine.sh install
bash infra/images/engine.sh up

step 'images: pinned ones from a registry, else built from package registries'
bash infra/images/select.sh
set -a
# shellcheck disable=SC1090
source "${SDLAB_CACHE:-$HOME/.cache/sdlab}/images/selected.env"
set +a

SDLAB_ES_NOFILE=$(bash infra/images/engine.sh nofile)
export SDLAB_ES_NOFILE
offset=${SDLAB_PORT_OFFSET:-20000}
port() { export "$1=$(($2 + offset))"; }
port SDLAB_PG_PORT 5432; port SDLAB_REDIS_PORT 6379; port SDLAB_KAFKA_PORT 9092; port SDLAB_ES_PORT 9200
port SDLAB_JAEGER_OTLP_GRPC_PORT 4317; port SDLAB_JAEGER_OTLP_HTTP_PORT 4318; port SDLAB_JAEGER_QUERY_PORT 16686
port SDLAB_PROM_PORT 9090; port SDLAB_GRAFANA_PORT 3000
port SDLAB_URL_SHORTENER_PORT 8081; port SDLAB_RATE_LIMITER_PORT 8082; port SDLAB_CHAT_GATEWAY_PORT 8083
port SDLAB_CHAT_GATEWAY_2_PORT 8093; port SDLAB_AD_CLICK_AGGREGATOR_PORT 8084; port SDLAB_TICKET_BOOKING_PORT 8085
port SDLAB_PAYMENT_PROVIDER_PORT 8086; port SDLAB_URL_SHORTENER_WORKER_PORT 9481
port SDLAB_AD_CLICK_AGGREGATOR_WORKER_PORT 9484; port SDLAB_TICKET_BOOKING_WORKER_PORT 9485

# This project's containers left by an interrupted run (their restart policy brings them back with
# the engine) hold its ports: remove them first, then check what else holds one.
docker compose down -v --remove-orphans >/dev/null 2>&1 || true
# A taken host port fails `up` only after the images are built; say which one at once.
for var in $(compgen -e | grep -E '^SDLAB_.*_PORT$'); do
  if (exec 3<>"/dev/tcp/127.0.0.1/${!var}") 2>/dev/null; then
    echo "compose: host port ${!var} ($var) is taken; set SDLAB_PORT_OFFSET to another offset" >&2
    exit 1
  fi
done

status=0
finish() {
  step 'docker compose down -v'
  docker compose logs --no-color --tail 200 >"${SDLAB_CACHE:-$HOME/.cache/sdlab}/compose-ci.log" 2>&1 || true
  docker compose down -v --remove-orphans || true
  step "done (exit $status)"
}
trap finish EXIT

step 'service images (each once, one at a time; cached layers and pnpm store make warm runs quick)'
bash infra/compose/build-images.sh

step 'docker compose up -d --wait (everything but Grafana)'
t0=$SECONDS
if ! docker compose up -d --wait --wait-timeout 600; then
  docker compose ps -a
  docker compose logs --no-color --tail 60
  status=1
  exit 1
fi
echo "compose up took $((SECONDS - t0)) s"
docker compose ps --format 'table {{.Service}}\t{{.Status}}'
# A docker-proxy per published port copies every request in user space, outside the containers'
# cgroup, adding CPU and a scheduling wait to each one (engine.sh explains). engine.sh starts
# dockerd without it; an engine started otherwise may still use it.
if pgrep -x docker-proxy >/dev/null; then
  echo "compose: note: this engine forwards published ports through docker-proxy (userland-proxy);" \
    "latency thresholds are tighter with \"userland-proxy\": false in daemon.json"
fi

# Peak memory per container comes from each container's cgroup at the end (container-health.ts):
# polling `docker stats` every 2 s cost CPU beside the latency-thresholded k6 runs.
step 'the README tour (infra/compose/tour.sh)'
bash infra/compose/tour.sh || status=1

step 'k6 smoke profiles against the containers'
K6_BIN=$(node -e 'try{process.stdout.write(require(process.argv[1]).k6??"")}catch{}' \
  "${SDLAB_CACHE:-$HOME/.cache/sdlab}/run/endpoints.json")
export K6_BIN=${K6_BIN:-k6}
# Gating, as the native smoke in .ci/run is: a broken threshold fails the step. The runner also
# drives a bare handler of the same shape at the same rate and says GENERATOR-BOUND when k6 and the
# machine alone spend more than half the latency bound; as natively, that explains a failure but
# does not pass it. On a shared machine read the load average first. SDLAB_COMPOSE_K6_GATE=0 reports
# without gating (a machine busy with other work).
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores: above ~2 the cores are shared)"
# All the containers sit in one CPU cgroup (cgroup v1: cpu/docker, 1,024 shares), which the
# scheduler weighs as a single task group against k6's session group: on 2 cores the whole stack of
# 16 containers gets what k6 alone gets whenever both want the CPU. A deployment does not share its
# cores with its load generator (the native runner gives the service cores of its own), so for the
# smoke the stack gets 3/4 of a contended core; the shares are put back afterwards.
docker_shares=/sys/fs/cgroup/cpu/docker/cpu.shares
if [[ -w $docker_shares ]]; then
  shares_before=$(cat "$docker_shares")
  echo 3072 >"$docker_shares" && echo "docker cgroup cpu.shares: $shares_before -> 3072 for the smoke"
fi
# 30 s per scenario, not the smoke profile's 10-20 s: the rate-limiter's 10 s is 2,000 checks, whose
# p99 two ~40 ms stalls of a shared VM decide (CI broke p(99)<10 that way once: p99 16.7 ms, max
# 45 ms, median 1.0 ms). 6,000 samples read the percentile the target names; the rate and the
# threshold stay the scenario's.
if ! node --conditions=@sdlab/source loadtests/src/running-stack.ts all --profile smoke --duration 30s; then
  if [[ ${SDLAB_COMPOSE_K6_GATE:-1} != 0 ]]; then
    status=1
  else
    echo "compose: WARNING: a k6 smoke threshold broke against the containers (SDLAB_COMPOSE_K6_GATE=0: not gating)"
  fi
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n ${shares_before:-} ]]; then echo "$shares_before" >"$docker_shares"; fi

step 'telemetry test against the containers (infra/test/stack-telemetry.test.ts)'
SDLAB_STACK=compose SDLAB_TEST_DOCKER=false \
  DATABASE_URL=postgres://sdlab:sdlab@127.0.0.1:$SDLAB_PG_PORT/sdlab REDIS_URL=redis://127.0.0.1:$SDLAB_REDIS_PORT \
  KAFKA_BROKERS=127.0.0.1:$SDLAB_KAFKA_PORT ELASTICSEARCH_URL=http://127.0.0.1:$SDLAB_ES_PORT \
  OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$SDLAB_JAEGER_OTLP_HTTP_PORT \
  JAEGER_QUERY_URL=http://127.0.0.1:$SDLAB_JAEGER_QUERY_PORT PROMETHEUS_URL=http://127.0.0.1:$SDLAB_PROM_PORT \
  pnpm vitest run --project infra test/stack-telemetry.test.ts || status=1

step 'no container OOM-killed or restarted; peak memory against each limit'
node infra/compose/container-health.ts || status=1
exit "$status"
