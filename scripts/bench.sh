#!/usr/bin/env bash
# make bench: how close the shop's HTTP path comes to a bare server, measured
# in one run on this machine. wrk (keep-alive, BENCH_THREADS threads,
# BENCH_CONNECTIONS connections, BENCH_DURATION seconds per measurement)
# against, in alternating rounds:
#   nginx    the product JSON as a static file (access_log off)
#   bare     tests/bench/bare_mhd.c: libmicrohttpd in the services' mode,
#            answering the same JSON from memory
#   product  vg-product GET /products/1 (a cache hit: in-process, no Redis, no PostgreSQL)
#   gateway  vg-gateway GET /api/products/1 (session-less public read through
#            the gateway to vg-product)
# Prints a table of medians and ratios to bare and writes bench/RESULTS.md; then
# scripts/bench-agent.sh appends the agent's benchmarks to it (BENCH_AGENT=0 skips them).
# The load generator and the servers share the machine's cores, so only the
# ratios of one run mean anything; no absolute figure is compared across runs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-1}
NGINX_WORKERS=${BENCH_NGINX_WORKERS:-auto}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}
PYTHON=/usr/bin/python3
# shellcheck source=scripts/bench-lib.sh disable=SC1091
. "$ROOT/scripts/bench-lib.sh"
TARGETS=(nginx bare product gateway)

die() {
    echo "bench: $*" >&2
    exit 1
}

for tool in wrk nginx curl "$PYTHON"; do
    command -v "$tool" >/dev/null || die "$tool is missing (run scripts/deps.sh)"
done

WORK=$(mktemp -d /tmp/vigil-bench.XXXXXX)
# nginx's workers run as nobody: they must reach the document root.
chmod 755 "$WORK"
declare -A PIDS=()

stop_all() {
    local name
    # The harness stops the services and PostgreSQL itself: give it time.
    for name in "${!PIDS[@]}"; do
        if [ "$name" = shop ]; then
            stop_pid "${PIDS[$name]}" 90
        else
            stop_pid "${PIDS[$name]}" 10
        fi
    done
    PIDS=()
}

cleanup() {
    stop_all
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build() {
    echo "bench: building into $BUILD"
    make -s BUILD="$BUILD" "$BUILD/bin/vg-product" "$BUILD/bin/vg-gateway" \
        "$BUILD/bin/vg-migrate" "$BUILD/bin/bare-mhd" >/dev/null
}

start_nginx() {
    local port=$1 dir=$WORK/nginx
    mkdir -p "$dir/tmp" "$dir/www/products"
    cp "$WORK/product.json" "$dir/www/products/1"
    chmod -R a+rX "$dir/www"
    cat >"$dir/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $dir/www;
        default_type application/json;
        etag off;
    }
}
EOF
    nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
    PIDS[nginx]=$!
}

start_bare() {
    local port=$1
    "$BUILD_ABS/bin/bare-mhd" "$port" "$WORK/product.json" >"$WORK/bare.log" 2>&1 &
    PIDS[bare]=$!
}

# One wrk measurement: prints "requests_per_s p50_ms p99_ms bad" where bad
# counts non-2xx answers and socket errors (a valid run has 0).
measure() {
    local url=$1 secs=$2 out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --latency "$url")
    echo "$out" >>"$WORK/wrk.log"
    awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            return v + 0
        }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { bad += $NF }
        /Socket errors:/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
        END { printf "%.1f %.3f %.3f %d\n", rps, p50, p99, bad }
    ' <<<"$out"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b; else print "n/a" }'
}

main() {
    local nginx_port bare_port t r result rps p50 p99 bad
    declare -A URL=() RPS=() P50=() P99=() BAD=()

    build
    LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
    start_shop
    # The JSON every server answers with: vg-product's own answer for product 1.
    # This first request also fills the product's cache entry.
    curl -fsS "$PRODUCT_URL/products/1" -o "$WORK/product.json" ||
        die "vg-product did not answer GET /products/1"
    nginx_port=$(free_port)
    bare_port=$(free_port)
    start_nginx "$nginx_port"
    start_bare "$bare_port"
    URL[nginx]=http://127.0.0.1:$nginx_port/products/1
    URL[bare]=http://127.0.0.1:$bare_port/products/1
    URL[product]=$PRODUCT_URL/products/1
    URL[gateway]=$GATEWAY_URL/api/products/1
    for t in "${TARGETS[@]}"; do
        wait_http "${URL[$t]}" 30 "$t"
        cmp -s <(curl -fsS "${URL[$t]}") "$WORK/product.json" ||
            die "$t does not answer the same JSON as vg-product"
    done

    echo "bench: warm-up (1 s each), then $ROUNDS rounds of ${DURATION} s per target:" \
        "wrk -t$THREADS -c$CONNECTIONS"
    for t in "${TARGETS[@]}"; do
        measure "${URL[$t]}" 1 >/dev/null
    done
    for ((r = 1; r <= ROUNDS; r++)); do
        for t in "${TARGETS[@]}"; do
            result=$(measure "${URL[$t]}" "$DURATION")
            read -r rps p50 p99 bad <<<"$result"
            echo "  round $r  $(printf '%-8s' "$t") $(printf '%10s' "$rps") req/s  p50 ${p50} ms  p99 ${p99} ms"
            RPS[$t]+="$rps "
            P50[$t]+="$p50 "
            P99[$t]+="$p99 "
            BAD[$t]=$((${BAD[$t]:-0} + bad))
        done
    done

    LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
    declare -A MED=() M50=() M99=()
    for t in "${TARGETS[@]}"; do
        MED[$t]=$(tr ' ' '\n' <<<"${RPS[$t]}" | grep . | median)
        M50[$t]=$(tr ' ' '\n' <<<"${P50[$t]}" | grep . | median)
        M99[$t]=$(tr ' ' '\n' <<<"${P99[$t]}" | grep . | median)
    done
    local prod_ratio gw_ratio nginx_ratio verdict
    prod_ratio=$(ratio "${MED[product]}" "${MED[bare]}")
    gw_ratio=$(ratio "${MED[gateway]}" "${MED[bare]}")
    nginx_ratio=$(ratio "${MED[nginx]}" "${MED[bare]}")
    verdict=$(awk -v r="$prod_ratio" 'BEGIN { print (r + 0 >= 80) ? "meets the 80 % goal" : "BELOW the 80 % goal" }')

    row() { printf '| %-8s | %12s | %8s | %8s | %9s | %6s |\n' "$@"; }
    local table
    table=$(
        row target "req/s (med)" "p50 ms" "p99 ms" "vs bare" errors
        row -------- ------------ -------- -------- --------- ------
        for t in "${TARGETS[@]}"; do
            row "$t" "${MED[$t]}" "${M50[$t]}" "${M99[$t]}" "$(ratio "${MED[$t]}" "${MED[bare]}") %" "${BAD[$t]}"
        done
    )
    echo
    echo "$table"
    echo
    echo "product / bare MHD = $prod_ratio % ($verdict); gateway / bare = $gw_ratio %; nginx / bare = $nginx_ratio %"

    mkdir -p "$(dirname "$RESULTS")"
    {
        echo "# Benchmark results"
        echo
        echo "Written by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%dT%H:%M:%SZ)," \
            "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
        echo
        echo "## Machine"
        echo "$(machine). wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'), $(nginx -v 2>&1 | sed 's/.*: //')," \
            "libmicrohttpd $(pkg-config --modversion libmicrohttpd)."
        echo "Load average (1, 5, 15 min) before the run: $LOAD_START; after the rounds: $LOAD_END"
        echo "(anything else running on the machine shows here, and widens the spread of the rounds)."
        echo
        echo "## Method"
        echo "- One run, one machine: wrk and every server share its $(nproc) cores, so the numbers are"
        echo "  only comparable with each other; quote the ratios, not the absolute figures."
        echo "- wrk -t$THREADS -c$CONNECTIONS --latency, keep-alive, ${DURATION} s per measurement, a 1 s warm-up"
        echo "  per target, then $ROUNDS rounds with the targets alternating (nginx, bare, product, gateway)"
        echo "  so that drift in the machine hits them alike; the table gives the medians of the rounds."
        echo "- Every target answers the same bytes: vg-product's JSON for product 1 (checked with cmp)."
        echo "- nginx: a static file, worker_processes $NGINX_WORKERS, access_log off, keepalive_requests 1000000."
        echo "- bare: tests/bench/bare_mhd.c, libmicrohttpd with MHD_USE_THREAD_PER_CONNECTION |"
        echo "  MHD_USE_INTERNAL_POLLING_THREAD (the services' mode), the JSON from memory."
        echo "- product: vg-product GET /products/1, a cache hit (in-process, kept coherent by Redis tracking; filled before the"
        echo "  warm-up). gateway: vg-gateway GET /api/products/1 forwarded to vg-product, rate limit off."
        echo "- PostgreSQL 15 and Redis started by tests/harness/harness.py on free loopback ports."
        echo "- errors: non-2xx answers plus socket errors over all rounds (a valid run has 0)."
        echo "- Reading it: bare is the floor of the HTTP stack alone. product adds vg_http's routing and"
        echo "  headers; a hit is served from the in-process cache (services/product/localcache.c), so"
        echo "  no Redis round trip; gateway adds a second HTTP hop (libcurl to vg-product) and a session-free route."
        echo
        echo "## Results"
        echo
        echo "$table"
        echo
        echo "- **product / bare MHD: $prod_ratio %** ($verdict)"
        echo "- gateway / bare MHD: $gw_ratio %"
        echo "- nginx / bare MHD: $nginx_ratio %"
        echo
        echo "Requests/s of each round:"
        echo
        for t in "${TARGETS[@]}"; do
            echo "- $t: ${RPS[$t]}"
        done
    } >"$RESULTS"
    echo "bench: wrote ${RESULTS#"$ROOT"/}"

    # The agent's benchmarks append their sections to the same file (BENCH_AGENT=0 skips them).
    if [ "${BENCH_AGENT:-1}" = 1 ]; then
        stop_all
        BUILD=$BUILD BENCH_RESULTS=$RESULTS bash "$ROOT/scripts/bench-agent.sh"
    fi
}

main "$@"
