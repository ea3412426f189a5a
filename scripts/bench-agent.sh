#!/usr/bin/env bash
# The agent's benchmarks (issue 3, "Benchmarks"), run by scripts/bench.sh after the shop's
# (`make bench`), or alone: bash scripts/bench-agent.sh. Appends its sections to
# bench/RESULTS.md (replacing those of an earlier agent run); a run of only some parts
# (BENCH_AGENT_PARTS="shop", say) prints its report and leaves the file alone. Goals, not tests: a missed goal
# is reported, never an exit code. Every part measures its cases side by side in one run,
# alternating, because other work on this machine moves the absolute figures:
#   1. syscall overhead: tests/bench/getppid_loop.c (ns per getppid) bare, under libbpf-tools'
#      syscount (counting, then -L), under vigil's syscall programs alone (vigil-trace -P 2,
#      with and without latency) and under the whole agent (loop not watched, watched without
#      and with syscall latency).
#   2. the shop through the gateway, agent off vs on (watch all, its default): wrk at saturation,
#      a paced wrk at half of it for p50, CPU per request of every process involved; then one
#      run with kernel.bpf_stats_enabled for the BPF programs' time per request; and a third
#      state, empty programs on the same two raw tracepoints and no agent (the floor).
#      SHOP_AGENT_ARGS adds vigil-agent arguments to the agent-on state (e.g. "--config F").
#   3. agent RSS and /metrics scrape time at 10,000 series (10,000 distinct routes to a watched
#      bare-mhd).
#   4. events/s of the pipeline on one core (agent pinned to one CPU) and the parsers' MB/s
#      (tests/bench/parser_bench.c).
# Root only (BPF). Everything started here is stopped by pid, also on failure or SIGTERM.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RESULTS=${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}
PYTHON=/usr/bin/python3
# shellcheck source=scripts/bench-lib.sh disable=SC1091
. "$ROOT/scripts/bench-lib.sh"
BIN=$BUILD_ABS/bin
SYS_ROUNDS=${BENCH_SYS_ROUNDS:-5}
SYS_CALLS=${BENCH_SYS_CALLS:-1000000}
SYS_LOOP_ROUNDS=${BENCH_SYS_LOOP_ROUNDS:-5}
SHOP_ROUNDS=${BENCH_AGENT_ROUNDS:-5}
DURATION=${BENCH_DURATION:-5}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
SERIES=${BENCH_SERIES:-10000}
SCRAPES=${BENCH_SCRAPES:-20}
EVENT_ROUNDS=${BENCH_EVENT_ROUNDS:-3}
PARTS=${BENCH_AGENT_PARTS:-sys shop series events}
CLK_TCK=$(getconf CLK_TCK)
MARK='<!-- agent benchmarks: scripts/bench-agent.sh -->'

part() { [[ " $PARTS " == *" $1 "* ]]; }

die() {
    echo "bench-agent: $*" >&2
    exit 1
}
log() { echo "bench-agent: $*" >&2; }

[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
for tool in wrk curl syscount taskset bpftool "$PYTHON"; do
    command -v "$tool" >/dev/null || die "$tool is missing (run scripts/deps.sh)"
done

WORK=$(mktemp -d /tmp/vigil-bench-agent.XXXXXX)
declare -A PIDS=()

# Stops the process started under NAME and forgets it.
stop_named() {
    local name=$1 deadline=${2:-10} sig=${3:-TERM}
    [ -n "${PIDS[$name]:-}" ] || return 0
    stop_pid "${PIDS[$name]}" "$deadline" "$sig"
    unset "PIDS[$name]"
}

cleanup() {
    local name
    for name in "${!PIDS[@]}"; do
        if [ "$name" = shop ]; then
            stop_pid "${PIDS[$name]}" 90
        else
            stop_pid "${PIDS[$name]}" 10
        fi
    done
    PIDS=()
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# utime + stime (clock ticks) of the given pids, all their threads included.
cpu_ticks() {
    local pid sum=0 t
    for pid in "$@"; do
        t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }') || t=0
        sum=$((sum + ${t:-0}))
    done
    echo "$sum"
}

# The pid and every descendant of it.
tree_pids() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q]; if (q == root) print p } }'
}

build() {
    log "building into $BUILD"
    local b=$BUILD/bin
    make -s BUILD="$BUILD" "$b/vigil-agent" "$b/vigil-trace" "$b/getppid_loop" "$b/parser_bench" \
        "$b/bare-mhd" "$b/empty_hooks" "$b/vg-product" "$b/vg-gateway" "$b/vg-migrate" >/dev/null
}

# Starts vigil-agent as NAME on a free port with the given arguments; sets AGENT_URL.
start_agent() {
    local name=$1 port
    shift
    port=$(free_port)
    "$BIN/vigil-agent" --listen "127.0.0.1:$port" --log-level warn "$@" \
        >>"$WORK/$name.log" 2>&1 &
    PIDS[$name]=$!
    AGENT_URL=http://127.0.0.1:$port
    wait_http "$AGENT_URL/readyz" 30 "vigil-agent ($name)"
}

# Sum of a metric's samples matching a regex over the label set, from a /metrics scrape.
metric_sum() {
    curl -fsS --max-time 10 "$1/metrics" | awk -v name="$2" -v re="$3" '
        index($0, name) == 1 && substr($0, length(name) + 1, 1) ~ /[{ ]/ && $0 ~ re { s += $NF }
        END { printf "%.0f\n", s }'
}

# BPF programs of others on syscall paths (tracepoints, raw tracepoints) right now: when there
# are any, every syscall of every process already takes the slow path, bare included.
foreign_bpf() {
    bpftool prog show 2>/dev/null | awk '$2 ~ /tracepoint/ { n++; split($4, a, "_"); names[a[1] "_" a[2]] = 1 }
        END { s = ""; for (k in names) s = s (s ? ", " : "") k; printf "%d%s\n", n, n ? " (" s ")" : "" }'
}

# ---------------------------------------------------------------------------------------------
# 1. Syscall overhead
# ---------------------------------------------------------------------------------------------
SYS_MODES=(bare syscount syscount-L vigil-sys vigil-sys-L agent-unwatched agent agent-L)
declare -A SYS_DESC=(
    [bare]="nothing attached (of ours); every pair's bare run"
    [syscount]="syscount -p PID (libbpf-tools, counting)"
    [syscount-L]="syscount -L -p PID (counting and latency)"
    [vigil-sys]="vigil-trace -P 2 -n: vigil's syscall programs alone, counts and errors"
    [vigil-sys-L]="vigil-trace -P 2: vigil's syscall programs alone, counts, errors, latency"
    [agent-unwatched]="vigil-agent (all parts), the loop not selected"
    [agent]="vigil-agent (all parts) watching the loop, syscall latency off"
    [agent-L]="vigil-agent (all parts) watching the loop, syscall latency on (default)"
)
declare -A SYS_NS=() SYS_ADD=()
SYS_CHECKS=""

# Starts getppid_loop waiting for its go file; sets LOOP_PID, GO, LOOP_OUT.
start_loop() {
    GO=$WORK/go.$1
    DONE=$WORK/done.$1
    LOOP_OUT=$WORK/loop.$1.out
    rm -f "$GO" "$DONE"
    "$BIN/getppid_loop" -n "$SYS_CALLS" -r "$SYS_LOOP_ROUNDS" -w "$GO" -x "$DONE" >"$LOOP_OUT" 2>&1 &
    LOOP_PID=$!
    PIDS[loop]=$LOOP_PID
}

# Starts the timing and waits for its result; the loop then lives on until end_loop.
run_loop() {
    local i
    touch "$GO"
    for ((i = 0; i < 6000; i++)); do
        grep -q '^getppid_loop ' "$LOOP_OUT" && return 0
        kill -0 "$LOOP_PID" 2>/dev/null || break
        sleep 0.1
    done
    die "getppid_loop gave no result: $(cat "$LOOP_OUT")"
}

end_loop() {
    touch "$DONE"
    wait "$LOOP_PID" || die "getppid_loop failed: $(cat "$LOOP_OUT")"
    unset "PIDS[loop]"
}

loop_ns() { sed -n 's/^getppid_loop median_ns=\([0-9.]*\).*/\1/p' "$1" | tail -1; }

sys_run() {
    local mode=$1 tag=$1.$2 expect=$((SYS_CALLS * SYS_LOOP_ROUNDS)) got i out
    case "$mode" in
    bare)
        start_loop "$tag"
        run_loop
        end_loop
        out=$LOOP_OUT
        ;;
    syscount | syscount-L)
        start_loop "$tag"
        local -a args=(-p "$LOOP_PID")
        [ "$mode" = syscount-L ] && args+=(-L)
        syscount "${args[@]}" >"$WORK/sc.$tag" 2>&1 &
        PIDS[syscount]=$!
        for ((i = 0; i < 300; i++)); do
            grep -q '^Tracing' "$WORK/sc.$tag" && break
            kill -0 "${PIDS[syscount]}" 2>/dev/null || die "syscount failed: $(cat "$WORK/sc.$tag")"
            sleep 0.1
        done
        run_loop
        stop_named syscount 10 INT
        end_loop
        got=$(awk '$1 == "getppid" { print $2; exit }' "$WORK/sc.$tag")
        [ "${got:-0}" -ge "$expect" ] || SYS_CHECKS+="$tag: syscount saw ${got:-0} of $expect getppid calls; "
        out=$LOOP_OUT
        ;;
    vigil-sys | vigil-sys-L)
        local -a vargs=(-q -P 2)
        [ "$mode" = vigil-sys ] && vargs+=(-n)
        out=$WORK/vt.$tag
        # vigil-trace starts the loop itself once attached, watched from its first instruction.
        "$BIN/vigil-trace" "${vargs[@]}" -- "$BIN/getppid_loop" -n "$SYS_CALLS" \
            -r "$SYS_LOOP_ROUNDS" >"$out" 2>&1 &
        PIDS[vtrace]=$!
        wait "${PIDS[vtrace]}" || die "vigil-trace failed: $(cat "$out")"
        unset "PIDS[vtrace]"
        got=$(awk '/^sys / && / nr=110 / { sub("count=", "", $4); print $4 }' "$out")
        [ "${got:-0}" -ge "$expect" ] || SYS_CHECKS+="$tag: vigil-trace counted ${got:-0} of $expect getppid calls; "
        ;;
    agent-unwatched | agent | agent-L)
        start_loop "$tag"
        if [ "$mode" = agent-unwatched ]; then
            start_agent agent --watch exe:vigil-bench-none
        elif [ "$mode" = agent ]; then
            start_agent agent --config "$WORK/nolat.yaml" --watch "pid:$LOOP_PID"
        else
            start_agent agent --watch "pid:$LOOP_PID"
        fi
        run_loop
        if [ "$mode" != agent-unwatched ]; then
            for ((i = 0; i < 50; i++)); do
                got=$(metric_sum "$AGENT_URL" vigil_syscalls_total 'syscall="getppid"')
                [ "${got:-0}" -ge "$expect" ] && break
                sleep 0.2
            done
            [ "${got:-0}" -ge "$expect" ] || SYS_CHECKS+="$tag: the agent counted ${got:-0} of $expect getppid calls; "
        fi
        end_loop
        stop_named agent
        out=$LOOP_OUT
        ;;
    esac
    SYS_RESULT=$(loop_ns "$out")
}

bench_syscalls() {
    local r m ns b order first
    log "1. syscall overhead: $SYS_ROUNDS rounds of ${SYS_MODES[*]:1}, each paired with a bare run"
    printf 'syscalls:\n  enabled: true\n  latency: false\n' >"$WORK/nolat.yaml"
    SYS_FOREIGN=$(foreign_bpf)
    SYS_FOREIGN_SEEN=""
    for ((r = 1; r <= SYS_ROUNDS; r++)); do
        # Each mode right next to its own bare run (drift, and other people's tracers coming
        # and going, hit both alike); the order of the modes and of each pair alternate.
        if ((r % 2)); then order=("${SYS_MODES[@]:1}"); else mapfile -t order < <(printf '%s\n' "${SYS_MODES[@]:1}" | tac); fi
        first=0
        for m in "${order[@]}"; do
            first=$((1 - first))
            [ "$(foreign_bpf)" = 0 ] || SYS_FOREIGN_SEEN+="round $r $m: $(foreign_bpf); "
            if ((first)); then
                sys_run bare "$r.$m"
                b=$SYS_RESULT
                sys_run "$m" "$r"
                ns=$SYS_RESULT
            else
                sys_run "$m" "$r"
                ns=$SYS_RESULT
                sys_run bare "$r.$m"
                b=$SYS_RESULT
            fi
            if [ -z "$ns" ] || [ -z "$b" ]; then die "no timing from mode $m"; fi
            SYS_NS[$m]+="$ns "
            SYS_NS[bare]+="$b "
            SYS_ADD[$m]+="$(calc '%.1f' "$ns - $b") "
            log "  round $r $(printf '%-16s' "$m") $ns ns/call, bare beside it $b"
        done
    done
    SYS_FOREIGN_END=$(foreign_bpf)
}

sys_report() {
    local m sc scl vs vsl ag agl
    declare -A MED=() ADD=()
    for m in "${SYS_MODES[@]}"; do
        MED[$m]=$(med "${SYS_NS[$m]}")
        if [ "$m" = bare ]; then ADD[$m]=0; else ADD[$m]=$(med "${SYS_ADD[$m]}"); fi
    done
    sc=${ADD[syscount]} scl=${ADD[syscount-L]}
    vs=${ADD[vigil-sys]} vsl=${ADD[vigil-sys-L]}
    ag=${ADD[agent]} agl=${ADD[agent-L]}
    goal1() { awk -v v="$1" -v s="$sc" 'BEGIN { if (v < s) printf "met (%.1f < %.1f ns)", v, s; else printf "MISSED by %.1f ns (%.1f vs %.1f ns)", v - s, v, s }'; }
    goal2() { awk -v v="$1" -v s="$scl" 'BEGIN { l = 0.6 * s; if (v <= l) printf "met (%.1f ns = %.0f %% of %.1f)", v, (s > 0 ? 100 * v / s : 0), s; else printf "MISSED by %.1f ns (%.1f ns = %.0f %% of %.1f; limit %.1f)", v - l, v, (s > 0 ? 100 * v / s : 0), s, l }'; }
    echo "## Agent: syscall overhead (getppid loop)"
    echo
    echo "Method: tests/bench/getppid_loop.c times $SYS_LOOP_ROUNDS rounds of $SYS_CALLS raw getppid()"
    echo "calls and reports the median round in ns/call. Each mode runs it once per round, $SYS_ROUNDS"
    echo "rounds, right next to a bare run of its own (before it or after it, alternating; the order"
    echo "of the modes reversed every other round): added ns = mode - its bare neighbour, and the"
    echo "table gives the medians over rounds. The tracers watch the loop only (syscount -p,"
    echo "vigil's watched map with the loop's pid); they attach before the timing starts (the loop"
    echo "waits for a go file; vigil-trace starts it itself after attaching)."
    echo "Other BPF programs on tracepoints/raw tracepoints (not ours) at the start: $SYS_FOREIGN;"
    echo "at the end: $SYS_FOREIGN_END; before a pair: ${SYS_FOREIGN_SEEN:-none ever}. When there are"
    echo "any, every syscall already takes the tracepoint slow path in bare too (and another agent"
    echo "watching everything traces the loop), so bare is slower and the added figures miss that"
    echo "shared entry cost."
    echo
    printf '| %-16s | %-74s | %9s | %9s |\n' mode what "ns/call" "added ns"
    printf '| %-16s | %-74s | %9s | %9s |\n' ---------------- "$(printf -- '-%.0s' {1..74})" --------- ---------
    for m in "${SYS_MODES[@]}"; do
        printf '| %-16s | %-74s | %9s | %9s |\n' "$m" "${SYS_DESC[$m]}" "${MED[$m]}" "${ADD[$m]}"
    done
    echo
    echo "- Goal, counts and errors cost less than syscount counting:"
    echo "  vigil's syscall programs alone (vigil-sys): $(goal1 "$vs"); whole agent: $(goal1 "$ag")"
    echo "- Goal, counts, errors and latency at most 60 % of syscount -L:"
    echo "  vigil's syscall programs alone (vigil-sys-L): $(goal2 "$vsl"); whole agent: $(goal2 "$agl")"
    echo "- Not watched (agent running, loop not selected): ${ADD[agent-unwatched]} ns added."
    echo "- Checks (each tracer saw every call): ${SYS_CHECKS:-all counts complete}"
    echo
    echo "ns/call of each round (bare: every pair's), and added ns of each round:"
    echo
    for m in "${SYS_MODES[@]}"; do
        echo "- $m: ${SYS_NS[$m]}${SYS_ADD[$m]:+| added: ${SYS_ADD[$m]}}"
    done
    echo
}

# ---------------------------------------------------------------------------------------------
# 2. Shop through the gateway, agent off vs on
# ---------------------------------------------------------------------------------------------
# One wrk run; prints "rps requests p50_ms bad wrk_cpu_ticks shop_ticks agent_ticks".
# CPU: utime+stime of wrk (the subshell's children), of the shop's processes (the harness and
# everything under it: gateway, product, Redis, PostgreSQL) and of the agent, over the run.
shop_measure() {
    local secs=$1 conns=$2 script=${3:-} shop_pids s0 s1 a0=0 a1=0 out
    local -a args=(-t1 "-c$conns" "-d${secs}s" --latency)
    [ -n "$script" ] && args+=(-s "$script")
    mapfile -t shop_pids < <(tree_pids "${PIDS[shop]}")
    s0=$(cpu_ticks "${shop_pids[@]}")
    [ -n "${PIDS[agent]:-}" ] && a0=$(cpu_ticks "${PIDS[agent]}")
    out=$(
        wrk "${args[@]}" "$GATEWAY_URL/api/products/1"
        times
    )
    s1=$(cpu_ticks "${shop_pids[@]}")
    [ -n "${PIDS[agent]:-}" ] && a1=$(cpu_ticks "${PIDS[agent]}")
    echo "$out" >>"$WORK/wrk.log"
    awk -v s="$((s1 - s0))" -v a="$((a1 - a0))" -v hz="$CLK_TCK" '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            return v + 0
        }
        function secs(v,   m) { m = v; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", v); sub(/s$/, "", v); return m * 60 + v }
        /^Requests\/sec:/ { rps = $2 }
        / requests in / { reqs = $1 }
        $1 == "50%" { p50 = ms($2) }
        /Non-2xx or 3xx responses:/ { bad += $NF }
        /Socket errors:/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
        /^[0-9]+m[0-9.]+s [0-9]+m[0-9.]+s$/ { last = $0 }
        END { split(last, t, " "); w = (secs(t[1]) + secs(t[2])) * hz
              printf "%.1f %d %.3f %d %.0f %d %d\n", rps, reqs, p50, bad, w, s, a }
    ' <<<"$out"
}

# Empty programs on the agent's two raw tracepoints and no agent (tests/bench/empty_hooks.c):
# the shop's third state, the floor under any design that hooks every syscall.
start_hooks() {
    local t
    "$BIN/empty_hooks" >"$WORK/hooks.out" 2>&1 &
    PIDS[hooks]=$!
    for ((t = 0; t < 100; t++)); do
        grep -q '^ready' "$WORK/hooks.out" && return 0
        kill -0 "${PIDS[hooks]}" 2>/dev/null || break
        sleep 0.1
    done
    die "empty_hooks did not attach: $(cat "$WORK/hooks.out")"
}

bench_shop() {
    local r state res rps reqs p50 bad w sh ag sat target probe sat_reqs
    log "2. shop through the gateway, agent off vs on, $SHOP_ROUNDS rounds"
    start_shop
    wait_http "$GATEWAY_URL/api/products/1" 30 gateway
    printf 'function delay()\n  return 1\nend\n' >"$WORK/pace.lua"
    shop_measure 1 "$CONNECTIONS" >/dev/null # warm-up
    # Half of saturation: a closed loop with a 1 ms pause between a connection's requests
    # (wrk's Lua delay()); the connection count is calibrated once, agent off, to reach half of
    # the saturated rate, and then used for both states.
    sat=$(for _ in 1 2; do shop_measure 2 "$CONNECTIONS"; done | awk '{ print $1 }' | median)
    target=$(calc '%.0f' "$sat / 2")
    probe=$(shop_measure 2 4 "$WORK/pace.lua" | awk '{ print $1 }')
    PACE_CONNS=$(awk -v t="$target" -v p="$probe" 'BEGIN { c = int(4 * t / p + 0.5); print (c < 1 ? 1 : c) }')
    log "  saturation ~$sat req/s; paced: $PACE_CONNS connections (4 gave $probe req/s) for ~$target req/s"
    # SHOP_AGENT_ARGS: more vigil-agent arguments for the agent-on state (words).
    read -ra AGENT_EXTRA <<<"${SHOP_AGENT_ARGS:-}"
    declare -gA SH_RPS=() SH_P50=() SH_PRPS=() SH_CPU=() SH_PCPU=() SH_AG=() SH_PAG=() SH_BAD=()
    for ((r = 1; r <= SHOP_ROUNDS; r++)); do
        for state in $( ((r % 2)) && echo "off on hooks" || echo "hooks on off"); do
            [ "$state" = on ] && start_agent agent "${AGENT_EXTRA[@]}"
            [ "$state" = hooks ] && start_hooks
            res=$(shop_measure "$DURATION" "$CONNECTIONS")
            read -r rps reqs p50 bad w sh ag <<<"$res"
            sat_reqs=$reqs
            SH_RPS[$state]+="$rps "
            SH_BAD[$state]=$((${SH_BAD[$state]:-0} + bad))
            # µs of CPU per request: wrk + shop + agent.
            SH_CPU[$state]+="$(calc '%.2f' "($w + $sh + $ag) * 1e6 / $CLK_TCK / $reqs") "
            SH_AG[$state]+="$(calc '%.2f' "$ag * 1e6 / $CLK_TCK / $reqs") "
            res=$(shop_measure "$DURATION" "$PACE_CONNS" "$WORK/pace.lua")
            read -r rps reqs p50 bad w sh ag <<<"$res"
            SH_PRPS[$state]+="$rps "
            # The same at half load: both states serve about the same rate, so the batching
            # a saturated server gains (fewer epoll_waits per request) does not differ.
            SH_PCPU[$state]+="$(calc '%.2f' "($w + $sh + $ag) * 1e6 / $CLK_TCK / $reqs") "
            SH_PAG[$state]+="$(calc '%.2f' "$ag * 1e6 / $CLK_TCK / $reqs") "
            SH_P50[$state]+="$(calc '%.1f' "$p50 * 1000") "
            SH_BAD[$state]=$((${SH_BAD[$state]:-0} + bad))
            [ "$state" = on ] && {
                SH_DROPS=$(metric_sum "$AGENT_URL" vigil_agent_events_dropped_total '')
                SH_GW=$(metric_sum "$AGENT_URL" http_server_request_duration_seconds_count 'http_route="/api/products/')
                SH_SYS=$(metric_sum "$AGENT_URL" vigil_syscalls_total '')
                SH_SYS_REQS=$((sat_reqs + reqs))
                stop_named agent
            }
            [ "$state" = hooks ] && stop_named hooks
            log "  round $r $state: $(echo "${SH_RPS[$state]}" | awk '{ print $NF }') req/s," \
                "$(echo "${SH_CPU[$state]}" | awk '{ print $NF }') µs CPU/req, p50 $(echo "${SH_P50[$state]}" | awk '{ print $NF }') µs at $rps req/s"
        done
    done
    shop_bpf_time
    stop_named shop 90
}

# Program run time of the agent's BPF programs (vg_*) per request: one more saturated run,
# agent on, with kernel.bpf_stats_enabled (the kernel then times every run of every program,
# which costs a little itself: not one of the measured rounds). Sets SH_BPF (lines
# "name runs/request ns/run ns/request") and SH_BPF_TOTAL.
bpf_prog_stats() {
    bpftool -j prog show | "$PYTHON" -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name", "").startswith("vg_"):
        print(p["id"], p["name"], p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

shop_bpf_time() {
    local before after was res reqs
    was=$(sysctl -n kernel.bpf_stats_enabled)
    start_agent agent "${AGENT_EXTRA[@]}"
    sysctl -qw kernel.bpf_stats_enabled=1
    before=$(bpf_prog_stats)
    res=$(shop_measure "$DURATION" "$CONNECTIONS")
    after=$(bpf_prog_stats)
    sysctl -qw kernel.bpf_stats_enabled="$was"
    stop_named agent
    reqs=$(echo "$res" | awk '{ print $2 }')
    SH_BPF=$(awk -v reqs="$reqs" '
        NR == FNR { t0[$1] = $3; c0[$1] = $4; next }
        { t = $3 - t0[$1]; c = $4 - c0[$1]; if (c <= 0) next
          printf "%s %.2f %.0f %.0f\n", $2, c / reqs, t / c, t / reqs; tot += t }
        END { printf "total - - %.0f\n", tot / reqs }' <(echo "$before") <(echo "$after"))
    SH_BPF_TOTAL=$(echo "$SH_BPF" | awk '$1 == "total" { print $4 }')
    log "  BPF program time per request: ${SH_BPF_TOTAL} ns"
}

shop_report() {
    local off on loss cpu_off cpu_on cpu_add pcpu_off pcpu_on pcpu_add p_off p_on p_add ag
    off=$(med "${SH_RPS[off]}")
    on=$(med "${SH_RPS[on]}")
    loss=$(calc '%.1f' "100 * (1 - $on / $off)")
    cpu_off=$(med "${SH_CPU[off]}")
    cpu_on=$(med "${SH_CPU[on]}")
    cpu_add=$(calc '%.2f' "$cpu_on - $cpu_off")
    ag=$(med "${SH_AG[on]}")
    pcpu_off=$(med "${SH_PCPU[off]}")
    pcpu_on=$(med "${SH_PCPU[on]}")
    pcpu_add=$(calc '%.2f' "$pcpu_on - $pcpu_off")
    p_off=$(med "${SH_P50[off]}")
    p_on=$(med "${SH_P50[on]}")
    p_add=$(calc '%.1f' "$p_on - $p_off")
    verdict() { awk -v v="$1" -v l="$2" -v u="$3" 'BEGIN { if (v <= l) printf "met (%s %s, goal <= %s)", v, u, l; else printf "MISSED by %.2f %s (%s, goal <= %s)", v - l, u, v, l }'; }
    echo "## Agent: the shop through the gateway, agent off vs on"
    echo
    echo "Method: tests/bench/shop.py (gateway and product, PostgreSQL, Redis; rate limit off),"
    echo "GET /api/products/1 through the gateway. $SHOP_ROUNDS rounds, each measuring agent off,"
    echo "agent on (vigil-agent's defaults: watch all, every part, syscall latency on; started fresh"
    echo "for each round, after /readyz) and empty hooks (below), the order reversed every other"
    echo "round. Per state and round:"
    echo "- saturation: wrk -t1 -c$CONNECTIONS -d${DURATION}s, keep-alive;"
    echo "- half of saturation: wrk -t1 -c$PACE_CONNS -d${DURATION}s with a Lua delay() of 1 ms between"
    echo "  a connection's requests (closed loop with think time; wrk2 is not packaged). The"
    echo "  connection count was calibrated once, agent off, to give half of the saturated rate; the"
    echo "  p50 is wrk's (send to last byte, the pause excluded);"
    echo "- CPU per request, in each run: utime+stime from /proc/PID/stat of wrk, every process"
    echo "  under the harness (gateway, product, Redis, PostgreSQL) and the agent, over the run,"
    echo "  divided by wrk's request count. BPF programs run in the traced threads' system time,"
    echo "  so the kernel side of the agent is inside the services' and wrk's figures. At"
    echo "  saturation the agent-on state serves fewer requests per second, so each epoll_wait"
    echo "  and wake-up is shared by fewer requests: that figure includes the batching lost. At"
    echo "  half load both states serve the same rate, so it is the agent's own cost."
    echo
    printf '| %-26s | %12s | %12s | %12s |\n' "" "agent off" "agent on" "on - off"
    printf '| %-26s | %12s | %12s | %12s |\n' -------------------------- ------------ ------------ ------------
    printf '| %-26s | %12s | %12s | %11s%% |\n' "req/s at saturation (med)" "$off" "$on" "-$loss"
    printf '| %-26s | %12s | %12s | %12s |\n' "CPU µs/req, saturation" "$cpu_off" "$cpu_on" "$cpu_add"
    printf '| %-26s | %12s | %12s | %12s |\n' "  of which the agent" "" "$ag" ""
    printf '| %-26s | %12s | %12s | %12s |\n' "CPU µs/req, half load" "$pcpu_off" "$pcpu_on" "$pcpu_add"
    printf '| %-26s | %12s | %12s | %12s |\n' "  of which the agent" "" "$(med "${SH_PAG[on]}")" ""
    printf '| %-26s | %12s | %12s | %12s |\n' "p50 µs at half load (med)" "$p_off" "$p_on" "$p_add"
    printf '| %-26s | %12s | %12s | %12s |\n' "paced req/s (med)" "$(med "${SH_PRPS[off]}")" "$(med "${SH_PRPS[on]}")" ""
    printf '| %-26s | %12s | %12s | %12s |\n' "errors (all runs)" "${SH_BAD[off]:-0}" "${SH_BAD[on]:-0}" ""
    echo
    local h h_loss
    h=$(med "${SH_RPS[hooks]}")
    h_loss=$(calc '%.1f' "100 * (1 - $h / $off)")
    echo "The floor: an empty program on sys_enter and sys_exit and no agent (tests/bench/empty_hooks.c,"
    echo "the third state of every round): $h req/s at saturation (-$h_loss %), CPU µs/req"
    echo "+$(calc '%.2f' "$(med "${SH_CPU[hooks]}") - $cpu_off") at saturation and +$(calc '%.2f' "$(med "${SH_PCPU[hooks]}") - $pcpu_off") at half load, p50"
    echo "+$(calc '%.1f' "$(med "${SH_P50[hooks]}") - $p_off") µs. Any program on these two hooks costs this before it does anything."
    echo
    echo "- Goal, throughput loss <= 3 %: $(verdict "$loss" 3 '%')"
    echo "- Goal, added CPU per request <= 5 µs: at half load $(verdict "$pcpu_add" 5 µs);"
    echo "  at saturation $(verdict "$cpu_add" 5 µs)"
    echo "- Goal, added p50 at half of saturation <= 10 µs: $(verdict "$p_add" 10 µs)"
    echo "- Agent events dropped in the last agent-on round: ${SH_DROPS:-n/a}; the agent's count of"
    echo "  the gateway's GET /api/products/{id} in that round: ${SH_GW:-n/a} (wrk sent $SH_SYS_REQS in the two runs);"
    echo "  syscalls the agent counted in that round (every process: shop, wrk, the rest of the"
    echo "  machine) per request sent: $(calc '%.0f' "$SH_SYS / $SH_SYS_REQS")."
    echo
    echo "Where the agent's kernel side goes: one more saturated run, agent on, with"
    echo "kernel.bpf_stats_enabled=1 (the kernel's own timing of every program run, which adds to it):"
    echo
    echo "| program | runs per request | ns per run | ns per request |"
    echo "| --- | --- | --- | --- |"
    echo "$SH_BPF" | awk '$1 != "total" { printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }'
    echo "| all | | | $SH_BPF_TOTAL |"
    echo
    echo "Per round (off | on | empty hooks): req/s ${SH_RPS[off]}| ${SH_RPS[on]}| ${SH_RPS[hooks]};"
    echo "CPU µs/req ${SH_CPU[off]}| ${SH_CPU[on]}| ${SH_CPU[hooks]};"
    echo "half-load CPU µs/req ${SH_PCPU[off]}| ${SH_PCPU[on]}| ${SH_PCPU[hooks]};"
    echo "p50 µs ${SH_P50[off]}| ${SH_P50[on]}| ${SH_P50[hooks]}"
    echo
}

# ---------------------------------------------------------------------------------------------
# 3. RSS and scrape time at 10,000 series
# ---------------------------------------------------------------------------------------------
bench_series() {
    local port i n
    log "3. agent RSS and /metrics at $SERIES series"
    port=$(free_port)
    printf '{"ok":true}' >"$WORK/small.json"
    start_agent agent --watch exe:bare-mhd --series-limit $((SERIES * 2))
    RSS_IDLE=$(awk '/^VmRSS/ { print $2 }' "/proc/${PIDS[agent]}/status")
    "$BIN/bare-mhd" "$port" "$WORK/small.json" >"$WORK/bare-series.log" 2>&1 &
    PIDS[bare]=$!
    wait_http "http://127.0.0.1:$port/" 30 bare-mhd
    # SERIES distinct routes: letters only, so that route folding keeps them apart.
    "$PYTHON" - "$port" "$SERIES" <<'EOF'
import http.client, string, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
letters = string.ascii_lowercase
for i in range(n):
    s, k = "", i
    for _ in range(4):
        s, k = s + letters[k % 26], k // 26
    c.request("GET", "/bench/r" + s)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"status {r.status}")
c.close()
EOF
    for ((i = 0; i < 100; i++)); do
        n=$(curl -fsS "$AGENT_URL/metrics" | grep -c '^http_server_request_duration_seconds_count{.*route="/bench/r' || true)
        [ "$n" -ge "$SERIES" ] && break
        sleep 0.2
    done
    SERIES_SEEN=$n
    SERIES_TOTAL=$(curl -fsS "$AGENT_URL/metrics" | grep -c '_count{' || true)
    RSS_KB=$(awk '/^VmRSS/ { print $2 }' "/proc/${PIDS[agent]}/status")
    SCRAPE_BYTES=$(curl -fsS "$AGENT_URL/metrics" | wc -c)
    SCRAPE_LINES=$(curl -fsS "$AGENT_URL/metrics" | grep -vc '^#' || true)
    SCRAPE_MS=""
    for ((i = 0; i < SCRAPES; i++)); do
        SCRAPE_MS+="$(curl -fsS -o /dev/null -w '%{time_total}' "$AGENT_URL/metrics" | awk '{ printf "%.2f", $1 * 1000 }') "
    done
    SCRAPE_OM_MS=""
    for ((i = 0; i < SCRAPES; i++)); do
        SCRAPE_OM_MS+="$(curl -fsS -o /dev/null -H 'Accept: application/openmetrics-text; version=1.0.0' \
            -w '%{time_total}' "$AGENT_URL/metrics" | awk '{ printf "%.2f", $1 * 1000 }') "
    done
    stop_named bare
    stop_named agent
}

series_report() {
    local rss_mb scrape om
    rss_mb=$(calc '%.1f' "$RSS_KB / 1024")
    scrape=$(med "$SCRAPE_MS")
    om=$(med "$SCRAPE_OM_MS")
    echo "## Agent: memory and scrape time at $SERIES series"
    echo
    echo "Method: vigil-agent --watch exe:bare-mhd --series-limit $((SERIES * 2)) (so that nothing folds"
    echo "into \"other\"); one keep-alive client (Python http.client, not watched) sends $SERIES GET"
    echo "requests with distinct letter-only paths /bench/rXXXX to a watched bare-mhd, so"
    echo "http_server_request_duration_seconds gets one series per route (each a histogram of 16"
    echo "buckets). Then VmRSS from /proc/PID/status, and $SCRAPES scrapes with curl"
    echo "(time_total, loopback), the median."
    echo
    echo "| what | value | goal |"
    echo "| --- | --- | --- |"
    echo "| route series exported | $SERIES_SEEN (all histograms: $SERIES_TOTAL) | $SERIES |"
    echo "| VmRSS idle (just started) | $(calc '%.1f' "$RSS_IDLE / 1024") MiB | |"
    echo "| VmRSS at $SERIES series | $rss_mb MiB | <= 40 MB: $(awk -v v="$RSS_KB" 'BEGIN { print (v * 1024 <= 40e6) ? "met" : "MISSED" }') |"
    echo "| /metrics text 0.0.4, median of $SCRAPES | $scrape ms ($SCRAPE_BYTES bytes, $SCRAPE_LINES samples) | <= 20 ms: $(awk -v v="$scrape" 'BEGIN { print (v <= 20) ? "met" : "MISSED" }') |"
    echo "| /metrics OpenMetrics, median of $SCRAPES | $om ms | |"
    echo
    echo "Scrape ms (text): $SCRAPE_MS"
    echo
}

# ---------------------------------------------------------------------------------------------
# 4. Events/s on one core, parser MB/s
# ---------------------------------------------------------------------------------------------
bench_events() {
    local port r e0 e1 d0 d1 a0 a1 t0 t1 res
    log "4. pipeline events/s (agent on CPU 1) and parser MB/s"
    port=$(free_port)
    start_agent agent --watch exe:wrk,bare-mhd
    taskset -pc 1 "${PIDS[agent]}" >/dev/null
    for t in /proc/"${PIDS[agent]}"/task/*; do taskset -pc 1 "${t##*/}" >/dev/null; done
    taskset -c 0 "$BIN/bare-mhd" "$port" "$WORK/small.json" >"$WORK/bare-events.log" 2>&1 &
    PIDS[bare]=$!
    wait_http "http://127.0.0.1:$port/" 30 bare-mhd
    # Ring-buffer events only: source="syscall" counts syscalls summed in-kernel.
    EV_SOURCES='source="(socket|process)"'
    EV_RATE="" EV_CPU="" EV_CAP="" EV_DROPS=0 EV_REQS=""
    for ((r = 1; r <= EVENT_ROUNDS; r++)); do
        e0=$(metric_sum "$AGENT_URL" vigil_agent_events_total "$EV_SOURCES")
        d0=$(metric_sum "$AGENT_URL" vigil_agent_events_dropped_total '')
        a0=$(cpu_ticks "${PIDS[agent]}")
        t0=$(date +%s.%N)
        res=$(taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$port/x" | awk '/^Requests\/sec:/ { print $2 }')
        sleep 1 # let the agent drain the ring buffer
        t1=$(date +%s.%N)
        e1=$(metric_sum "$AGENT_URL" vigil_agent_events_total "$EV_SOURCES")
        d1=$(metric_sum "$AGENT_URL" vigil_agent_events_dropped_total '')
        a1=$(cpu_ticks "${PIDS[agent]}")
        EV_REQS+="$res "
        EV_RATE+="$(calc '%.0f' "($e1 - $e0) / $DURATION") "
        EV_CPU+="$(calc '%.1f' "100 * ($a1 - $a0) / $CLK_TCK / ($t1 - $t0)") "
        EV_CAP+="$(calc '%.0f' "($e1 - $e0) * $CLK_TCK / (($a1 - $a0) > 0 ? ($a1 - $a0) : 1)") "
        EV_DROPS=$((EV_DROPS + d1 - d0))
        log "  round $r: $res req/s, $(echo "$EV_RATE" | awk '{ print $NF }') events/s, drops $((d1 - d0))"
    done
    stop_named bare
    stop_named agent
    "$BIN/parser_bench" 0.5 >"$WORK/parsers.out" || die "parser_bench failed"
}

events_report() {
    echo "## Agent: pipeline events/s and parser throughput"
    echo
    echo "Method: vigil-agent --watch exe:wrk,bare-mhd with every thread pinned to CPU 1 (taskset);"
    echo "bare-mhd and wrk -t1 -c$CONNECTIONS (keep-alive, as fast as they go, small JSON) pinned to"
    echo "CPU 0; $EVENT_ROUNDS runs of ${DURATION} s. events/s = the growth of vigil_agent_events_total over"
    echo "the run, sources socket and process (what crosses the ring buffer; source=\"syscall\" counts"
    echo "syscalls summed in the kernel, not events); the agent's CPU from /proc/PID/stat over the run plus 1 s of draining. Capacity"
    echo "= events per CPU-second of the agent, what one core would carry at 100 %."
    echo
    echo "| what | median | runs |"
    echo "| --- | --- | --- |"
    echo "| wrk req/s (client and server both watched) | $(med "$EV_REQS") | $EV_REQS|"
    echo "| events/s delivered, no drop | $(med "$EV_RATE") | $EV_RATE|"
    echo "| agent CPU, % of one core | $(med "$EV_CPU") | $EV_CPU|"
    echo "| capacity, events per agent CPU-second | $(med "$EV_CAP") | $EV_CAP|"
    echo "| events dropped over all runs | $EV_DROPS | |"
    echo
    echo "Parsers (tests/bench/parser_bench.c over libagproto.a, one core, 0.5 s per case): one"
    echo "direction of the shop's typical exchanges fed as the agent feeds them (head 512 B, tail"
    echo "64 B per transfer); MB/s counts wire bytes (10^6). http: GET /api/products/1 and its"
    echo "300-byte JSON answer; postgresql: a simple query and an extended Parse/Bind/Describe/"
    echo "Execute/Sync, and their answers; redis: GET and SET EX with a 300-byte value, and the"
    echo "replies; amqp: basic.publish with a 300-byte body and basic.ack, basic.deliver with content."
    echo
    echo "| protocol | direction | MB/s | messages/s | bytes/message |"
    echo "| --- | --- | --- | --- | --- |"
    sed -n 's/^parser proto=\([^ ]*\) dir=\([^ ]*\) mb_s=\([^ ]*\) msgs_s=\([^ ]*\) bytes_per_msg=\([^ ]*\)$/| \1 | \2 | \3 | \4 | \5 |/p' "$WORK/parsers.out"
    echo
}

main() {
    local load_start load_end
    build
    load_start=$(cut -d' ' -f1-3 /proc/loadavg)
    if part sys; then bench_syscalls; fi
    if part shop; then bench_shop; fi
    if part series; then bench_series; fi
    if part events; then bench_events; fi
    load_end=$(cut -d' ' -f1-3 /proc/loadavg)
    local report
    report=$(
        echo "$MARK"
        echo "# Agent benchmarks"
        echo
        echo "Written by scripts/bench-agent.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ), commit" \
            "$(git rev-parse --short HEAD 2>/dev/null || echo unknown): $(machine);" \
            "$(syscount --version 2>&1 | head -1 | sed 's/^syscount *//;s/^$/syscount/') from Debian's" \
            "libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null)."
        echo "Load average (1, 5, 15 min) before: $load_start; after: $load_end. Other engineers' tests"
        echo "share the machine's $(nproc) cores: compare only figures measured side by side below."
        echo
        if part sys; then sys_report; fi
        if part shop; then shop_report; fi
        if part series; then series_report; fi
        if part events; then events_report; fi
    )
    echo "$report"
    # A partial run would replace every agent section with its own: bench/RESULTS.md keeps full
    # runs only, unless BENCH_RESULTS names another file.
    if ! { part sys && part shop && part series && part events; } && [ -z "${BENCH_RESULTS:-}" ]; then
        log "parts run: $PARTS; the report is above, ${RESULTS#"$ROOT"/} keeps the last full run"
        return 0
    fi
    mkdir -p "$(dirname "$RESULTS")"
    touch "$RESULTS"
    # Replace an earlier run's agent sections, keep the shop's.
    awk -v mark="$MARK" '$0 == mark { exit } { print }' "$RESULTS" >"$WORK/results.head"
    { cat "$WORK/results.head"; echo "$report"; } >"$RESULTS"
    log "appended the agent sections to ${RESULTS#"$ROOT"/}"
}

main "$@"
