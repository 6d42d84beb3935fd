#!/usr/bin/env bash
# What a 10-line transform adds to the handler's CPU per hook, and RSS over
# many transformed hooks (bench/transform/bench.rs says how).
#
#   bench/transform/run.sh             # release build, 100000 hooks
#   PROFILE=dev HOOKS=20000 bench/transform/run.sh   # the debug build (QuickJS itself is optimized)
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${PROFILE:-release}
cargo build -q --profile "$profile" -p clawhooks-local --example transform_bench
dir=$profile; [ "$profile" = dev ] && dir=debug
"${CARGO_TARGET_DIR:-target}/$dir/examples/transform_bench"
