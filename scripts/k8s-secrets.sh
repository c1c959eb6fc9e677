#!/usr/bin/env bash
# Creates (or updates) the Secrets the Deployments reference, from values in the environment or
# files — never from the repository:
#   marketplace-secrets   IDENTITY_KEK (generated when unset and the Secret does not exist yet),
#                         PAYMENTS_STRIPE_SECRET_KEY, PAYMENTS_WEBHOOK_SECRETS, AWS_ACCESS_KEY_ID,
#                         AWS_SECRET_ACCESS_KEY, NOTIFICATIONS_SMTP_USERNAME, NOTIFICATIONS_SMTP_PASSWORD
#   marketplace-tls       the ingress certificate: TLS_CERT and TLS_KEY (paths to PEM files)
# Usage: PAYMENTS_STRIPE_SECRET_KEY=sk_live_... ... scripts/k8s-secrets.sh [--dry-run]
#   (--dry-run prints the objects, values base64-encoded as Kubernetes stores them, instead of applying)
set -euo pipefail
NAMESPACE="${NAMESPACE:-marketplace}"
KUBECTL="${KUBECTL:-kubectl}"
apply() { if [ "${1:-}" = "--dry-run" ]; then cat; else "$KUBECTL" apply -f -; fi; }

if [ -z "${IDENTITY_KEK:-}" ]; then
  if [ "${1:-}" != "--dry-run" ] && "$KUBECTL" -n "$NAMESPACE" get secret marketplace-secrets >/dev/null 2>&1; then
    # Keep the key the token-signing keys are encrypted with (rotate it with IDENTITY_KEK_PREVIOUS).
    IDENTITY_KEK="$("$KUBECTL" -n "$NAMESPACE" get secret marketplace-secrets -o jsonpath='{.data.IDENTITY_KEK}' | base64 -d)"
  else
    IDENTITY_KEK="$(head -c 32 /dev/urandom | base64)"
  fi
fi
required=(PAYMENTS_STRIPE_SECRET_KEY PAYMENTS_WEBHOOK_SECRETS AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY)
for name in "${required[@]}"; do
  [ -n "${!name:-}" ] || { echo "k8s-secrets: $name is not set (production refuses to start without it)" >&2; exit 1; }
done
args=(--from-literal=IDENTITY_KEK="$IDENTITY_KEK")
for name in "${required[@]}" IDENTITY_KEK_PREVIOUS NOTIFICATIONS_SMTP_USERNAME NOTIFICATIONS_SMTP_PASSWORD; do
  [ -n "${!name:-}" ] && args+=(--from-literal="$name=${!name}")
done
"$KUBECTL" -n "$NAMESPACE" create secret generic marketplace-secrets "${args[@]}" --dry-run=client -o yaml | apply "${1:-}"

if [ -n "${TLS_CERT:-}" ] && [ -n "${TLS_KEY:-}" ]; then
  echo "---" | { [ "${1:-}" = "--dry-run" ] && cat || true; }
  "$KUBECTL" -n "$NAMESPACE" create secret tls marketplace-tls --cert="$TLS_CERT" --key="$TLS_KEY" --dry-run=client -o yaml | apply "${1:-}"
else
  echo "k8s-secrets: TLS_CERT/TLS_KEY not set: marketplace-tls left as it is (or issued by cert-manager)" >&2
fi
