# The environment of the platform run as separate processes (`marketplace serve` and each
# `marketplace worker`, as on Kubernetes) against the stack that scripts/stack.sh started with the
# exported *_PORT variables. Sourced by scripts/fault.sh and scripts/soak.sh after the stack
# started; $1 names the run (topic prefix and database). The API listens on $PROCESSES_API_PORT.
RUN="$1"
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" KAFKA_TOPIC_PREFIX="$RUN." MONGO_DATABASE="$RUN"
export MONGO_URI="mongodb://127.0.0.1:$MONGO_PORT/?retryWrites=false&connectTimeoutMS=2000&socketTimeoutMS=10000&serverSelectionTimeoutMS=5000"
export REDIS_HOST=127.0.0.1 FAULT_API_PORT="$PROCESSES_API_PORT"
export REALTIME_PORT="$((PROCESSES_API_PORT + 1))" AWS_ENDPOINT="http://127.0.0.1:$AWS_PORT"
export PAYMENTS_STRIPE_URL="http://127.0.0.1:$STRIPE_PORT" PAYMENTS_WEBHOOK_URL="http://127.0.0.1:$PROCESSES_API_PORT/v1/payments/webhooks/stripe"
export NOTIFICATIONS_SMTP_PORT="$SMTP_PORT"
IDENTITY_KEK="$(head -c 32 /dev/urandom | base64)"
export IDENTITY_KEK
