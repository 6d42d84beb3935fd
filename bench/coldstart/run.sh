#!/usr/bin/env bash
# Cold-start init time of each Lambda function, as an emulator runs it: the
# `bootstrap` started as a host process (the way ministack runs
# provided.al2023 functions), from process start to its first
# `GET /runtime/invocation/next` on a stand-in Lambda Runtime API on
# 127.0.0.1, i.e. ready for its first event. Init does what it does when
# deployed: reads the bundled config, fetches its secrets from SSM (ministack,
# started here), builds the AWS clients and the outbound HTTP client.
#
#   bench/coldstart/run.sh                      # the deployed profile (lambda-zip), 7 runs each
#   PROFILE=dev RUNS=15 bench/coldstart/run.sh  # the debug builds the tests use
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${PROFILE:-lambda-zip}
runs=${RUNS:-7}
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --profile "$profile" -p clawhooks-ingress -p clawhooks-handler -p clawhooks-egress
dir=$profile; [ "$profile" = dev ] && dir=debug
bins=$target/$dir

venv=$target/venvs/ministack-1.5.33
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv"; "$venv/bin/pip" install --quiet 'ministack==1.5.33'; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
BIND_HOST=127.0.0.1 GATEWAY_PORT=$port LOG_LEVEL=WARNING "$venv/bin/python" -m ministack >"$work/ministack.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 150); do curl -fsS "http://127.0.0.1:$port/_ministack/health" >/dev/null 2>&1 && break; sleep 0.2; done

exec python3 - "$bins" "$port" "$runs" "$work" <<'PY'
import http.server, json, os, statistics, subprocess, sys, threading, time, urllib.request

bins, port, runs, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
endpoint = f"http://127.0.0.1:{port}"

def aws(target, body):
    """One SSM call to ministack (JSON protocol), no SDK needed."""
    req = urllib.request.Request(endpoint + "/", data=json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AmazonSSM.{target}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=0"})
    urllib.request.urlopen(req).read()

secrets = {"ingress": ("CLAWHOOKS_WEBHOOK_SECRET", "s3cret"), "handler": ("DISCORD_BOT_TOKEN", "bot-1"),
           "egress": ("CLAWHOOKS_SIGNING_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")}
for fn, (name, value) in secrets.items():
    aws("PutParameter", {"Name": f"/bench/{fn}/{name}", "Value": value, "Type": "SecureString", "Overwrite": True})
config = {"webhooks": {
    "incoming": {"secret": "${CLAWHOOKS_WEBHOOK_SECRET}"},
    "handlers": [{"id": "gh", "action": "send_message", "template": "{{event.action}}", "target": {"channel": "discord"}}],
    "channels": {"discord": {"type": "discord", "botToken": "${DISCORD_BOT_TOKEN}", "channelId": "1"}},
    "outgoing": [{"id": "o", "url": "http://127.0.0.1:9/o", "secret": "${CLAWHOOKS_SIGNING_SECRET}"}]}}
with open(os.path.join(work, "clawhooks.json"), "w") as f:
    json.dump(config, f)

ready = threading.Event()
class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """The Lambda Runtime API's `next`: notes that the function asked, then holds."""
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            ready.set()
            time.sleep(0.5)
        self.send_response(500); self.end_headers()
    def log_message(self, *a): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
threading.Thread(target=server.serve_forever, daemon=True).start()

names = {"CLAWHOOKS_HANDLER_QUEUE_URL": f"{endpoint}/000000000000/b-handler.fifo",
         "CLAWHOOKS_HANDLER_DLQ_URL": f"{endpoint}/000000000000/b-handler-dlq.fifo",
         "CLAWHOOKS_EVENTS_QUEUE_URL": f"{endpoint}/000000000000/b-events.fifo",
         "CLAWHOOKS_EVENTS_DLQ_URL": f"{endpoint}/000000000000/b-events-dlq.fifo",
         "CLAWHOOKS_DELIVERY_QUEUE_URL": f"{endpoint}/000000000000/b-delivery",
         "CLAWHOOKS_DELIVERY_DLQ_URL": f"{endpoint}/000000000000/b-delivery-dlq",
         **{f"CLAWHOOKS_{t}_TABLE": f"b-{t.lower()}" for t in ["SESSIONS", "DEDUP", "EVENTS", "DELIVERIES", "LIMITS"]}}
print(f"cold start, process start -> first GET /runtime/invocation/next ({os.path.basename(bins)} builds, {runs} runs each, SSM secrets from ministack)")
for fn in ["ingress", "handler", "egress"]:
    env = {"PATH": os.environ["PATH"], "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_port}",
           "AWS_LAMBDA_FUNCTION_NAME": f"clawhooks-{fn}", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
           "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
           "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "LAMBDA_TASK_ROOT": work, "CLAWHOOKS_CONFIG": "clawhooks.json", "CLAWHOOKS_SECRETS_PATH": f"/bench/{fn}",
           "CLAWHOOKS_FUNCTION_TIMEOUT": "30" if fn == "ingress" else "180", "RUST_LOG": "warn", **names}
    took = []
    for _ in range(runs):
        ready.clear()
        start = time.monotonic()
        proc = subprocess.Popen([os.path.join(bins, f"clawhooks-{fn}")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not ready.wait(30):
            proc.kill(); sys.exit(f"clawhooks-{fn} never asked for an event: {proc.stderr.read().decode()[-2000:]}")
        took.append((time.monotonic() - start) * 1000)
        proc.kill(); proc.wait()
    print(f"  clawhooks-{fn:8} p50 {statistics.median(took):6.1f} ms  min {min(took):6.1f} ms  max {max(took):6.1f} ms")
PY
