#!/usr/bin/env bash
# Notifications benchmark (release build, one process with the local servers): e-mail and push
# through the whole pipeline (event → planner → relay → sender → aiosmtpd / moto SNS) beside the
# sinks' raw accept rates in the same run (our SMTP and SNS clients in a plain loop); event →
# in-app record on the fan-out topic at a fixed rate, p50/p99.
#   scripts/bench-notifications.sh   (BENCH_COUNT=300 BENCH_RATE=50 BENCH_SECONDS=10)
set -euo pipefail
. "$(dirname "$0")/bench-prelude.sh" marketplace-bench
# bcrypt cost 4: registering the benchmark's users is setup, not the measured path.
export MONGO_DATABASE="bench_notifications_$$" KAFKA_TOPIC_PREFIX="bench-$$." LOG_LEVEL=warning IDENTITY_BCRYPT_COST=4
.build/release/marketplace-bench notifications --count "${BENCH_COUNT:-300}" --rate "${BENCH_RATE:-50}" --seconds "${BENCH_SECONDS:-10}" \
  --maildir "${SMTP_MAILDIR:-$ROOT/.stack/mail}" --smtp-port "${SMTP_PORT:-2525}" 2>&1 | grep -v '^%'
