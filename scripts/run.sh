#!/usr/bin/env bash
# One command to run the platform locally: installs what is missing, starts Tansu, SecantusDB,
# Redis, moto (S3, SNS), aiosmtpd and localstripe on loopback, builds, applies topics/*.yaml and runs every service in one process
# (`marketplace dev`) on http://127.0.0.1:8080 until Ctrl-C. The servers keep running afterwards;
# `scripts/stack.sh stop` stops them.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh
scripts/stack.sh start
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The key-encryption key of the token-signing keys: generated once into the git-ignored stack
# folder (in production it comes from a Kubernetes Secret).
if [ -z "${IDENTITY_KEK:-}" ]; then
  [ -s "$ROOT/.stack/identity-kek" ] || (umask 077; head -c 32 /dev/urandom | base64 >"$ROOT/.stack/identity-kek")
  IDENTITY_KEK="$(cat "$ROOT/.stack/identity-kek")"
  export IDENTITY_KEK
fi
swift build --product marketplace
exec .build/debug/marketplace dev --topics topics "$@"
