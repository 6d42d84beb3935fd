#!/usr/bin/env bash
# Runs the cargo test step (or a part of it) N times and counts the runs
# that passed, so a flaky test can be reproduced, optionally under the load
# that shows timing races: busy loops on every core and a writer that syncs
# each write (disk flushes stall SQLite commits, which CPU load alone rarely
# does).
#
#   scripts/repeat.sh [--load] N [cargo test arguments...]
#
#   scripts/repeat.sh 5                                  # the whole step, 5 times
#   scripts/repeat.sh --load 20 -p clawhooks-local --test metrics
#
# The binaries are built once before the first run; each run's output goes
# to target/repeat/run-K.log, and the names of failed tests are printed.
set -euo pipefail
cd "$(dirname "$0")/.."

load=0
if [ "${1:-}" = "--load" ]; then load=1; shift; fi
n=${1:?usage: scripts/repeat.sh [--load] N [cargo test arguments...]}
shift
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--workspace)
features=(--features clawhooks-local/aws,clawhooks-local/failpoints)
target=${CARGO_TARGET_DIR:-$PWD/target}
logs=$target/repeat
mkdir -p "$logs"

cargo test -q --no-run "${features[@]}" "${args[@]}"

pids=()
stop_load() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; rm -f "$logs/dd"; }
trap stop_load EXIT
if [ "$load" = 1 ]; then
  for _ in 1 2 3; do (while :; do :; done) & pids+=($!); done
  (while :; do dd if=/dev/zero of="$logs/dd" bs=64k count=200 oflag=dsync 2>/dev/null; done) & pids+=($!)
  echo "load: 3 busy loops and a dsync writer"
fi

passed=0
for k in $(seq "$n"); do
  log=$logs/run-$k.log
  start=$(date +%s)
  if cargo test --no-fail-fast "${features[@]}" "${args[@]}" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "run $k: passed ($(( $(date +%s) - start )) s)"
  else
    echo "run $k: FAILED ($(( $(date +%s) - start )) s), $log:"
    grep -E '^test .* FAILED$|^    [a-z_:]+$|panicked at' "$log" | head -20 || true
  fi
done
echo "$passed of $n runs passed"
[ "$passed" = "$n" ]
