#!/usr/bin/env bash
# make up / make down: the local stack on loopback, state and logs under .run/.
# The start and stop logic lives in tests/harness/harness.py, shared with the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
up)
    bash scripts/deps.sh
    make -s -j"$(nproc)" all
    exec /usr/bin/python3 tests/harness/harness.py up
    ;;
down)
    exec /usr/bin/python3 tests/harness/harness.py down
    ;;
*)
    echo "usage: stack.sh up|down" >&2
    exit 2
    ;;
esac
