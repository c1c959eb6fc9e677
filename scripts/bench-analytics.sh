#!/usr/bin/env bash
# Analytics benchmark (release build, the local servers): the batched fold into MongoDB (events/s,
# events per database write) beside one upsert per event in the same run; the p50/p99 of a 90-day
# daily series of one provider with 1,000 providers' 90 days loaded.
#   scripts/bench-analytics.sh   (BENCH_EVENTS=5000 BENCH_BATCH=500 BENCH_PROVIDERS=1000 BENCH_QUERIES=200)
set -euo pipefail
. "$(dirname "$0")/bench-prelude.sh" marketplace-bench
export MONGO_DATABASE="bench_analytics_$$" KAFKA_TOPIC_PREFIX="bench-$$." LOG_LEVEL=warning
.build/release/marketplace-bench analytics --events "${BENCH_EVENTS:-5000}" --batch "${BENCH_BATCH:-500}" \
  --providers "${BENCH_PROVIDERS:-1000}" --queries "${BENCH_QUERIES:-200}" 2>&1 | grep -v '^%'
