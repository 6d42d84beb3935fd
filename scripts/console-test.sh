#!/usr/bin/env bash
# The web console in a real browser: Debian's chromium driven by
# playwright-core (npm, installed under the target directory, not into the
# repository). Installs what is missing, idempotently, and fails loudly if
# it cannot. Screenshots and the server's log land in target/console-test/.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
node_dir="$target/console-node"

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "console-test: chromium is missing and installing it needs root (apt-get install -y chromium)" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || { echo "console-test: could not install chromium" >&2; exit 1; }
fi
command -v node >/dev/null && command -v npm >/dev/null \
  || { echo "console-test: node and npm are needed (apt-get install -y nodejs npm)" >&2; exit 1; }

mkdir -p "$node_dir"
if ! cmp -s tests/console/package-lock.json "$node_dir/package-lock.json" \
  || [ ! -d "$node_dir/node_modules/playwright-core" ]; then
  cp tests/console/package.json tests/console/package-lock.json "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --silent) \
    || { echo "console-test: npm ci of playwright-core failed" >&2; exit 1; }
fi

cargo build -q -p clawhooks-local --bin clawhooks
CLAWHOOKS_BIN="$target/debug/clawhooks" NODE_DIR="$node_dir" OUT="$target/console-test" \
  node tests/console/console.test.mjs
