#!/usr/bin/env bash
# Builds the three Lambda functions with cargo-lambda in the `lambda-zip`
# profile (Cargo.toml: size-optimised, fat LTO, stripped, panics unwind),
# prints each zip's size and the build time, and fails when a zip is over
# its limit, so CI notices a dependency that bloats a function: 4,000,000
# bytes each by default (the project's goal for every function). Ingress aims at
# 3,000,000 but is about 3.5 MB today (reqwest, which it builds at init but
# never sends with, and aws-config's full credential chain are the next
# cuts); hold it there with LAMBDA_MAX_BYTES_INGRESS=3000000 once it fits.
#
#   scripts/lambda-build.sh            # arm64 zips for `sam deploy` (target/lambda/*/bootstrap.zip)
#   LAMBDA_ARCH=x86-64 scripts/lambda-build.sh   # for this host (the emulator runs them as processes)
#   LAMBDA_MAX_BYTES_HANDLER=4500000 scripts/lambda-build.sh   # a larger limit, if you add to a function
#
# The binaries are in target/<triple>/lambda-zip/ (aarch64-unknown-linux-gnu
# for arm64), which scripts/lambda-package.sh takes as BIN_DIR.
# cargo-lambda and zig (the cross linker) come from PyPI into a venv under
# the target directory, made once and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
venv=$target/venvs/lambda
if ! "$venv/bin/python" -c 'import ziglang' 2>/dev/null || [ ! -x "$venv/bin/cargo-lambda" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'cargo-lambda==1.9.2' 'ziglang==0.17.1'
fi
# cargo-lambda finds zig through `python3 -m ziglang`: the venv goes first.
export PATH="$venv/bin:$PATH"

arch=${LAMBDA_ARCH:-arm64}
case "$arch" in
  arm64) flag=--arm64 ;;
  x86-64) flag=--x86-64 ;;
  *) echo "LAMBDA_ARCH must be arm64 or x86-64, not $arch" >&2; exit 2 ;;
esac
declare -A max=(
  # Ingress is over the 4,000,000 goal (4,251,361 on the arm64 build of
  # 050be35): held at 4,300,000 so it cannot grow further unnoticed while
  # it is cut back under 4,000,000 (reqwest and aws-config, above).
  [ingress]=${LAMBDA_MAX_BYTES_INGRESS:-4300000}
  [handler]=${LAMBDA_MAX_BYTES_HANDLER:-4000000}
  [egress]=${LAMBDA_MAX_BYTES_EGRESS:-4000000}
)

start=$(date +%s)
# `--profile lambda-zip`, not `--release`: with --release cargo-lambda adds
# its own settings (panic = "abort" among them) to what Cargo.toml leaves out.
cargo lambda build --profile lambda-zip "$flag" --output-format zip \
  --bin clawhooks-ingress --bin clawhooks-handler --bin clawhooks-egress
echo "built in $(( $(date +%s) - start )) s ($arch)"
over=0
for f in ingress handler egress; do
  zip=$target/lambda/clawhooks-$f/bootstrap.zip
  size=$(stat -c %s "$zip")
  verdict=ok
  if [ "$size" -gt "${max[$f]}" ]; then
    verdict="OVER the limit"
    over=1
  fi
  printf '%-20s %8d bytes (limit %d: %s)  %s\n' "clawhooks-$f" "$size" "${max[$f]}" "$verdict" "$zip"
done
if [ "$over" -ne 0 ]; then
  echo "a Lambda zip is over its size limit (raise it with LAMBDA_MAX_BYTES_<FUNCTION> if the growth is wanted)" >&2
  exit 1
fi
