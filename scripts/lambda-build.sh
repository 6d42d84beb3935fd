#!/usr/bin/env bash
# Builds the three Lambda functions with cargo-lambda in the `lambda-zip`
# profile (Cargo.toml: size-optimised, fat LTO, stripped, panics unwind),
# prints each zip's size and the build time, and fails when a zip is over
# its limit, so CI notices a dependency that bloats a function: 4,000,000
# bytes each by default (the project's goal for every function).
#
# Two cargo runs, one per feature set, each naming its packages with `-p`:
# in a virtual workspace, `--bin` alone resolves the features of every
# member, so the local binary's would reach each function. Handler and
# egress run transforms and carry QuickJS (about 470 KB); ingress does not.
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
  [ingress]=${LAMBDA_MAX_BYTES_INGRESS:-4000000}
  [handler]=${LAMBDA_MAX_BYTES_HANDLER:-4000000}
  [egress]=${LAMBDA_MAX_BYTES_EGRESS:-4000000}
)

start=$(date +%s)
# `--profile lambda-zip`, not `--release`: with --release cargo-lambda adds
# its own settings (panic = "abort" among them) to what Cargo.toml leaves out.
build() { cargo lambda build --profile lambda-zip "$flag" --output-format zip "$@"; }
build -p clawhooks-ingress
build -p clawhooks-handler -p clawhooks-egress
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
