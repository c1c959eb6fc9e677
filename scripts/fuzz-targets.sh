#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, with AddressSanitizer) of the code that reads what clients
# and servers send before anything else checks it: the WebSocket command parser
# (Tests/Fuzz/CommandParserFuzz.swift over Sources/Services/Realtime/Domain) and the BSON reader and
# decoder (Tests/Fuzz/BSONDecoderFuzz.swift over Sources/Adapters/MongoDB/BSON*). Each target is
# compiled with swiftc from those sources alone (no package build) and run for a bounded time
# from its seed corpus (Tests/Fuzz/corpus/<target>, new inputs kept in .build/fuzz/corpus). A crash,
# a sanitizer report or a failed property exits non-zero and leaves the input in artifacts/fuzz/.
#   scripts/fuzz-targets.sh [commands|bson ...]     FUZZ_SECONDS=60 per target
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/.build/fuzz"
ARTIFACTS="$ROOT/artifacts/fuzz"
mkdir -p "$OUT" "$ARTIFACTS"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(commands bson)
CONTRACTS=$(find Sources/Contracts -name '*.swift' | sort)
# One module with the contracts inside it: the sources' `import MarketplaceContracts` is then a
# self-import, which swiftc ignores with a warning (silenced below).
build() { # name sources...
  local name=$1; shift
  swiftc -sanitize=fuzzer,address -parse-as-library -Onone -g -module-name MarketplaceContracts \
    -suppress-warnings "$@" $CONTRACTS -o "$OUT/fuzz-$name" >"$OUT/build-$name.log" 2>&1 \
    || { echo "fuzz-targets: building $name failed:"; grep -v "ld.gold: warning" "$OUT/build-$name.log" | tail -n 30; return 1; }
}
status=0
for target in "${targets[@]}"; do
  case $target in
    commands) build commands Tests/Fuzz/CommandParserFuzz.swift Sources/Services/Realtime/Domain/*.swift ;;
    bson) build bson Tests/Fuzz/BSONDecoderFuzz.swift Sources/Adapters/MongoDB/BSON*.swift \
            -I Sources/Adapters/C/CMongoc $(pkg-config --cflags-only-I libmongoc-1.0 | sed 's/-I/-Xcc -I/g') \
            $(pkg-config --libs libmongoc-1.0) ;;
    *) echo "fuzz-targets: unknown target $target (commands, bson)" >&2; exit 2 ;;
  esac
  mkdir -p "$OUT/corpus/$target"
  echo "fuzz-targets: $target for $SECONDS_EACH s"
  if ! "$OUT/fuzz-$target" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$ARTIFACTS/$target-" "$OUT/corpus/$target" "Tests/Fuzz/corpus/$target" \
      >"$OUT/$target.log" 2>&1; then
    status=1
    echo "fuzz-targets: $target FAILED; input in $ARTIFACTS, log:"
    grep -v "^#" "$OUT/$target.log" | tail -n 40
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$OUT/$target.log" | sed "s/^/fuzz-targets: $target: /"
  grep -E "^#[0-9]+.*(DONE|cov:)" "$OUT/$target.log" | tail -n 1 | sed "s/^/fuzz-targets: $target: /"
done
exit "$status"
