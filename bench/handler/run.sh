#!/usr/bin/env bash
# Handler-stage throughput: hooks through ingress onto the durable embedded
# backend (SQLite on disk), drained by the consumer loop with the handler
# stage posting each to a recording Discord stand-in on 127.0.0.1.
# Two runs: independent hook:<uuid> sessions (parallel), and one persistent
# session (FIFO: strictly one at a time).
#
#   bench/handler/run.sh             # 2000 hooks (+ 500 on one session)
#   HOOKS=5000 bench/handler/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p clawhooks-e2e --example handler_bench
RUST_LOG=error "${CARGO_TARGET_DIR:-target}/release/examples/handler_bench"
