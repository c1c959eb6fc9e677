#!/usr/bin/env bash
# The soak (docs/reliability.md): the platform as separate processes - `marketplace serve` and
# every `marketplace worker` - on a stack of its own (ports and folder .stack/soak), the fault
# run's load driver at a fixed rate for SOAK_SECONDS, and every 10 s each process's RSS and open
# descriptors, the connections to MongoDB, Redis and the broker, and the consumer groups' lag
# sampled (Tests/Python/soak_run.py). Exit 1 when a figure keeps growing or an effect is lost or
# doubled. Expects .build/debug/marketplace built (swift build).
#   scripts/soak.sh     SOAK_SECONDS=600 SOAK_WARMUP=120 FAULT_RATE=0.5 STACK_PROFILE=durable
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh >/dev/null
[ -x .build/debug/marketplace ] || swift build --product marketplace
# shellcheck source=lib/own-stack.sh
source "$ROOT/scripts/lib/own-stack.sh"
start_own_stack soak 19492 27417 6679 5355 2825 8720 9502

PROCESSES_API_PORT="${SOAK_API_PORT:-18480}"
# shellcheck source=lib/platform-processes.sh
source "$ROOT/scripts/lib/platform-processes.sh" "soak$(date +%s)"
if [ "${STACK_PROFILE:-memory}" = durable ]; then  # as scripts/fault.sh: Tansu over s3://
  export KAFKA_FETCH_WAIT_MAX_MS=500 KAFKA_PRODUCER_IDEMPOTENCE=false
fi
status=0
"$ROOT/.stack/venv/bin/python" "$ROOT/Tests/Python/soak_run.py" || status=$?
exit "$status"
