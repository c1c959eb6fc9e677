#!/usr/bin/env bash
# The WebSocket abuse run (docs/reliability.md): starts the platform (`marketplace dev` on its own
# ports, database and topic prefix) on the local servers and runs Tests/Python/ws_abuse.py
# against its gateway: connect storms, malformed frames, subscribe floods and slow readers while
# a real job's client receives its provider's positions. Exit 1 on a failed check.
#   scripts/ws-abuse.sh          (ABUSE_SCALE=1 ABUSE_PORT=18280)
# Expects the servers running (scripts/stack.sh start) and .build/debug/marketplace built.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PORT="${ABUSE_PORT:-18280}"
RUN="abuse$$"
export HTTP_PORT="$PORT" REALTIME_PORT="$((PORT + 1))" MONGO_DATABASE="$RUN" KAFKA_TOPIC_PREFIX="$RUN." LOG_LEVEL=warning
export PAYMENTS_STRIPE_URL="${STRIPE_BASE_URL:-http://127.0.0.1:${STRIPE_PORT:-8420}}" PAYMENTS_WEBHOOK_URL="http://127.0.0.1:$PORT/v1/payments/webhooks/stripe"
export NOTIFICATIONS_SMTP_PORT="${SMTP_PORT:-2525}"
LOG="$ROOT/.stack/run/ws-abuse.log"
mkdir -p "$ROOT/.stack/run"
.build/debug/marketplace dev --topics topics >"$LOG" 2>&1 &
DEV=$!
trap 'kill "$DEV" 2>/dev/null || true; wait "$DEV" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break
  kill -0 "$DEV" 2>/dev/null || { echo "ws-abuse: the platform did not start:"; tail -n 20 "$LOG"; exit 1; }
  sleep 1
done
export ABUSE_BASE="http://127.0.0.1:$PORT" ABUSE_WS_PORT="$((PORT + 1))" ABUSE_PID="$DEV" ABUSE_BINARY="$ROOT/.build/debug/marketplace"
"$ROOT/.stack/venv/bin/python" "$ROOT/Tests/Python/ws_abuse.py"
