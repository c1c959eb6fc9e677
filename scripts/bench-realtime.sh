#!/usr/bin/env bash
# Realtime gateway benchmark: a release gateway (`marketplace worker realtime-gateway`) on the
# local stack, loaded by `marketplace-bench realtime` from another process: connections held and
# RSS per connection, deliveries/s with 1k and 10k subscribers, end-to-end latency at a fixed
# rate against a bare Kafka consumer of the same records (the ceiling). Then 20,000 connections
# across two gateway nodes on this machine: a process may hold at most `ulimit -Hn` descriptors
# (20,000 here, not raisable without CAP_SYS_RESOURCE), so one node tops out just below that.
#   scripts/bench-realtime.sh   (BENCH_CONNECTIONS=19900 BENCH_SUBSCRIBERS="1000 10000" BENCH_RATE=1000
#                                BENCH_LATENCY_SUBSCRIBERS=10 BENCH_TWO_NODE_CONNECTIONS=20000)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh >/dev/null
scripts/stack.sh start >/dev/null
for product in marketplace marketplace-bench; do swift build -c release --product "$product" 2>&1 | tail -n 1; done
BIN="$ROOT/.build/release/marketplace"
BENCH="$ROOT/.build/release/marketplace-bench"
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ulimit -n "$(ulimit -Hn)"

export KAFKA_TOPIC_PREFIX="bench-$$."
export MONGO_DATABASE="bench_realtime_$$"
export LOG_LEVEL=warning
PORT1="${BENCH_WS_PORT:-18183}"
"$BIN" topics apply >/dev/null
GATEWAYS=()
trap 'for pid in "${GATEWAYS[@]}"; do kill "$pid" 2>/dev/null; done; wait 2>/dev/null || true' EXIT
start_gateway() {  # WebSocket port → pid in GATEWAY (the worker's own HTTP port is 100 above)
  HTTP_PORT=$(( $1 + 100 )) REALTIME_PORT="$1" "$BIN" worker realtime-gateway >"$ROOT/.stack/run/bench-gateway-$1.log" 2>&1 &
  GATEWAY=$!
  GATEWAYS+=("$GATEWAY")
  for _ in $(seq 1 150); do
    kill -0 "$GATEWAY" 2>/dev/null || { echo "gateway on port $1 exited: $(tail -n 1 "$ROOT/.stack/run/bench-gateway-$1.log")" >&2; return 1; }
    curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null && return 0; sleep 0.2
  done
  echo "gateway on port $1 not ready" >&2; return 1
}

start_gateway "$PORT1"; FIRST=$GATEWAY
# The deliveries/s ceiling: a bare NIO fan-out server in a process of its own (FanOutCeiling.swift).
CEILING_PORT=$(( PORT1 + 7 ))
"$BENCH" fanout-ceiling --port "$CEILING_PORT" --publications "${BENCH_PUBLICATIONS:-200}" &
GATEWAYS+=("$!")
# shellcheck disable=SC2086
"$BENCH" realtime --url "ws://127.0.0.1:$PORT1/connection/websocket" --gateway-pid "$FIRST" \
  --ceiling-url "ws://127.0.0.1:$CEILING_PORT/" \
  --connections "${BENCH_CONNECTIONS:-19900}" --subscribers ${BENCH_SUBSCRIBERS:-1000 10000} --publications "${BENCH_PUBLICATIONS:-200}" \
  --latency-subscribers "${BENCH_LATENCY_SUBSCRIBERS:-10}" --rate "${BENCH_RATE:-1000}" --seconds "${BENCH_SECONDS:-10}"

TWO_NODES="${BENCH_TWO_NODE_CONNECTIONS:-20000}"
if [ "$TWO_NODES" -gt 0 ]; then
  # Two fresh nodes (the first one's heap already grew during the runs above).
  PORT2=$(( PORT1 + 1 )) PORT3=$(( PORT1 + 2 ))
  start_gateway "$PORT2"; SECOND=$GATEWAY
  start_gateway "$PORT3"; THIRD=$GATEWAY
  echo "two nodes on this machine, $TWO_NODES connections (half on each, one load process per node):"
  LOADS=()
  rm -f "$ROOT"/.stack/run/bench-load-*.out
  for pair in "$PORT2:$SECOND" "$PORT3:$THIRD"; do
    "$BENCH" realtime --url "ws://127.0.0.1:${pair%%:*}/connection/websocket" --gateway-pid "${pair##*:}" \
      --connections $(( TWO_NODES / 2 )) --hold-seconds 20 --subscribers 0 --rate 0 >"$ROOT/.stack/run/bench-load-${pair%%:*}.out" &
    LOADS+=("$!")
  done
  # Both load processes report once all their connections are subscribed, then hold them: the
  # nodes' own gauges, read while both hold, show the total open at one moment.
  for _ in $(seq 1 600); do
    [ "$(cat "$ROOT"/.stack/run/bench-load-*.out 2>/dev/null | grep -c '^connections:')" -ge 2 ] && break; sleep 0.2
  done
  total=0
  for port in "$PORT2" "$PORT3"; do
    sed "s/^/  node :$port  /" "$ROOT/.stack/run/bench-load-$port.out"
    open=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^realtime_connections /{print int($2)}')
    total=$(( total + ${open:-0} ))
  done
  echo "  open on both nodes at once (their realtime_connections gauges): $total"
  for pid in "${LOADS[@]}"; do wait "$pid"; done
fi
