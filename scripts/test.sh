#!/usr/bin/env bash
# Every test of the project, as CI runs it (.ci/run calls exactly this).
# The AWS emulator (ministack, from PyPI) is installed into a venv under the
# target directory and started by the tests that need it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }

step "unit, integration and end-to-end tests (debug build, with the AWS backend and fail points)"
cargo test --workspace --no-fail-fast --features clawhooks-local/aws,clawhooks-local/failpoints

step "the default clawhooks binary: embedded backend only, no AWS SDK"
# The README's first command builds exactly this; the AWS SDK crates are
# most of a cold build, so they come only with --features aws.
if cargo tree -q -p clawhooks-local --edges normal --prefix none | grep -E '^aws-(sdk|config)'; then
  echo "the default clawhooks build pulls in the AWS SDK" >&2
  exit 1
fi
cargo build -q -p clawhooks-local --bin clawhooks
target=${CARGO_TARGET_DIR:-$PWD/target}
if out=$("$target/debug/clawhooks" serve --backend aws --config examples/clawhooks.json 2>&1); then
  echo "serve --backend aws ran in a build without AWS support" >&2
  exit 1
fi
grep -q -- "--features aws" <<<"$out" || { echo "no hint to build with --features aws: $out" >&2; exit 1; }
echo "default build: no AWS SDK; serve --backend aws says to build with --features aws"

# After the cargo tests: the deploy test reuses their debug host builds.
for extra in scripts/contract-test.sh scripts/infra-lint.sh scripts/sam-deploy-test.sh scripts/lambda-build.sh scripts/console-test.sh; do
  if [ -x "$extra" ]; then
    step "$extra"
    "$extra"
  fi
done
