#!/usr/bin/env bash
# make test: installs, builds, runs every suite, then runs them again built
# with AddressSanitizer + UBSan. Prints each suite's time and a closing tally.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

bash scripts/deps.sh || exit 1

passed=0
failed=0
failed_names=()

# suite NAME CMD...: runs CMD, prints its duration and outcome.
suite() {
    local name=$1
    shift
    local t0 t1 rc
    echo "=== suite $name"
    t0=$EPOCHREALTIME
    "$@"
    rc=$?
    t1=$EPOCHREALTIME
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        printf '=== suite %s: ok (%.1f s)\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        printf '=== suite %s: FAILED, exit %d (%.1f s)\n' "$name" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
    fi
}

run_unit() {
    local dir=$1 t rc=0
    for t in "$dir"/tests/test_*; do
        [ -x "$t" ] || continue
        "$t" || rc=1
    done
    return $rc
}

# Unit tests under the sanitizers: any report aborts the binary, and the
# log directory must stay empty.
run_unit_san() {
    local logs
    logs=$(mktemp -d)
    ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:log_path=$logs/asan" \
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan" \
        run_unit build-san
    local rc=$?
    if compgen -G "$logs/*" >/dev/null; then
        cat "$logs"/* >&2
        rc=1
    fi
    rm -rf "$logs"
    return $rc
}

run_integration() {
    VIGIL_BUILD="$PWD/$1" VIGIL_SANITIZE="$2" VIGIL_TEST_DIR="$PWD/$1/test-run" \
        /usr/bin/python3 tests/run_integration.py
}

# The BPF data plane against the real kernel (root only: 77 means skipped).
run_bpf_e2e() {
    local rc
    "$1/tests/e2e/test_bpf_loader"
    rc=$?
    [ $rc -eq 77 ] && echo "skipped: not root" && return 0
    return $rc
}

run_agent_e2e() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "skipped: the agent's end-to-end tests load BPF programs and need root"
        return 0
    fi
    VIGIL_BUILD="$PWD/$1" VIGIL_SANITIZE="$2" VIGIL_TEST_DIR="$PWD/$1/e2e-run" \
        /usr/bin/python3 tests/run_integration.py --suite e2e
}

lint() {
    make -s lint && shellcheck scripts/*.sh .ci/run
}

suite lint lint
suite build make -s -j"$(nproc)" all
suite unit run_unit build
suite fuzz bash scripts/fuzz.sh short
suite integration run_integration build 0
suite e2e-bpf run_bpf_e2e build
suite e2e-agent run_agent_e2e build 0
suite build-sanitizers make -s -j"$(nproc)" SAN=1 all
suite unit-sanitizers run_unit_san
suite integration-sanitizers run_integration build-san 1
suite e2e-bpf-sanitizers run_bpf_e2e build-san
suite e2e-agent-sanitizers run_agent_e2e build-san 1

echo
if [ $failed -ne 0 ]; then
    echo "failed suites: ${failed_names[*]}"
fi
echo "make test: $passed passed, $failed failed"
[ $failed -eq 0 ]
