#!/usr/bin/env bash
# Payments benchmark (release build, the local servers): Stripe webhook intake — signature
# verified, raw event stored, 2xx — through the service and through HTTP, beside a raw libmongoc
# insert loop of the same documents in the same run; signature verification alone.
#   scripts/bench-payments.sh   (BENCH_EVENTS=1000 BENCH_ROUNDS=3)
set -euo pipefail
. "$(dirname "$0")/bench-prelude.sh" marketplace-bench
export MONGO_DATABASE="bench_payments_$$" KAFKA_TOPIC_PREFIX="bench-$$." LOG_LEVEL=warning
.build/release/marketplace-bench payments --events "${BENCH_EVENTS:-1000}" --rounds "${BENCH_ROUNDS:-3}" 2>&1 | grep -v '^%'
