#!/usr/bin/env bash
# Lints infra/template.yaml offline, with no AWS credentials: cfn-lint and
# `sam validate --lint` catch different mistakes, so both run. The tools
# come from PyPI into a venv under the target directory, made once.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
venv=$target/venvs/infra-lint
if [ ! -x "$venv/bin/sam" ] || [ ! -x "$venv/bin/cfn-lint" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'aws-sam-cli==1.170.0' 'cfn-lint==1.58.0'
fi
"$venv/bin/cfn-lint" infra/template.yaml
# sam wants a region even offline; any region works for validation.
AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0 \
  "$venv/bin/sam" validate --lint --template-file infra/template.yaml
echo "infra/template.yaml: cfn-lint and sam validate --lint passed"
