#!/usr/bin/env bash
# Fills the folders infra/template.yaml deploys (its CodeUri): each of
# infra/dist/{ingress,handler,egress}/ gets the function's binary as
# `bootstrap` and the config file as `clawhooks.json`, which the functions
# read at init from their task root. `sam deploy` zips each folder itself,
# so no `sam build` is needed and the config never goes through a
# command line.
#
#   scripts/lambda-package.sh CONFIG.json BIN_DIR [DIST_DIR]
#
# BIN_DIR holds clawhooks-ingress, clawhooks-handler and clawhooks-egress:
# target/aarch64-unknown-linux-gnu/lambda-zip after scripts/lambda-build.sh
# (arm64, for AWS), or target/debug for an emulator that runs the functions
# as host processes (deploy with Architecture=x86_64). DIST_DIR (default
# infra/dist) is for a copy of the template elsewhere: the deploy test
# packages beside its own copy so it never overwrites yours.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 CONFIG.json BIN_DIR [DIST_DIR]" >&2
  exit 2
fi
[ -f "$1" ] || { echo "config file not found: $1" >&2; exit 2; }
# Paths are the caller's; DIST_DIR's default is the repository's.
config=$(realpath "$1")
bins=$(realpath "$2")
dist=$(realpath -m "${3:-$(dirname "$0")/../infra/dist}")
for f in ingress handler egress; do
  bin=$bins/clawhooks-$f
  [ -x "$bin" ] || { echo "no executable $bin (build it first)" >&2; exit 2; }
  dir=$dist/$f
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$bin" "$dir/bootstrap"
  cp "$config" "$dir/clawhooks.json"
  chmod 0755 "$dir/bootstrap"
  chmod 0644 "$dir/clawhooks.json"
done
echo "$dist/{ingress,handler,egress}: bootstrap from $bins, clawhooks.json from $config"
