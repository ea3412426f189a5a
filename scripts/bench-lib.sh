# shellcheck shell=bash
# Shared by scripts/bench.sh and scripts/bench-agent.sh (sourced, not run). Each caller
# defines die(), PYTHON and ROOT first. Sets BUILD (default build/) and its absolute BUILD_ABS.

BUILD=${BUILD:-build}
case "$BUILD" in
/*) BUILD_ABS=$BUILD ;;
*) BUILD_ABS=$ROOT/$BUILD ;;
esac

# SIGTERM (or SIG) to PID, SIGKILL after DEADLINE seconds; returns once it is gone.
stop_pid() {
    local pid=$1 deadline=${2:-10} sig=${3:-TERM} i
    kill -"$sig" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < deadline * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# A free port below the ephemeral range, where no outgoing connection can take it before the
# server binds it (tests/harness/harness.py free_port, the same rule).
free_port() {
    PYTHONPATH="$ROOT/tests/harness" "$PYTHON" -c 'import harness; print(harness.free_port())'
}

# Polls URL until it answers 200, or dies after DEADLINE seconds.
wait_http() {
    local url=$1 deadline=${2:-30} what=$3 i
    for ((i = 0; i < deadline * 10; i++)); do
        if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "$what did not answer $url within ${deadline}s"
}

# Median of the numbers on standard input, one per line ("n/a" for none).
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

machine() {
    local cpu mem
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "nproc $(nproc), kernel $(uname -r), CPU ${cpu:-unknown}, memory $mem"
}

# The one place (for both bench scripts) that starts the backing services and the shop:
# PostgreSQL, Redis (migrated, seeded), vg-product and vg-gateway through the test harness, on
# free ports. Sets PRODUCT_URL and GATEWAY_URL for the caller. Needs WORK, BUILD_ABS and the
# caller's associative PIDS table.
# shellcheck disable=SC2034,SC2154
start_shop() {
    local ready=$WORK/shop.json i
    VIGIL_BUILD=$BUILD_ABS "$PYTHON" "$ROOT/tests/bench/shop.py" "$WORK" "$ready" \
        >"$WORK/shop.log" 2>&1 &
    PIDS[shop]=$!
    for ((i = 0; i < 1200; i++)); do
        [ -f "$ready" ] && break
        kill -0 "${PIDS[shop]}" 2>/dev/null || {
            cat "$WORK/shop.log" >&2
            die "the harness could not start the shop"
        }
        sleep 0.1
    done
    [ -f "$ready" ] || die "the shop was not ready within 120 s (log: $WORK/shop.log)"
    PRODUCT_URL=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["product"])' "$ready")
    GATEWAY_URL=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["gateway"])' "$ready")
}
