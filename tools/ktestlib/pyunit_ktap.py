"""pyunit_ktap.py - run a Python unittest file and print its results as KTAP.

    python3 pyunit_ktap.py tests/host/test_ktap.py

The runner starts this as a child process, so a Python test file is just
one more KTAP source, parsed and judged exactly like a host test binary.
The suite is named by the file's KTEST_SUITE variable, or else by the file
name without `test_` and `.py`.  Exit status 0 iff nothing failed.
"""

import importlib.util
import os
import sys
import unittest


class _KtapResult(unittest.TestResult):
    """Prints one KTAP line per test as it finishes, indented as a suite."""

    def __init__(self):
        super().__init__()
        self.number = 0
        self.counts = {"pass": 0, "fail": 0, "skip": 0}

    def startTest(self, test):
        super().startTest(test)
        print("  # running: %s" % _name(test), flush=True)

    def addSuccess(self, test):
        self._report(test, "pass", "ok %d %s")

    def addFailure(self, test, err):
        self._diagnose(self._exc_info_to_string(err, test))
        self._report(test, "fail", "not ok %d %s")

    def addError(self, test, err):
        self._diagnose(self._exc_info_to_string(err, test))
        self._report(test, "fail", "not ok %d %s")

    def addSkip(self, test, reason):
        self._report(test, "skip", "ok %d %s # SKIP " + reason.replace("#",
                                                                        ""))

    def addExpectedFailure(self, test, err):
        self._report(test, "pass", "ok %d %s")

    def addUnexpectedSuccess(self, test):
        self._diagnose("passed, but is marked expectedFailure")
        self._report(test, "fail", "not ok %d %s")

    def _diagnose(self, text):
        for line in text.rstrip().splitlines():
            print("  # " + line)

    def _report(self, test, status, template):
        self.number += 1
        self.counts[status] += 1
        print("  " + template % (self.number, _name(test)), flush=True)


def _name(test):
    """'module.Class.test_does_x' -> 'Class_does_x' (no dots: they would
    read as suite separators)."""
    case = test.id().split(".", 1)[-1]
    return case.replace(".test_", "_").replace(".", "_")


def _load(path):
    directory = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, directory)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _suite_name(module, path):
    default = os.path.splitext(os.path.basename(path))[0]
    if default.startswith("test_"):
        default = default[len("test_"):]
    return getattr(module, "KTEST_SUITE", default)


def main(path):
    module = _load(path)
    tests = unittest.defaultTestLoader.loadTestsFromModule(module)
    suite = _suite_name(module, path)
    print("KTAP version 1\n1..1")
    print("  KTAP version 1\n  # Subtest: %s\n  1..%d"
          % (suite, tests.countTestCases()))
    result = _KtapResult()
    tests.run(result)
    counts = result.counts
    print("%s 1 %s" % ("not ok" if counts["fail"] else "ok", suite))
    print("# Totals: pass:%d fail:%d skip:%d total:%d"
          % (counts["pass"], counts["fail"], counts["skip"],
             sum(counts.values())))
    print("# ktest: done", flush=True)
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: pyunit_ktap.py TEST_FILE.py")
    sys.exit(main(sys.argv[1]))
