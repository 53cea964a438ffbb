"""Runs one e2e test case (`module.Class.test_name`, as discover_cases.py
lists it; a module name runs the whole module) for CTest, with an exit code
CTest understands:

    0   passed (an expected failure counts as passed)
    1   failed, errored, passed unexpectedly, or ran no test at all
    77  skipped (SKIP_RETURN_CODE in tests/CMakeLists.txt): CTest shows the
        test as "Not Run (Skipped)" and the output says "SKIPPED: <reason>"

unittest itself exits 0 for a skipped case, which is why a skip used to pass
silently inside its module.
"""
import sys
import unittest

SKIP = 77


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: run_case.py MODULE.CLASS.TEST\n")
        return 2
    suite = unittest.defaultTestLoader.loadTestsFromName(argv[1])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.stderr.flush()
    if result.failures or result.errors or result.unexpectedSuccesses:
        return 1
    if result.testsRun == 0:
        print("FAILED: %s has no test case" % argv[1])
        return 1
    for _test, reason in result.skipped:
        # The tests' own reasons often begin with "SKIPPED: " already.
        if reason.startswith("SKIPPED: "):
            reason = reason[len("SKIPPED: "):]
        print("SKIPPED: %s" % reason)
    if result.skipped and len(result.skipped) == result.testsRun:
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
