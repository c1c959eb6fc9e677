#!/usr/bin/env bash
# Identity benchmark: authenticated GET /v1/users/me against the bare /health/live route of the
# same server in the same run (the ratio is the figure), and the login rate (bcrypt-bound).
# Uses wrk; the server is a release build of `marketplace serve` on the local stack.
#   scripts/bench-identity.sh            (BENCH_DURATION=10s BENCH_CONNECTIONS=32 BENCH_ROUNDS=2)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh >/dev/null
scripts/stack.sh start >/dev/null
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product marketplace 2>&1 | tail -n 1
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

PORT="${BENCH_PORT:-18181}"
DURATION="${BENCH_DURATION:-10s}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
ROUNDS="${BENCH_ROUNDS:-2}"
URL="http://127.0.0.1:$PORT"
MONGO_DATABASE="bench_identity_$$" HTTP_PORT="$PORT" LOG_LEVEL=warning .build/release/marketplace serve >"$ROOT/.stack/run/bench-serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "$URL/health/ready" >/dev/null && break; sleep 0.2; done

EMAIL="bench-$$@example.com"
TOKEN=$(curl -sf -X POST "$URL/v1/auth/register" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"correct horse battery\",\"name\":\"Bench\",\"role\":\"client\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')

run() { # label, then wrk arguments; prints "label rps p99"
  local label=$1; shift
  local out rps p99
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "$label $rps $p99"
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2 -c$CONNECTIONS -d$DURATION"
printf '%-28s %12s %10s\n' "route" "req/s" "p99"
for round in $(seq 1 "$ROUNDS"); do
  read -r _ bare_rps bare_p99 < <(run bare "$URL/health/live")
  read -r _ me_rps me_p99 < <(run me -H "Authorization: Bearer $TOKEN" "$URL/v1/users/me")
  printf '%-28s %12s %10s\n' "round $round /health/live" "$bare_rps" "$bare_p99" "round $round /v1/users/me" "$me_rps" "$me_p99"
  python3 -c "print('round $round ratio users/me : bare = %.2fx' % ($me_rps / $bare_rps))"
done

cat >"$ROOT/.stack/run/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$EMAIL","password":"correct horse battery"}'
LUA
read -r _ login_rps login_p99 < <(run login -s "$ROOT/.stack/run/login.lua" "$URL/v1/auth/login")
printf '%-28s %12s %10s\n' "POST /v1/auth/login" "$login_rps" "$login_p99"
