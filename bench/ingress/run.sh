#!/usr/bin/env bash
# Ingress throughput and latency of `clawhooks serve` (release build, SQLite
# backend on disk, ingress only) in both durability modes ("normal": a 2xx
# survives a process crash; "fsync": it survives power loss too) against a
# bare hyper server that only answers 202, all loaded by wrk over loopback
# in the same run.
#
#   bench/ingress/run.sh            # 10 s per run
#   DURATION=30 bench/ingress/run.sh
#   CLAWHOOKS_BIN=/tmp/old/clawhooks bench/ingress/run.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p clawhooks-local --bin clawhooks --example bare_202
target=${CARGO_TARGET_DIR:-target}/release
server=${CLAWHOOKS_BIN:-$target/clawhooks}
echo "server: $server"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

for mode in normal fsync; do
  cat > "$work/$mode.json" <<JSON
{"webhooks": {"incoming": {"secret": "bench-secret", "durability": "$mode"},
  "handlers": [{"id": "github", "path": "/github", "action": "send_message",
    "target": {"channel": "discord", "peer": "dev"}, "template": "{{event.action}}"}]}}
JSON
done

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
for mode in normal fsync; do
  start "$mode" env RUST_LOG=error "$server" serve --config "$work/$mode.json" --db "$work/$mode.db" --port 0 --no-workers
done
start bare "$target/examples/bare_202"
normal=$(url_of normal); fsync=$(url_of fsync); bare=$(url_of bare)

load() { # url [delay_ms] [conns]
  WRK_DELAY_MS=${2:-0} wrk -t"$THREADS" -c"${3:-$CONNS}" -d"${DURATION}s" --latency -s bench/ingress/post.lua "$1/webhook/github" | grep '^RESULT'
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

echo "warming up"; load "$normal" >/dev/null; load "$fsync" >/dev/null; load "$bare" >/dev/null
b=$(load "$bare"); n=$(load "$normal"); f=$(load "$fsync")
brps=$(field rps "$b"); nrps=$(field rps "$n"); frps=$(field rps "$f")
echo "bare hyper 202   : $b"
echo "clawhooks normal : $n"
echo "clawhooks fsync  : $f"
awk -v n="$nrps" -v f="$frps" -v b="$brps" 'BEGIN {
  printf "ratio            : normal at %.1f%%, fsync at %.1f%% of the bare server (goal >= 50%%); fsync at %.1f%% of normal\n", 100 * n / b, 100 * f / b, 100 * f / n }'

# Half of each mode's peak, paced: each connection waits DELAY ms between
# requests, so the offered rate is about connections * 1000 / (DELAY + latency).
delay=10
paced() { # rps: half of it, as the connections of the paced load
  awk -v r="$1" -v d="$delay" 'BEGIN { n = r / 2 * d / 1000; if (n < 1) n = 1; printf "%d", n + 0.5 }'
}
nconns=$(paced "$nrps"); fconns=$(paced "$frps")
echo "normal @half     : $(load "$normal" "$delay" "$nconns") (target ~$(awk -v r="$nrps" 'BEGIN { printf "%d", r / 2 }') req/s: $nconns connections, ${delay} ms apart; goal p99 < 5 ms)"
echo "fsync @half      : $(load "$fsync" "$delay" "$fconns") (target ~$(awk -v r="$frps" 'BEGIN { printf "%d", r / 2 }') req/s: $fconns connections, ${delay} ms apart)"
# The same paced load on the bare server: the floor this machine and wrk's
# pacing put under any p99 (connections answered together send together).
echo "bare @normal pace: $(load "$bare" "$delay" "$nconns")"
for mode in normal fsync; do
  queued=$(sqlite3 "$work/$mode.db" "select count(*) from messages" 2>/dev/null || echo "?")
  echo "hooks queued ($mode): $queued"
done
