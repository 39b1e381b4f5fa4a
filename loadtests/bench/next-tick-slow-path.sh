#!/bin/bash
# Whether a measured Node process ran process.nextTick on V8's slow path: the share of a perf
# profile's samples inside Node's nextTick (internal/process/task_queues) that sit in V8's runtime
# (v8::internal::*, Runtime_*) rather than in compiled code. Node builds each tick object as a
# literal with three computed symbol keys; in some process starts (about a third of bare Fastify's
# starts on 2026-12-06, fewer of the kit's) V8's feedback for that literal ends up megamorphic and
# every nextTick defines its properties through Runtime_DefineKeyedOwnPropertyInLiteral. Nothing in
# the server's code or options decides it, and it lasts for the life of the process: 6 % of the
# process's CPU at 2,000 req/s, 10 % in a closed loop. A process at 0.0-0.2 % is in the fast state,
# one at 5-12 % in the slow one; compare two servers only in the same state
# (libs/service-kit/README.md, "Kit above bare").
#   PERF=/tmp/a.data NODEFLAGS=--perf-basic-prof bash loadtests/bench/per-core-open-loop.sh a . bare-get
#   bash loadtests/bench/next-tick-slow-path.sh /tmp/a.data
# (--perf-basic-prof names the JavaScript frames; without it nextTick cannot be found.)
set -euo pipefail
data=${1:?usage: next-tick-slow-path.sh <perf.data>}
perf script -i "$data" 2>/dev/null | awk 'BEGIN { RS = ""; FS = "\n" }
  {
    n++
    runtime = ($2 ~ /v8::internal::|Runtime_/)
    for (i = 2; i <= NF; i++) if ($i ~ /nextTick node:internal\/process\/task_queues/) { tick++; if (runtime) slow++; break }
  }
  END {
    if (!n) { print "no samples" > "/dev/stderr"; exit 1 }
    printf "samples=%d nextTick=%.1f%% nextTick_slow_path=%.1f%% (%s)\n", n, 100 * tick / n, 100 * slow / n,
      (100 * slow / n >= 2 ? "slow state" : "fast state")
  }'
