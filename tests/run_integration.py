"""Runs a test directory (tests/integration by default, or --suite e2e) or the
modules named on the command line against real backing services started once
for the pass; prints "N passed, N failed"."""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "harness"))

import harness  # noqa: E402
import shoptest  # noqa: E402


class TimedResult(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.stream.write(f"  ({time.monotonic() - self._t0:.1f}s)\n")


def main():
    loader = unittest.TestLoader()
    names = sys.argv[1:]
    kind = "integration"
    if names[:1] == ["--suite"]:
        kind, names = names[1], names[2:]
    top = os.path.join(HERE, kind)
    sys.path.insert(0, top)
    if names:
        suite = loader.loadTestsFromNames(names)
    else:
        suite = loader.discover(top, top_level_dir=top)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=TimedResult, stream=sys.stdout)
    try:
        result = runner.run(suite)
    finally:
        shoptest.stop_backing()
        left = harness.reap_leftovers()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    if left:
        print(f"{kind}: FAIL: processes left running after the tests (now stopped): "
              f"{', '.join(sorted(set(left)))}")
        failed += 1
    passed = result.testsRun - failed - len(result.skipped)
    print(f"{kind}: {passed} passed, {failed} failed, {len(result.skipped)} skipped")
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
