#!/usr/bin/env bash
# A soak: the release `clawhooks serve` on a file, at a steady rate for a
# bounded time, with a short retention, so the reaper runs all along. Every
# minute it prints the database file's size, the WAL's, the server's RSS
# and open fds, and the accept p99 of that minute (POST to 202); at the end
# the plateau: the file's (with its WAL) largest size in the last third of
# the run against the first third's. A file that plateaus has a ratio near 1.
#
# Hooks are 600-byte JSON bodies to a handler-less hook, with one outgoing
# subscription to `message_received` on a sink in the load generator's
# process (python3, standard library only).
#
#   bench/soak/run.sh                           # 20 minutes, 20 hooks/s, 60 s retention
#   SOAK_SECS=180 RATE=50 RETENTION=30s bench/soak/run.sh
#   CLAWHOOKS_BIN=target/debug/clawhooks bench/soak/run.sh   # skip the release build
set -euo pipefail
cd "$(dirname "$0")/../.."
SOAK_SECS=${SOAK_SECS:-1200}
RATE=${RATE:-20}
RETENTION=${RETENTION:-60s}
if [ -z "${CLAWHOOKS_BIN:-}" ]; then
  cargo build --release -q -p clawhooks-local --bin clawhooks
  CLAWHOOKS_BIN=${CARGO_TARGET_DIR:-target}/release/clawhooks
fi
dir=$(mktemp -d -t clawhooks-soak-XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "soak: ${SOAK_SECS}s at ${RATE} hooks/s, retention ${RETENTION}, $CLAWHOOKS_BIN; load before: $(uptime)"
python3 - "$CLAWHOOKS_BIN" "$dir" "$SOAK_SECS" "$RATE" "$RETENTION" <<'PY'
import http.client, http.server, json, os, subprocess, sys, threading, time

binary, workdir, soak_secs, rate, retention = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]

class Sink(http.server.BaseHTTPRequestHandler):
    received = 0
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        Sink.received += 1
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass

sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
threading.Thread(target=sink.serve_forever, daemon=True).start()

db = os.path.join(workdir, "clawhooks.db")
config = os.path.join(workdir, "config.json")
with open(config, "w") as f:
    json.dump({"webhooks": {
        "incoming": {"secret": "soak", "dedupWindow": retention},
        "network": {"allowPrivate": True},
        "outgoing": [{"id": "sink", "url": f"http://127.0.0.1:{sink.server_address[1]}/in",
                      "events": ["message_received"]}],
        "retention": {"events": retention, "deliveries": retention, "deadLetters": retention},
    }}, f)
log = open(os.path.join(workdir, "server.log"), "w")
proc = subprocess.Popen([binary, "serve", "--port", "0", "--config", config, "--db", db],
                        stdout=subprocess.PIPE, stderr=log, text=True)
import atexit
atexit.register(lambda: proc.poll() is None and proc.kill())
line = proc.stdout.readline().strip()
if not line.startswith("clawhooks listening on "):
    sys.exit(f"the server did not start: {line!r}")
host, port = line.rsplit("//", 1)[1].split(":")
port = int(port)

body = json.dumps({"pad": "x" * 588})
assert 590 <= len(body) <= 610
lock = threading.Lock()
latencies, failures = [], [0]
stop = threading.Event()

def sender(share):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    interval = share / rate
    nxt = time.monotonic()
    while not stop.is_set():
        nxt += interval
        t0 = time.monotonic()
        try:
            conn.request("POST", "/webhook/soak", body,
                         {"Content-Type": "application/json", "X-Webhook-Secret": "soak"})
            r = conn.getresponse(); r.read()
            ok = r.status == 202
        except Exception:
            ok = False
            conn = http.client.HTTPConnection(host, port, timeout=30)
        with lock:
            if ok: latencies.append(time.monotonic() - t0)
            else: failures[0] += 1
        time.sleep(max(0.0, nxt - time.monotonic()))

senders = max(1, min(16, int(rate // 10) + 1))
for _ in range(senders):
    threading.Thread(target=sender, args=(senders,), daemon=True).start()

def size(p):
    try: return os.path.getsize(p)
    except OSError: return 0

def rss_mb():
    with open(f"/proc/{proc.pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"): return int(l.split()[1]) / 1024
    return 0.0

print(f"{'min':>4} {'hooks':>7} {'fail':>5} {'p99 ms':>8} {'db MB':>8} {'wal MB':>7} {'RSS MB':>7} {'fds':>5} {'delivered':>9}", flush=True)
start, samples, minute = time.monotonic(), [], 0
while time.monotonic() - start < soak_secs:
    time.sleep(min(60, soak_secs - (time.monotonic() - start)))
    minute += 1
    with lock:
        lat, failed = sorted(latencies), failures[0]
        latencies.clear(); failures[0] = 0
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000 if lat else float("nan")
    dbb, wal = size(db), size(db + "-wal")
    fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
    samples.append((time.monotonic() - start, dbb + wal))
    print(f"{minute:>4} {len(lat):>7} {failed:>5} {p99:>8.1f} {dbb/1e6:>8.2f} {wal/1e6:>7.2f} {rss_mb():>7.1f} {fds:>5} {Sink.received:>9}", flush=True)
stop.set()
proc.terminate(); proc.wait(timeout=60)
third = soak_secs / 3
first = [s for t, s in samples if t <= third + 1] or [samples[0][1]]
last = [s for t, s in samples if t >= 2 * third - 1] or [samples[-1][1]]
print(f"plateau: file+WAL max {max(last)/1e6:.2f} MB in the last third vs {max(first)/1e6:.2f} MB in the first "
      f"(ratio {max(last)/max(first):.2f})", flush=True)
PY
