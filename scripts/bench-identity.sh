#!/usr/bin/env bash
# Identity benchmark: authenticated GET /v1/users/me against the bare /health/live route in the
# same run (the ratio is the figure), with sessions remembered (the default,
# identity.session.cache.seconds = 0.5) and asked of Redis on every request (= 0) by two servers
# side by side on the same database; then the login rate (bcrypt-bound). Uses wrk; the servers
# are release builds of `marketplace serve` on the local stack.
# Beside each rate: the server's CPU time per request (user + system, from /proc/<pid>/stat),
# steadier than the rate on a noisy machine. Instruction counts are not available here: this
# VM exposes no hardware counters to perf, and valgrind 3.19 (Debian 12) cannot read Swift 6.3's
# DWARF 5 and, with the debug info stripped, crashes inside libdispatch's start-up.
#   scripts/bench-identity.sh   (BENCH_DURATION=10s BENCH_CONNECTIONS=32 BENCH_ROUNDS=2)
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

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # label, server pid, then wrk arguments; prints "label rps p99 cpu-µs-per-request"
  local label=$1 pid=$2; shift 2
  local out rps p99 requests before after
  before=$(cpu_ticks "$pid")
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  after=$(cpu_ticks "$pid")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  echo "$label $rps $p99 $(python3 -c "print('%.1f' % (($after - $before) * 1e6 / $(getconf CLK_TCK) / $requests))")"
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2 -c$CONNECTIONS -d$DURATION; commit $(git rev-parse --short HEAD)"
printf '%-44s %12s %10s %14s\n' "route" "req/s" "p99" "server CPU/req"
for round in $(seq 1 "$ROUNDS"); do
  read -r _ bare_rps bare_p99 bare_cpu < <(run bare "${SERVERS[0]}" "$URL/health/live")
  read -r _ me_rps me_p99 me_cpu < <(run me "${SERVERS[0]}" -H "Authorization: Bearer $TOKEN" "$URL/v1/users/me")
  read -r _ strict_rps strict_p99 strict_cpu < <(run strict "${SERVERS[1]}" -H "Authorization: Bearer $TOKEN" "$STRICT_URL/v1/users/me")
  printf '%-44s %12s %10s %11s µs\n' "round $round /health/live" "$bare_rps" "$bare_p99" "$bare_cpu" \
    "round $round /v1/users/me (remembered)" "$me_rps" "$me_p99" "$me_cpu" \
    "round $round /v1/users/me (Redis every request)" "$strict_rps" "$strict_p99" "$strict_cpu"
  python3 -c "print('round $round ratio users/me : bare = %.2fx remembered, %.2fx Redis every request' % ($me_rps / $bare_rps, $strict_rps / $bare_rps))"
done

cat >"$ROOT/.stack/run/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$EMAIL","password":"correct horse battery"}'
LUA
read -r _ login_rps login_p99 _ < <(run login "${SERVERS[0]}" -s "$ROOT/.stack/run/login.lua" "$URL/v1/auth/login")
printf '%-44s %12s %10s\n' "POST /v1/auth/login" "$login_rps" "$login_p99"

