#!/usr/bin/env bash
# Every test of the project, as CI runs it (.ci/run calls exactly this).
# The AWS emulator (ministack, from PyPI) is installed into a venv under the
# target directory and started by the tests that need it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }

step "unit, integration and end-to-end tests (debug build)"
cargo test --workspace --no-fail-fast --features clawhooks-local/failpoints

# After the cargo tests: the deploy test reuses their debug host builds.
for extra in scripts/infra-lint.sh scripts/sam-deploy-test.sh scripts/lambda-build.sh; do
  if [ -x "$extra" ]; then
    step "$extra"
    "$extra"
  fi
done
