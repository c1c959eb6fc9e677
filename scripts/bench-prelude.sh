# Sourced by the benchmark scripts: installs what is missing, starts the local servers (those
# already running are left alone), builds `$1` in release mode and puts the librdkafka runtime
# first on LD_LIBRARY_PATH. Leaves ROOT set and the working directory at the repository.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/bootstrap.sh >/dev/null
scripts/stack.sh start >/dev/null 2>&1 || true
swift build -c release --product "${1:-marketplace-bench}" 2>&1 | tail -n 1
export LD_LIBRARY_PATH="$ROOT/.stack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
