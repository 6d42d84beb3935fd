#!/usr/bin/env bash
# Ingress throughput and latency of `clawhooks serve` (release build, durable
# SQLite backend on disk, ingress only) against a bare hyper server that only
# answers 202, both loaded by wrk over loopback in the same run.
#
#   bench/ingress/run.sh            # 10 s per run
#   DURATION=30 bench/ingress/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p clawhooks-local --bin clawhooks --example bare_202
target=${CARGO_TARGET_DIR:-target}/release

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/config.json" <<'JSON'
{"webhooks": {"incoming": {"secret": "bench-secret"},
  "handlers": [{"id": "github", "path": "/github", "action": "send_message",
    "target": {"channel": "discord", "peer": "dev"}, "template": "{{event.action}}"}]}}
JSON

start() { # name command...: runs it in the background; its first stdout line ends with its URL
  local out=$work/$1.out; shift
  "$@" >"$out" 2>/dev/null & pids+=($!)
}
url_of() { # name
  local out=$work/$1.out
  for _ in $(seq 100); do grep -q 'http://' "$out" 2>/dev/null && break; sleep 0.1; done
  grep -o 'http://[^ ]*' "$out" | head -1
}

# Started here, not in $(...), so that the exit trap knows their pids.
start claw env RUST_LOG=error "$target/clawhooks" serve --config "$work/config.json" --db "$work/bench.db" --port 0 --no-workers
start bare "$target/examples/bare_202"
claw=$(url_of claw); bare=$(url_of bare)

load() { # url [delay_ms] [conns]
  WRK_DELAY_MS=${2:-0} wrk -t"$THREADS" -c"${3:-$CONNS}" -d"${DURATION}s" --latency -s bench/ingress/post.lua "$1/webhook/github" | grep '^RESULT'
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

echo "warming up"; load "$claw" >/dev/null; load "$bare" >/dev/null
b=$(load "$bare"); c=$(load "$claw")
brps=$(field rps "$b"); crps=$(field rps "$c")
echo "bare hyper 202 : $b"
echo "clawhooks      : $c"
awk -v c="$crps" -v b="$brps" 'BEGIN { printf "ratio          : clawhooks at %.1f%% of the bare server (goal >= 50%%)\n", 100 * c / b }'

# Half of clawhooks' peak, paced: each connection waits DELAY ms between
# requests, so the offered rate is about connections * 1000 / (DELAY + latency).
half=$(awk -v c="$crps" 'BEGIN { printf "%d", c / 2 }')
delay=10
conns2=$(awk -v h="$half" -v d="$delay" 'BEGIN { n = h * d / 1000; if (n < 1) n = 1; printf "%d", n + 0.5 }')
h=$(load "$claw" "$delay" "$conns2")
echo "clawhooks @half: $h (target ~${half} req/s: $conns2 connections, ${delay} ms apart; goal p99 < 5 ms)"
# The same paced load on the bare server: the floor this machine and wrk's
# pacing put under any p99 (connections answered together send together).
echo "bare @same pace: $(load "$bare" "$delay" "$conns2")"
queued=$(sqlite3 "$work/bench.db" "select count(*) from messages" 2>/dev/null || echo "?")
echo "hooks durably queued: $queued"
