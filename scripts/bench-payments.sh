#!/usr/bin/env bash
# Payments benchmark (release build, the local servers): Stripe webhook intake — signature
# verified, raw event stored, 2xx — through the service and through HTTP, beside a raw libmongoc
# insert loop of the same documents in the same run; signature verification alone.
#   scripts/bench-payments.sh   (BENCH_EVENTS=1000 BENCH_ROUNDS=3)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh >/dev/null
scripts/stack.sh start >/dev/null 2>&1 || true
swift build -c release --product marketplace-bench 2>&1 | tail -n 1
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export MONGO_DATABASE="bench_payments_$$" KAFKA_TOPIC_PREFIX="bench-$$." LOG_LEVEL=warning
.build/release/marketplace-bench payments --events "${BENCH_EVENTS:-1000}" --rounds "${BENCH_ROUNDS:-3}" 2>&1 | grep -v '^%'
