#!/usr/bin/env bash
# Identity benchmark: authenticated GET /v1/users/me against the bare /health/live route in the
# same run (the ratio is the figure), with sessions remembered (the default,
# identity.session.cache.seconds = 0.5) and asked of Redis on every request (= 0) by two servers
# side by side on the same database; then the login rate (bcrypt-bound). Uses wrk; the servers
# are release builds of `marketplace serve` on the local stack.
# BENCH_CALLGRIND=1 then counts instructions per request of each route under valgrind (the stable
# figure on a noisy machine): BENCH_CALLGRIND_REQUESTS requests after a warm-up, the server's
# threads only (Redis's own work is not in it).
#   scripts/bench-identity.sh   (BENCH_DURATION=10s BENCH_CONNECTIONS=32 BENCH_ROUNDS=2
#                                BENCH_CALLGRIND=0 BENCH_CALLGRIND_REQUESTS=2000)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh >/dev/null
scripts/stack.sh start >/dev/null
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product marketplace 2>&1 | tail -n 1
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

PORT="${BENCH_PORT:-18181}"
STRICT_PORT=$(( PORT + 1 ))
DURATION="${BENCH_DURATION:-10s}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
ROUNDS="${BENCH_ROUNDS:-2}"
URL="http://127.0.0.1:$PORT"
STRICT_URL="http://127.0.0.1:$STRICT_PORT"
export MONGO_DATABASE="bench_identity_$$" LOG_LEVEL=warning
SERVERS=()
trap 'for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null; done; wait 2>/dev/null || true' EXIT
start_server() {  # port, then environment assignments; waits until ready
  local port=$1; shift
  env HTTP_PORT="$port" "$@" .build/release/marketplace serve >"$ROOT/.stack/run/bench-serve-$port.log" 2>&1 &
  SERVERS+=("$!")
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && return 0; sleep 0.2; done
  echo "server on $port not ready: $(tail -n 2 "$ROOT/.stack/run/bench-serve-$port.log")" >&2; return 1
}
# One after the other: the first creates the signing keys the second then loads.
start_server "$PORT"
start_server "$STRICT_PORT" IDENTITY_SESSION_CACHE_SECONDS=0

EMAIL="bench-$$@example.com"
TOKEN=$(curl -sf -X POST "$URL/v1/auth/register" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"correct horse battery\",\"name\":\"Bench\",\"role\":\"client\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
curl -sf -H "Authorization: Bearer $TOKEN" "$STRICT_URL/v1/users/me" >/dev/null

run() { # label, then wrk arguments; prints "label rps p99"
  local label=$1; shift
  local out rps p99
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "$label $rps $p99"
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2 -c$CONNECTIONS -d$DURATION; commit $(git rev-parse --short HEAD)"
printf '%-44s %12s %10s\n' "route" "req/s" "p99"
for round in $(seq 1 "$ROUNDS"); do
  read -r _ bare_rps bare_p99 < <(run bare "$URL/health/live")
  read -r _ me_rps me_p99 < <(run me -H "Authorization: Bearer $TOKEN" "$URL/v1/users/me")
  read -r _ strict_rps strict_p99 < <(run strict -H "Authorization: Bearer $TOKEN" "$STRICT_URL/v1/users/me")
  printf '%-44s %12s %10s\n' "round $round /health/live" "$bare_rps" "$bare_p99" \
    "round $round /v1/users/me (sessions remembered)" "$me_rps" "$me_p99" \
    "round $round /v1/users/me (Redis every request)" "$strict_rps" "$strict_p99"
  python3 -c "print('round $round ratio users/me : bare = %.2fx remembered, %.2fx Redis every request' % ($me_rps / $bare_rps, $strict_rps / $bare_rps))"
done

cat >"$ROOT/.stack/run/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$EMAIL","password":"correct horse battery"}'
LUA
read -r _ login_rps login_p99 < <(run login -s "$ROOT/.stack/run/login.lua" "$URL/v1/auth/login")
printf '%-44s %12s %10s\n' "POST /v1/auth/login" "$login_rps" "$login_p99"

[ "${BENCH_CALLGRIND:-0}" = 1 ] || exit 0
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
REQUESTS="${BENCH_CALLGRIND_REQUESTS:-2000}"
CG_PORT=$(( PORT + 2 ))
count_instructions() {  # label, cache seconds, path, [token]: instructions per request
  local label=$1 cache=$2 path=$3 token=${4:-} out="$ROOT/.stack/run/callgrind-identity-$1.out"
  rm -f "$out"
  env HTTP_PORT="$CG_PORT" IDENTITY_SESSION_CACHE_SECONDS="$cache" \
    valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out" .build/release/marketplace serve \
    >"$ROOT/.stack/run/bench-callgrind-$label.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$CG_PORT/health/ready" >/dev/null && break; sleep 0.5; done
  local header=()
  [ -n "$token" ] && header=(-H "Authorization: Bearer $token")
  # One keep-alive connection: a config file of URLs for one curl process.
  for _ in $(seq 1 "$REQUESTS"); do printf 'url = "http://127.0.0.1:%s%s"\noutput = /dev/null\n' "$CG_PORT" "$path"; done >"$ROOT/.stack/run/callgrind-urls"
  curl -s "${header[@]}" -K <(head -n 200 "$ROOT/.stack/run/callgrind-urls")  # warm-up: 100 requests
  callgrind_control -i on "$pid" >/dev/null
  curl -s "${header[@]}" -K "$ROOT/.stack/run/callgrind-urls"
  callgrind_control -i off "$pid" >/dev/null
  callgrind_control -d "$pid" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local total
  total=$(cat "$out"* | awk '/^totals:/ {s += $2} END {print s}')
  python3 -c "print('%-44s %12.0f instructions per request' % ('$label', $total / $REQUESTS))"
}
echo "callgrind: $REQUESTS requests per route, one keep-alive connection"
count_instructions bare 0.5 /health/live
count_instructions users-me-remembered 0.5 /v1/users/me "$TOKEN"
count_instructions users-me-redis-every-request 0 /v1/users/me "$TOKEN"
