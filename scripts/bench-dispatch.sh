#!/usr/bin/env bash
# Dispatch benchmark: decision latency (request.created → offers + offer.sent committed) with
# 10k and 100k online providers in Redis, GEOSEARCH through our client, and the raw ceiling:
# redis-benchmark running the same GEOSEARCH on the same key of the same Redis, same run.
#   scripts/bench-dispatch.sh   (BENCH_PROVIDERS="10000 100000" BENCH_REQUESTS=200 BENCH_GEOSEARCHES=2000)
set -euo pipefail
. "$(dirname "$0")/bench-prelude.sh" marketplace-bench
export MONGO_DATABASE="bench_dispatch_$$" KAFKA_TOPIC_PREFIX="bench-$$." LOG_LEVEL=warning
REDIS_PORT="${REDIS_PORT:-6379}"

# shellcheck disable=SC2086
.build/release/marketplace-bench dispatch --providers ${BENCH_PROVIDERS:-10000 100000} --requests "${BENCH_REQUESTS:-200}" | tee /tmp/bench-dispatch.$$
grep '^geo key: ' /tmp/bench-dispatch.$$ | while read -r _ _ key; do
  rate=$(redis-benchmark -p "$REDIS_PORT" -n "${BENCH_GEOSEARCHES:-2000}" -c 1 -q GEOSEARCH "$key" FROMLONLAT -9.14 38.72 BYRADIUS 10 km ASC COUNT 24 WITHDIST |
    tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1)
  echo "raw GEOSEARCH on $key (redis-benchmark, 1 client): $rate"
  redis-cli -p "$REDIS_PORT" del "$key" >/dev/null
done
rm -f /tmp/bench-dispatch.$$
