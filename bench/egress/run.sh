#!/usr/bin/env bash
# Egress throughput and latency: lifecycle events through the real egress
# stage (fan-out, signed-or-not delivery, delivery log) on the embedded
# SQLite backend, to a loopback sink that answers 200 at once. Release build.
#
#   bench/egress/run.sh                 # 20000 events, 1 subscription each
#   SUBS=4 EVENTS=10000 bench/egress/run.sh
#   SIGN=1 bench/egress/run.sh          # with Standard Webhooks signatures
#   MEMORY=1 bench/egress/run.sh        # in-memory SQLite instead of a file
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p clawhooks-local --example egress_bench
RUST_LOG=error "${CARGO_TARGET_DIR:-target}/release/examples/egress_bench"
