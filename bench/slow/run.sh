#!/usr/bin/env bash
# Slow services do not serialise unrelated work: 1,000 hooks over 100
# persistent sessions through the whole server (embedded backend in memory),
# each asking an OpenAI-compatible stand-in on 127.0.0.1 that answers after
# 200 ms, then one hook on an idle session. Prints the time until the model
# was asked the last hook, and how many calls the idle session's hook
# waited behind. Checks every session's order on the way.
#
#   bench/slow/run.sh                 # release build
#   PROFILE=dev bench/slow/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RUST_LOG=error \
  cargo test -q --profile "${PROFILE:-release}" -p clawhooks-local --test slow_services \
  -- --ignored --nocapture --exact bench_a_thousand_hooks_over_a_hundred_slow_sessions
