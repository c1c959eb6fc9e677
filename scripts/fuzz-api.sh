#!/usr/bin/env bash
# Fuzzes the REST API from its own OpenAPI document with schemathesis, once with a token of each
# role (client, provider, admin), against a platform this script starts (`marketplace dev` on its
# own ports, database and topic prefix) on the local servers. Fails on any 5xx, any status code
# the document does not declare for the operation, and any response that breaks its schema or
# content type. Operations that end the fuzzing session itself (logout, deleting the account) are
# left out. The client and the provider share a real job (request, offer, acceptance through the
# workers), so the stateful phase follows the document's links from their jobs, requests and
# conversations into the operations on them.
#   scripts/fuzz-api.sh              (FUZZ_EXAMPLES=10 FUZZ_SEED=20261202 FUZZ_PORT=18080)
# Expects the servers running and .build/debug/marketplace built (scripts/test.sh does both).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PORT="${FUZZ_PORT:-18080}"
RUN="fuzz$$"
export HTTP_PORT="$PORT" REALTIME_PORT="$((PORT + 1))" MONGO_DATABASE="$RUN" KAFKA_TOPIC_PREFIX="$RUN." LOG_LEVEL=warning
export MARKETPLACE_ADMIN_PASSWORD="fuzz admin password 1!"
BASE="http://127.0.0.1:$PORT"
# The local servers on the ports scripts/test.sh uses (localstripe's webhooks back to this process).
export PAYMENTS_STRIPE_URL="${STRIPE_BASE_URL:-http://127.0.0.1:${STRIPE_PORT:-8420}}" PAYMENTS_WEBHOOK_URL="$BASE/v1/payments/webhooks/stripe"
export NOTIFICATIONS_SMTP_PORT="${SMTP_PORT:-2525}"
LOG="$ROOT/.stack/run/fuzz-api.log"
mkdir -p "$ROOT/.stack/run" "$ROOT/artifacts"

.build/debug/marketplace dev --topics topics >"$LOG" 2>&1 &
DEV=$!
trap 'kill "$DEV" 2>/dev/null || true; wait "$DEV" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -fs "$BASE/health/ready" >/dev/null 2>&1 && break
  kill -0 "$DEV" 2>/dev/null || { echo "fuzz-api: the platform did not start:"; tail -n 20 "$LOG"; exit 1; }
  sleep 1
done
curl -fs "$BASE/health/ready" >/dev/null || { echo "fuzz-api: the platform is not ready"; tail -n 20 "$LOG"; exit 1; }

.build/debug/marketplace users create-admin --email "admin-$RUN@example.com" >/dev/null
tokens="$(PYTHONPATH="$ROOT/Tests/Python" "$ROOT/.stack/venv/bin/python" - "$BASE" "$RUN" "$MARKETPLACE_ADMIN_PASSWORD" <<'PY'
import sys
import platform_api as api
base, run, admin_password = sys.argv[1:4]
admin = api.login(base, f"admin-{run}@example.com", admin_password)["accessToken"]
client, provider, job = api.assigned_job(base, admin, run)
print("client", client["accessToken"])
print("provider", provider["accessToken"])
print("admin", admin)
print(f"fuzz-api: seeded job {job} between the client and the provider", file=sys.stderr)
PY
)"

status=0
while read -r role token; do
  echo "fuzz-api: $role"
  if ! "$ROOT/.stack/venv/bin/schemathesis" run "$BASE/openapi.json" -H "Authorization: Bearer $token" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --phases examples,fuzzing,stateful --max-examples "${FUZZ_EXAMPLES:-10}" --seed "${FUZZ_SEED:-20261202}" --workers 2 \
      --suppress-health-check all --exclude-name "POST /v1/auth/logout" --exclude-name "DELETE /v1/users/me" \
      --report-junit-path "$ROOT/artifacts/fuzz-api-$role.xml" >"$ROOT/.stack/run/fuzz-api-$role.txt" 2>&1; then
    # schemathesis 4.3 marks a phase failed when Hypothesis reports a result it could not
    # reproduce on replay, even with no check failed and no error (schemathesis#4209, fixed
    # upstream in 4.20.2 by counting such a run as passed). Its JUnit report counts only what was
    # observed: with no failure and no error there, the run passed.
    junit="$ROOT/artifacts/fuzz-api-$role.xml"
    if grep -q '<testsuite [^>]*errors="0" failures="0"' "$junit" && ! grep -qE '<(failure|error)[ >]' "$junit"; then
      echo "fuzz-api: $role: a phase was marked failed with no failure or error in the report (schemathesis#4209): passed"
    else
      status=1
      sed -n '/= FAILURES =/,/= WARNINGS =/p' "$ROOT/.stack/run/fuzz-api-$role.txt" | head -n 80
    fi
  fi
  grep -E "Test cases:|generated" "$ROOT/.stack/run/fuzz-api-$role.txt" | tail -n 1 | sed "s/^/fuzz-api: $role: /"
done <<<"$tokens"
[ "$status" -eq 0 ] && echo "fuzz-api: no failures" || echo "fuzz-api: failures (full output in .stack/run/fuzz-api-<role>.txt)"
exit "$status"
