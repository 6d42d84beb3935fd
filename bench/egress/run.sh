#!/usr/bin/env bash
# Egress throughput and latency: lifecycle events through the real egress
# stage (fan-out, signed-or-not delivery, delivery log) on the embedded
# SQLite backend, to a loopback sink that answers 200 at once. Release build.
#
#   bench/egress/run.sh                 # 20000 events, 1 subscription each
#   SUBS=4 EVENTS=10000 bench/egress/run.sh
#   SIGN=1 bench/egress/run.sh          # with Standard Webhooks signatures
#   MEMORY=1 bench/egress/run.sh        # in-memory SQLite instead of a file
#   LIMITED=10 bench/egress/run.sh      # SUBS+1 unlimited subscriptions, then SUBS
#                                       # unlimited beside one limited to 10/s: compare
#                                       # the seconds the unlimited ones took
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p clawhooks-local --example egress_bench
bench=${CARGO_TARGET_DIR:-target}/release/examples/egress_bench
if [ "${LIMITED:-0}" -gt 0 ]; then
  echo "baseline: $(( ${SUBS:-1} + 1 )) unlimited subscriptions"
  SUBS=$(( ${SUBS:-1} + 1 )) LIMITED=0 RUST_LOG=error "$bench"
  echo "beside a subscription limited to $LIMITED per second"
fi
RUST_LOG=error "$bench"
