#!/usr/bin/env bash
# One command for the tests: installs what is missing, starts the real servers (Tansu, SecantusDB,
# Redis, moto's AWS server, aiosmtpd, localstripe) on loopback, builds, and runs every test against them. Servers it started are stopped
# at the end; servers that were already running are left alone.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

scripts/bootstrap.sh

started=()
for server in kafka mongo redis aws smtp stripe; do
  if ! scripts/stack.sh status "$server" | grep -q running; then
    scripts/stack.sh start "$server"
    started+=("$server")
  fi
done
cleanup() { [ ${#started[@]} -eq 0 ] || scripts/stack.sh stop "${started[@]}"; }
trap cleanup EXIT

# The tests (and the platform) find the servers through the same variables as production.
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}"
export MONGO_URI="${MONGO_URI:-mongodb://127.0.0.1:${MONGO_PORT:-27017}/?retryWrites=false&connectTimeoutMS=2000&socketTimeoutMS=10000&serverSelectionTimeoutMS=5000}"
export REDIS_HOST="${REDIS_HOST:-127.0.0.1}" REDIS_PORT="${REDIS_PORT:-6379}"
export AWS_ENDPOINT="${AWS_ENDPOINT:-http://127.0.0.1:${AWS_PORT:-5055}}"
export SMTP_HOST="${SMTP_HOST:-127.0.0.1}" SMTP_PORT="${SMTP_PORT:-2525}" SMTP_MAILDIR="${SMTP_MAILDIR:-$ROOT/.stack/mail}"
export STRIPE_BASE_URL="${STRIPE_BASE_URL:-http://127.0.0.1:${STRIPE_PORT:-8420}}"

# librdkafka >= 2.2 at run time (Debian's 2.0.2 cannot talk to Tansu); headers from Debian.
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

swift build --build-tests "$@"
if [ $# -gt 0 ]; then
  swift test --skip-build "$@"
else
  # The browser test on its own afterwards: Chromium's start-up would compete for this machine's
  # two cores with the suite's timing-sensitive tests.
  swift test --skip-build --skip dashboardInChromium
  swift test --skip-build --filter dashboardInChromium
fi
# The whole API fuzzed from its OpenAPI document with each role's token (not when the run is
# narrowed to some tests).
[ $# -gt 0 ] || scripts/fuzz-api.sh
# Coverage-guided fuzzing of the WebSocket command parser and the BSON reader, bounded.
[ $# -gt 0 ] || FUZZ_SECONDS="${FUZZ_SECONDS:-30}" scripts/fuzz-targets.sh
