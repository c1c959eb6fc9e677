# Starts the local servers on ports and a folder of their own (.stack/<name>, emptied first) for
# a long run beside a developer's stack, and stops them when the script exits. Sourced by
# scripts/fault.sh and scripts/soak.sh (ROOT set, working directory at the repository).
#   start_own_stack NAME KAFKA MONGO REDIS AWS SMTP STRIPE S3
# The ports are defaults: <NAME>_KAFKA_PORT, <NAME>_MONGO_PORT, ... override them.
start_own_stack() {
  local name=$1 prefix variable server
  prefix=$(tr '[:lower:]' '[:upper:]' <<<"$name")
  shift
  export STACK_RUN="$ROOT/.stack/$name"
  for server in KAFKA MONGO REDIS AWS SMTP STRIPE S3; do
    variable="${prefix}_${server}_PORT"
    export "${server}_PORT=${!variable:-$1}"
    shift
  done
  export SMTP_MAILDIR="$STACK_RUN/mail"
  scripts/stack.sh stop >/dev/null 2>&1 || true
  rm -rf "$STACK_RUN"
  mkdir -p "$STACK_RUN"
  trap 'scripts/stack.sh stop >/dev/null 2>&1 || true' EXIT
  scripts/stack.sh start
}
