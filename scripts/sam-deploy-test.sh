#!/usr/bin/env bash
# Deploys infra/template.yaml itself with `sam deploy` into ministack and
# drives the deployed stack through its API Gateway URL
# (tests/tests/sam_deploy.rs, an ignored test this script runs).
#
# The tools come from PyPI, pinned, into venvs under the target directory,
# made once: ministack[full] (its `full` extra brings the SAM transform),
# aws-sam-cli and awscli (each in its own venv: their boto pins conflict).
# ministack gets AWS_ENDPOINT_URL in its own environment: it hands it to
# the Lambda processes it runs, so their SDK calls come back to it. The
# functions are the debug host builds `cargo test --workspace` made.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
start=$(date +%s)

venv() { # venv NAME PIP-SPEC... -> $target/venvs/NAME, made once
  local dir=$target/venvs/$1
  shift
  if [ ! -f "$dir/.installed" ]; then
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet "$@"
    touch "$dir/.installed"
  fi
  echo "$dir"
}
ministack=$(venv ministack-full-1.5.33 'ministack[full]==1.5.33')
sam=$(venv sam-1.170.0 'aws-sam-cli==1.170.0')
awscli=$(venv awscli-1.46.3 'awscli==1.46.3')

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint=http://127.0.0.1:$port
logs=$target/emulator-logs
mkdir -p "$logs"
log=$logs/sam-deploy-$port.log
export AWS_ENDPOINT_URL=$endpoint AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test SAM_CLI_TELEMETRY=0
# setsid: ministack leads its own process group, so stopping the group
# stops the Lambda processes it started too.
BIND_HOST=127.0.0.1 GATEWAY_PORT=$port LOG_LEVEL=WARNING \
  setsid "$ministack/bin/python" -m ministack >"$log" 2>&1 &
emulator=$!
stop() { kill -TERM -- "-$emulator" 2>/dev/null || true; wait "$emulator" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 1 300); do
  curl -fsS "$endpoint/_ministack/health" >/dev/null 2>&1 && break
  kill -0 "$emulator" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "$endpoint/_ministack/health" >/dev/null || { echo "ministack is not healthy; see $log" >&2; exit 1; }

bucket=clawhooks-sam-deploy
"$awscli/bin/aws" s3 mb "s3://$bucket" >/dev/null

# The same flags as scripts/test.sh's cargo test: one shared build.
CLAWHOOKS_SAM_ENDPOINT=$endpoint CLAWHOOKS_SAM_BIN=$sam/bin/sam \
  CLAWHOOKS_AWS_BIN=$awscli/bin/aws CLAWHOOKS_SAM_BUCKET=$bucket \
  cargo test --workspace --features clawhooks-local/aws,clawhooks-local/failpoints --test sam_deploy -- --ignored --nocapture \
  || { echo "the deploy test failed; ministack's log: $log" >&2; exit 1; }
echo "sam deploy test passed in $(( $(date +%s) - start )) s (ministack log: $log)"
