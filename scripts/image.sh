#!/usr/bin/env bash
# Builds the platform's image from the Dockerfile where a Docker engine runs (none runs on the
# development machines: DeploymentFilesTests checks the recipe there instead).
#   scripts/image.sh [--push]     IMAGE=registry/marketplace TAG=1.2.3 (defaults: marketplace, git describe)
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${IMAGE:-marketplace}"
TAG="${TAG:-$(git describe --tags --always --dirty 2>/dev/null || echo latest)}"
command -v docker >/dev/null || { echo "image: no docker here; the recipe is checked by the tests (DeploymentFilesTests)" >&2; exit 2; }
docker build --pull -t "$IMAGE:$TAG" -t "$IMAGE:latest" .
echo "image: built $IMAGE:$TAG"
if [ "${1:-}" = "--push" ]; then
  docker push "$IMAGE:$TAG"
  docker push "$IMAGE:latest"
  echo "image: pushed $IMAGE:$TAG"
fi
