#!/usr/bin/env bash
# Local servers for development and tests: Tansu (Kafka), SecantusDB (MongoDB), Redis, and moto's
# server for AWS (S3, SNS), aiosmtpd as the SMTP sink (messages in .stack/mail, a Maildir) and
# localstripe (a stateful Stripe emulator; its state starts empty at each start).
# Loopback only; pids, data and logs under .stack/run (git-ignored; STACK_RUN moves them).
#   scripts/stack.sh start|stop|status|restart [s3|kafka|mongo|redis|aws|smtp|stripe]
# Ports: KAFKA_PORT (9092), MONGO_PORT (27017), REDIS_PORT (6379), AWS_PORT (5055), SMTP_PORT (2525),
# STRIPE_PORT (8420), S3_PORT (9400).
# Profiles (STACK_PROFILE):
#   memory (default) - fast and forgetful: Tansu on memory://, SecantusDB :memory:, Redis without
#                      persistence. The test suite runs on it.
#   durable          - the servers keep their data across kill -9 (the fault run): SecantusDB in a
#                      data directory with --sync-on-commit, Redis with an fsync'd AOF, and Tansu on
#                      s3:// over localbucket (a local S3 writing to $STACK_RUN/s3), started first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STACK="$ROOT/.stack"
RUN="${STACK_RUN:-$STACK/run}"
PROFILE="${STACK_PROFILE:-memory}"
case $PROFILE in memory|durable) ;; *) echo "stack: STACK_PROFILE must be memory or durable, not '$PROFILE'" >&2; exit 2 ;; esac
S3_PORT="${S3_PORT:-9400}"
mkdir -p "$RUN"
KAFKA_PORT="${KAFKA_PORT:-9092}"
MONGO_PORT="${MONGO_PORT:-27017}"
REDIS_PORT="${REDIS_PORT:-6379}"
AWS_PORT="${AWS_PORT:-5055}"
SMTP_PORT="${SMTP_PORT:-2525}"
MAILDIR="${SMTP_MAILDIR:-$STACK/mail}"
STRIPE_PORT="${STRIPE_PORT:-8420}"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # name port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    if port_open "$2"; then return 0; fi
    sleep 0.1
  done
  echo "stack: $1 did not answer on port $2 within $3 s; log: $RUN/$1.log" >&2
  tail -n 20 "$RUN/$1.log" >&2 || true
  return 1
}

running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start_one() {
  local name=$1
  if running "$name"; then echo "stack: $name already running (pid $(cat "$RUN/$name.pid"))"; return 0; fi
  case $name in
    s3)
      [ "$PROFILE" = durable ] || { echo "stack: s3 (localbucket) belongs to the durable profile" >&2; return 2; }
      port_open "$S3_PORT" && { echo "stack: port $S3_PORT busy" >&2; return 1; }
      mkdir -p "$RUN/s3/tansu"  # a bucket is a folder; Tansu needs it to exist
      # scripts/lib/local_s3.py: TCP_NODELAY, and a LIST that reads only its prefix's folder.
      nohup "$STACK/venv/bin/python" "$ROOT/scripts/lib/local_s3.py" "$RUN/s3" --port "$S3_PORT" >"$RUN/s3.log" 2>&1 &
      echo $! >"$RUN/s3.pid"
      wait_port s3 "$S3_PORT" 20 ;;
    kafka)
      port_open "$KAFKA_PORT" && { echo "stack: port $KAFKA_PORT busy" >&2; return 1; }
      if [ "$PROFILE" = durable ]; then
        # Any key values do; without them Tansu asks the cloud metadata address for credentials.
        AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 \
        AWS_ENDPOINT="http://127.0.0.1:$S3_PORT" AWS_ALLOW_HTTP=true \
        nohup "$STACK/bin/tansu" broker \
          --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
          --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
          --storage-engine s3://tansu/ >>"$RUN/kafka.log" 2>&1 &
      else
        nohup "$STACK/bin/tansu" broker \
          --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
          --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
          --storage-engine memory://tansu/ >"$RUN/kafka.log" 2>&1 &
      fi
      echo $! >"$RUN/kafka.pid"
      wait_port kafka "$KAFKA_PORT" 20 ;;
    mongo)
      port_open "$MONGO_PORT" && { echo "stack: port $MONGO_PORT busy" >&2; return 1; }
      if [ "$PROFILE" = durable ]; then
        mkdir -p "$RUN/mongo-data"
        nohup "$STACK/venv/bin/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" \
          --storage-path "$RUN/mongo-data" --sync-on-commit >>"$RUN/mongo.log" 2>&1 &
      else
        nohup "$STACK/venv/bin/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" \
          --storage-path :memory: >"$RUN/mongo.log" 2>&1 &
      fi
      echo $! >"$RUN/mongo.pid"
      wait_port mongo "$MONGO_PORT" 30 ;;
    redis)
      port_open "$REDIS_PORT" && { echo "stack: port $REDIS_PORT busy" >&2; return 1; }
      if [ "$PROFILE" = durable ]; then
        nohup redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
          --dir "$RUN" >>"$RUN/redis.log" 2>&1 &
      else
        nohup redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
          --dir "$RUN" >"$RUN/redis.log" 2>&1 &
      fi
      echo $! >"$RUN/redis.pid"
      wait_port redis "$REDIS_PORT" 10 ;;
    aws)
      port_open "$AWS_PORT" && { echo "stack: port $AWS_PORT busy" >&2; return 1; }
      nohup "$STACK/venv/bin/python" -m moto.server -H 127.0.0.1 -p "$AWS_PORT" >"$RUN/aws.log" 2>&1 &
      echo $! >"$RUN/aws.pid"
      wait_port aws "$AWS_PORT" 30 ;;
    smtp)
      port_open "$SMTP_PORT" && { echo "stack: port $SMTP_PORT busy" >&2; return 1; }
      mkdir -p "$MAILDIR/tmp" "$MAILDIR/new" "$MAILDIR/cur"
      nohup "$STACK/venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$MAILDIR" >"$RUN/smtp.log" 2>&1 &
      echo $! >"$RUN/smtp.pid"
      wait_port smtp "$SMTP_PORT" 30 ;;
    stripe)
      port_open "$STRIPE_PORT" && { echo "stack: port $STRIPE_PORT busy" >&2; return 1; }
      # localstripe's own CLI binds every interface and reloads a pickled state: bind loopback, start empty.
      nohup "$STACK/venv/bin/python" -c "from aiohttp import web; import localstripe.server as s; web.run_app(s.app, host='127.0.0.1', port=$STRIPE_PORT)" \
        >"$RUN/stripe.log" 2>&1 &
      echo $! >"$RUN/stripe.pid"
      wait_port stripe "$STRIPE_PORT" 30 ;;
    *) echo "stack: unknown server $name" >&2; return 2 ;;
  esac
  echo "stack: $name started (pid $(cat "$RUN/$name.pid"))"
}

stop_one() {
  local name=$1 pid i
  if running "$name"; then
    pid=$(cat "$RUN/$name.pid")
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "stack: $name stopped"
  fi
  rm -f "$RUN/$name.pid"
}

status_one() {
  if running "$1"; then echo "$1: running (pid $(cat "$RUN/$1.pid"))"; else echo "$1: stopped"; fi
}

cmd=${1:-status}; shift || true
servers=("$@")
if [ ${#servers[@]} -eq 0 ]; then
  if [ "$PROFILE" = durable ]; then servers=(s3 kafka mongo redis aws smtp stripe); else servers=(kafka mongo redis aws smtp stripe); fi
fi
case $cmd in
  start) [ -x "$STACK/bin/tansu" ] || "$ROOT/scripts/bootstrap.sh"
         for s in "${servers[@]}"; do start_one "$s"; done ;;
  stop) for ((i = ${#servers[@]} - 1; i >= 0; i--)); do stop_one "${servers[i]}"; done ;;
  kill) for s in "${servers[@]}"; do  # SIGKILL: what a crash leaves behind (the fault run)
          if running "$s"; then kill -9 "$(cat "$RUN/$s.pid")"; echo "stack: $s killed"; fi; rm -f "$RUN/$s.pid"; done ;;
  restart) for s in "${servers[@]}"; do stop_one "$s"; start_one "$s"; done ;;
  status) for s in "${servers[@]}"; do status_one "$s"; done ;;
  env) echo "export LD_LIBRARY_PATH=$STACK/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" ;;
  *) echo "usage: $0 start|stop|kill|restart|status|env [s3|kafka|mongo|redis|aws|smtp|stripe]" >&2; exit 2 ;;
esac
