#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) and runs each one.
#   fuzz.sh short   a few seconds each (part of make test)
#   fuzz.sh long    minutes each (make fuzz; FUZZ_SECONDS overrides)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-short}
case "$mode" in
short) secs=${FUZZ_SECONDS:-8} ;;
long) secs=${FUZZ_SECONDS:-300} ;;
*)
    echo "usage: fuzz.sh short|long" >&2
    exit 2
    ;;
esac

make -s -j"$(nproc)" FUZZ=1 fuzz-build
rc=0
for bin in build-fuzz/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    # The seed corpus is committed; what a run discovers stays out of git.
    corpus="build-fuzz/corpus/$name"
    mkdir -p "$corpus"
    dirs=("$corpus")
    [ -d "tests/fuzz/seeds/$name" ] && dirs+=("tests/fuzz/seeds/$name")
    echo "fuzz: $name for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -print_final_stats=0 -artifact_prefix="build-fuzz/$name-" \
        "${dirs[@]}" >"build-fuzz/$name.log" 2>&1; then
        echo "fuzz: $name FAILED (log: build-fuzz/$name.log)" >&2
        tail -40 "build-fuzz/$name.log" >&2
        rc=1
    fi
done
exit $rc
