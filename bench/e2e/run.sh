#!/usr/bin/env bash
# The whole path, end to end: the release `clawhooks serve` on the durable
# embedded backend (SQLite file on disk, default durability), loaded over
# HTTP by our own open-loop load generator (bench/e2e/load.rs), hooks whose
# handler does `send_message` to a recording channel stand-in, and one
# outgoing subscription to `message_received` on a recording sink; both
# stand-ins are one Rust hyper server on 127.0.0.1, in the load generator's
# process. A hook counts when both its channel message and its outgoing
# webhook have arrived, not when it was accepted. Each step is a fresh
# server on a fresh file. Prints, in one run:
#   1. the highest sustained rate (doubling from START_RATE, then bisecting),
#   2. at half that rate, p50/p99/max from POST to the channel message and
#      to the outgoing webhook, and hooks that waited out a visibility timeout,
#   3. one persistent session: its sustained rate, and whether the channel
#      got every sender's hooks in the order they were accepted.
# The load generator, the stand-ins and the server share this machine's cores.
#
#   bench/e2e/run.sh                     # 5 s steps, 10 s at half rate
#   STEP_SECS=10 HALF_SECS=20 bench/e2e/run.sh
#   CLAWHOOKS_BIN=/tmp/old/clawhooks bench/e2e/run.sh   # another build of the server
#                                        # (compare two commits in one sitting)
set -euo pipefail
cd "$(dirname "$0")/../.."
# Two builds, so the server is exactly the one the README's first command builds.
cargo build --release -q -p clawhooks-local --bin clawhooks
cargo build --release -q -p clawhooks-bench-e2e
target=${CARGO_TARGET_DIR:-target}/release
server=${CLAWHOOKS_BIN:-$target/clawhooks}
echo "server: $server; load before the run: $(uptime)"
"$target/e2e_load" "$server"
echo "load after the run: $(uptime)"
