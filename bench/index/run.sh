#!/usr/bin/env bash
# Indexed reads at scale on the embedded backend (SQLite file on disk):
# fills a sessions table and a delivery log of ROWS rows each, then times
# one idle-session sweep (it must end two idle `webhook:*` sessions whose
# keys sort after every other row) and one `clawhooks deliveries list
# --limit 5` run of the real binary (it must show the five newest
# attempts). Both read one end of the store's index, so their time does
# not grow with ROWS; the fill time does.
#
#   bench/index/run.sh                   # 1,000,000 rows each, dev build
#   ROWS=200000 bench/index/run.sh
#   PROFILE=release bench/index/run.sh   # release build (a long compile)
#
# Prints: RESULT table=sessions rows=… fill_s=… sweep_ms=…
#         RESULT table=deliveries rows=… fill_s=… recent_ms=… cli_ms=… cli_empty_db_ms=…
# recent_ms: the listing's read in process (`log::recent`, as `GET /deliveries`
# does it); cli_ms: the whole `clawhooks deliveries list` run, start to exit;
# cli_empty_db_ms: the same command on an empty database.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLAWHOOKS_SCALE_ROWS=${ROWS:-1000000} RUST_LOG=error \
  cargo test -q --profile "${PROFILE:-dev}" -p clawhooks-local --test indexed_queries \
  -- --ignored --nocapture --exact a_million_rows_each
