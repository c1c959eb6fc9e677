#!/usr/bin/env bash
# Realtime gateway benchmark: a release gateway (`marketplace worker realtime-gateway`) on the
# local stack, loaded by `marketplace bench realtime` from another process: connections held and
# RSS per connection, deliveries/s with 1k and 10k subscribers, end-to-end latency at a fixed
# rate against a bare Kafka consumer of the same records (the ceiling).
#   scripts/bench-realtime.sh   (BENCH_CONNECTIONS=19000 BENCH_SUBSCRIBERS="1000 10000" BENCH_RATE=1000 BENCH_LATENCY_SUBSCRIBERS=10)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh >/dev/null
scripts/stack.sh start >/dev/null
swift build -c release --product marketplace 2>&1 | tail -n 1
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ulimit -n "$(ulimit -Hn)"

export KAFKA_TOPIC_PREFIX="bench-$$."
export MONGO_DATABASE="bench_realtime_$$"
export HTTP_PORT="${BENCH_HTTP_PORT:-18182}" REALTIME_PORT="${BENCH_WS_PORT:-18183}" LOG_LEVEL=warning
.build/release/marketplace topics apply >/dev/null
.build/release/marketplace worker realtime-gateway >"$ROOT/.stack/run/bench-gateway.log" 2>&1 &
GATEWAY=$!
trap 'kill $GATEWAY 2>/dev/null; wait $GATEWAY 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$REALTIME_PORT/health/ready" >/dev/null && break; sleep 0.2; done

# shellcheck disable=SC2086
.build/release/marketplace bench realtime --url "ws://127.0.0.1:$REALTIME_PORT/connection/websocket" --gateway-pid "$GATEWAY" \
  --connections "${BENCH_CONNECTIONS:-19000}" --subscribers ${BENCH_SUBSCRIBERS:-1000 10000} --publications "${BENCH_PUBLICATIONS:-200}" \
  --latency-subscribers "${BENCH_LATENCY_SUBSCRIBERS:-10}" --rate "${BENCH_RATE:-1000}" --seconds "${BENCH_SECONDS:-10}"
