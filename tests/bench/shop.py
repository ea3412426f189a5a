"""Starts what `make bench` measures through the harness, then waits.

PostgreSQL and Redis (tests/harness/harness.py `Backing`, free loopback ports,
migrated and seeded database) and the product and gateway services (`Shop`,
free ports, gateway rate limit off). Writes {"product": url, "gateway": url}
to the given file once every part answers its health check, then waits for
SIGTERM or SIGINT and stops everything it started, by pid.

    /usr/bin/python3 tests/bench/shop.py WORKDIR READY_FILE
"""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
import harness  # noqa: E402


def main(workdir, ready_file):
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    backing = harness.Backing(os.path.join(workdir, "backing"))
    shop = None
    rc = 0
    try:
        backing.start(need=("pg", "redis"))
        shop = harness.Shop(backing, "bench", services=["product", "gateway"],
                            log_dir=os.path.join(workdir, "services"))
        shop.start()
        tmp = ready_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"product": shop.url("product"), "gateway": shop.url("gateway")}, f)
        os.rename(tmp, ready_file)
        while not stop:
            signal.pause()
    except KeyboardInterrupt:
        pass
    except harness.HarnessError as e:
        print(f"bench: {e}", file=sys.stderr)
        rc = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if shop is not None:
            try:
                shop.stop()
            except harness.HarnessError as e:
                print(f"bench: {e}", file=sys.stderr)
                rc = 1
        backing.stop()
    return rc


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: shop.py WORKDIR READY_FILE", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
