#!/usr/bin/env bash
# The fault run (docs/reliability.md): starts the durable stack on its own ports and folder
# (.stack/fault, emptied first), runs the platform as separate processes - `marketplace serve` and
# every `marketplace worker` - with a load driver at a fixed rate, kills Redis, MongoDB, the broker
# and each process with SIGKILL one at a time mid-traffic, starts them again, and checks that
# nothing the API confirmed was lost or done twice (Tests/Python/fault_run.py). Exit 1 on a failed
# check. Expects .build/debug/marketplace built (swift build).
#   scripts/fault.sh     FAULT_RATE=0.5 FAULT_OUTAGE=5 FAULT_SETTLE=20 FAULT_TARGETS=redis,mongo,...
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh >/dev/null
[ -x .build/debug/marketplace ] || swift build --product marketplace
export STACK_PROFILE=durable
# shellcheck source=lib/own-stack.sh
source "$ROOT/scripts/lib/own-stack.sh"
start_own_stack fault 19392 27317 6579 5255 2725 8620 9402

PROCESSES_API_PORT="${FAULT_API_PORT:-18180}"
# shellcheck source=lib/platform-processes.sh
source "$ROOT/scripts/lib/platform-processes.sh" "fault$(date +%s)"
# Tansu on object storage answers consumers nothing below ~500 ms of fetch wait (../shared/ENVIRONMENT.md).
export KAFKA_FETCH_WAIT_MAX_MS=500
# Tansu on s3:// loses an idempotent producer's sequence state under concurrent writes ("out of
# order sequence number", fatal): at-least-once without it; the consumers' inboxes deduplicate.
export KAFKA_PRODUCER_IDEMPOTENCE=false
status=0
"$ROOT/.stack/venv/bin/python" "$ROOT/Tests/Python/fault_run.py" || status=$?
exit "$status"
