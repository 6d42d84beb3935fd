#!/usr/bin/env bash
# What `Prefer: wait` adds to a hook: 200 hooks posted one after another to
# the whole server (embedded backend in memory), each running an agent on an
# OpenAI-compatible stand-in on 127.0.0.1 that answers after a fixed 20 ms.
# Prints, as p50/p95/p99/max: the plain 202 path (baseline, same run), the
# time from the agent's answer to the caller's 200, and POST→200 minus the
# agent's delay.
#
#   bench/wait/run.sh                 # release build
#   PROFILE=dev bench/wait/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RUST_LOG=error \
  cargo test -q --profile "${PROFILE:-release}" -p clawhooks-local --test answer_back \
  -- --ignored --nocapture --exact bench_what_waiting_for_the_answer_adds
