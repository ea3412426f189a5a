#!/usr/bin/env bash
# Installs every Debian package the project uses. Idempotent, and fast when all
# are present: it asks dpkg first and touches apt only for what is missing.
set -euo pipefail

PKGS=(
    # toolchain and build
    build-essential make pkg-config clang llvm clang-format clang-tidy cppcheck
    libclang-rt-14-dev bpftool libbpf-dev libelf-dev zlib1g-dev libzstd-dev libbpf-tools
    protobuf-c-compiler libprotobuf-c-dev
    # libraries the services and the agent link
    libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libpq-dev libhiredis-dev
    librabbitmq-dev libsodium-dev libyaml-dev libcmocka-dev
    # backing services and the tools the tests drive
    postgresql postgresql-client postgresql-contrib redis-server redis-tools
    rabbitmq-server python3 python3-aiosmtpd python3-yaml prometheus prometheus-alertmanager
    wrk nginx curl jq procps psmisc iproute2 shellcheck yamllint
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
        exit 1
    fi
    echo "deps.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Package scripts must not start system instances of the backing services:
    # the stack runs its own on private ports. policy-rc.d 101 says "not now".
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$made_policy" = 1 ] && rm -f "$policy"
fi

# Node.js is only needed for the storefront and browser tests; Vite 7 wants >= 20.19.
if command -v node >/dev/null 2>&1; then
    v=$(node -p 'process.versions.node')
    major=${v%%.*}
    rest=${v#*.}
    minor=${rest%%.*}
    if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
        echo "deps.sh: note: Node.js $v is older than 20.19, which Vite 7 needs (storefront)" >&2
    fi
fi
exit 0
