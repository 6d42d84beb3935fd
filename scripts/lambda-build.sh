#!/usr/bin/env bash
# Builds the three Lambda functions with cargo-lambda (release, full
# optimisation, stripped) and prints each zip's size; AWS wants the goal of
# <= 5 MB per function met, so the sizes are printed every time.
#
#   scripts/lambda-build.sh            # arm64 zips for `sam deploy` (target/lambda/*/bootstrap.zip)
#   LAMBDA_ARCH=x86-64 scripts/lambda-build.sh   # for this host (the emulator runs them as processes)
#
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

start=$(date +%s)
cargo lambda build --release "$flag" --output-format zip \
  --bin clawhooks-ingress --bin clawhooks-handler --bin clawhooks-egress
echo "built in $(( $(date +%s) - start )) s ($arch)"
for f in ingress handler egress; do
  zip=$target/lambda/clawhooks-$f/bootstrap.zip
  printf '%-20s %8d bytes  %s\n' "clawhooks-$f" "$(stat -c %s "$zip")" "$zip"
done
