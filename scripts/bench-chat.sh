#!/usr/bin/env bash
# Chat benchmark (release build, one process with the local servers): message send (REST 201) →
# the other member's WebSocket at BENCH_RATE msg/s over BENCH_CONVERSATIONS conversations, beside
# a bare Kafka consumer of the same records (the floor); a history page (limit=50) beside a raw
# libmongoc find of the same documents, and the bare route /health/live.
#   scripts/bench-chat.sh   (BENCH_RATE=200 BENCH_CONVERSATIONS=100 BENCH_SECONDS=10 BENCH_PAGES=300)
set -euo pipefail
. "$(dirname "$0")/bench-prelude.sh" marketplace-bench
# bcrypt cost 4: registering the benchmark's users is setup, not the measured path.
export MONGO_DATABASE="bench_chat_$$" KAFKA_TOPIC_PREFIX="bench-$$." LOG_LEVEL=warning IDENTITY_BCRYPT_COST=4
.build/release/marketplace-bench chat --conversations "${BENCH_CONVERSATIONS:-100}" --rate "${BENCH_RATE:-200}" \
  --seconds "${BENCH_SECONDS:-10}" --pages "${BENCH_PAGES:-300}" 2>&1 | grep -v '^%'
