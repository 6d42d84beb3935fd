#!/usr/bin/env bash
# The HTTP contract: schemathesis (PyPI, installed into a venv under the
# target directory) fuzzes every operation of the live local server's
# /openapi.json for a bounded number of cases. It must find no 5xx, every
# status, content type, header and body must match the document, and every
# admin operation must refuse a caller without the admin secret.
#
#   scripts/contract-test.sh            # reuses the debug build of `clawhooks`
#   EXAMPLES=50 scripts/contract-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
venv="$target/schemathesis-venv"
out="$target/contract-test"
mkdir -p "$out"

if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis>=4.3,<5"
fi
cargo build -q -p clawhooks-local --bin clawhooks

secret=contract-$RANDOM$RANDOM
admin=contract-admin-$RANDOM$RANDOM$RANDOM
cat >"$out/config.json" <<JSON
{"webhooks": {
  "incoming": {"secret": "$secret"},
  "admin": {"secret": "$admin"},
  "handlers": [{"id": "orders", "action": "none"},
               {"id": "persistent", "sessionMode": "persistent", "sessionKey": "s-{{id}}"}]
}}
JSON
"$target/debug/clawhooks" serve --memory --config "$out/config.json" --port 0 \
  >"$out/server.out" 2>"$out/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  base=$(sed -n 's/^clawhooks listening on //p' "$out/server.out")
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "${base:-}" ] || { echo "the server did not start:" >&2; cat "$out/server.log" >&2; exit 1; }

# Two runs: the fuzzing with the secrets (the hook secret in its header, the
# admin secret as the bearer; every check but ignored_auth), then each
# operation once without them. Unauthenticated requests count towards the
# source's lockout (20 a minute, then 429 for every failure, though never for
# a request with the right secret).
run() {
  # From the output dir: schemathesis keeps a cache in its working directory.
  (cd "$out" && "$venv/bin/schemathesis" run "$base/openapi.json" --request-timeout 10 --seed 1 \
    --generation-with-security-parameters false \
    --report junit --report-dir "$out" --no-color "$@") 2>&1 | tee -a "$out/schemathesis.txt"
}
: >"$out/schemathesis.txt"
run --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --header "X-Webhook-Secret: $secret" --header "Authorization: Bearer $admin" --max-examples "${EXAMPLES:-25}" --phases examples,coverage,fuzzing --mode positive
if grep -q "Rate limited" "$out/schemathesis.txt"; then
  echo "the authenticated run was rate limited: its answers were 429s, not the routes'" >&2
  exit 1
fi
# The lockout's window is a minute: the admin operations are probed in
# groups a window apart, each group under 20 failed authentications.
groups=('^/(events|sessions)' '^/dlq' '^/(deliveries|config|metrics|webhook|health)')
for i in "${!groups[@]}"; do
  [ "$i" -eq 0 ] || sleep 61
  run --checks ignored_auth --header "X-Webhook-Secret: $secret" --header "Authorization: Bearer $admin" --max-examples 1 --phases fuzzing \
    --include-path-regex "${groups[$i]}"
done
echo "contract: the live server matched its OpenAPI document ($out)"
