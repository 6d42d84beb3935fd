#!/usr/bin/env bash
# The console's events page at scale on the embedded backend (SQLite file
# on disk): fills EVENTS event status records (one in a hundred from hook
# `rare`), then times through the router: the first page (GET
# /events?limit=50), the ten pages after it by cursor, a page filtered to
# the 1% hook, and a filter matching nothing (stops at the read bound).
#
#   bench/console/run.sh                  # 100,000 events, dev build
#   EVENTS=1000000 bench/console/run.sh
#   PROFILE=release bench/console/run.sh  # release build (a long compile)
#
# Prints: RESULT events=… fill_s=… first_page_ms=… next_10_pages_ms=…
#         filter_1pct_ms=… (scanned …) filter_none_ms=… (scanned …, boundHit)
set -euo pipefail
cd "$(dirname "$0")/../.."
CLAWHOOKS_SCALE_EVENTS=${EVENTS:-100000} RUST_LOG=error \
  cargo test -q --profile "${PROFILE:-dev}" -p clawhooks-local --test console \
  -- --ignored --nocapture --exact the_events_page_at_scale
