#!/usr/bin/env bash
# Runs every cargo-fuzz target for a while (60 s each by default):
#   scripts/fuzz.sh            # all targets, 60 s each
#   scripts/fuzz.sh 300 config # one target, 5 minutes
# Needs cargo-fuzz (`cargo install cargo-fuzz`); runs on the stable
# toolchain through RUSTC_BOOTSTRAP=1. CI may skip it: it is slow, and a
# finding is a file under fuzz/artifacts/<target>/ to reproduce with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(config template signature ingress)
fi
if ! command -v cargo-fuzz >/dev/null; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
  exit 2
fi

# Seed corpora: the seed document's configs, and the signed examples.
mkdir -p fuzz/corpus/config fuzz/corpus/template fuzz/corpus/signature fuzz/corpus/ingress
cp -n examples/seed/*.json fuzz/corpus/config/ 2>/dev/null || true
cp -n fuzz/seeds/signature/* fuzz/corpus/signature/ 2>/dev/null || true
cp -n fuzz/seeds/template/* fuzz/corpus/template/ 2>/dev/null || true

status=0
for t in "${TARGETS[@]}"; do
  echo "==> fuzz $t for ${SECONDS_PER_TARGET}s"
  dict=()
  [ -f "fuzz/dicts/$t.dict" ] && dict=("-dict=fuzz/dicts/$t.dict")
  # -rss_limit_mb: the process is small; a leak or a blow-up is a finding.
  set +e
  cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=1024 -timeout=10 \
    -print_final_stats=1 "${dict[@]}" >"fuzz/last-$t.log" 2>&1
  rc=$?
  set -e
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|Test unit written" "fuzz/last-$t.log" || true
  if [ $rc -ne 0 ]; then
    echo "!! $t failed (exit $rc): see fuzz/last-$t.log and fuzz/artifacts/$t/" >&2
    tail -30 "fuzz/last-$t.log" >&2
    status=1
  fi
done
exit $status
