#!/usr/bin/env bash
# Crash safety under load: `clawhooks serve` is loaded with hooks, killed
# with SIGKILL mid-load, started again on the same state, and every hook
# that got a 2xx must reach the outgoing sink. Every hook carries an
# idempotency key; those in flight at the kill are retried with their keys
# after the restart, and each key must end with one event id. Prints accepted, delivered,
# lost (goal 0) and duplicated, for the embedded backend and for SQS and
# DynamoDB in the emulator.
#
#   bench/crash/run.sh              # 500 hooks before the kill
#   CRASH_HOOKS=20000 bench/crash/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CRASH_HOOKS=${CRASH_HOOKS:-500}
cargo test -q --workspace --features clawhooks-local/aws,clawhooks-local/failpoints --test crash_safety -- --nocapture --test-threads 1 2>&1 | grep -E '^crash-safety|test result|panicked'
