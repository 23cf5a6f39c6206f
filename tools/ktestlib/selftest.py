"""selftest.py - prove the runner can fail: boot broken suites, check verdicts.

The kernel compiles in five suites that go wrong on purpose.  `ktest=all`
never selects them; each is booted alone (`ktest=selftest_fail`, ...).  The
runner judges those boots like any other, then checks it judged them right:

    selftest_fail    a failed case whose diagnostics say expected/actual
                     and file:line
    selftest_panic   a crashed case, and a backtrace whose symbolized frames
                     include a *selftest* function with a file:line
    selftest_hang    a TIMEOUT naming selftest_hang.<the running test>
    selftest_triple  a harness error for QEMU exit 0
    selftest_leak    a suite whose test passed but which leaked: a failure
                     naming the leak ("leaked 1 widgets")

Each right verdict is one passed case of suite `runner_selftest`; a wrong
one is a failed case that says what was seen.  The broken boots' own
failures are expected, so they are not counted again.
"""

import re
from dataclasses import dataclass
from typing import Callable

from . import ktap
from .groups import Group
from .outcome import Case, Run
from .symbolize import has_line

SUITE = "runner_selftest"
FILE_LINE = re.compile(r"\S+\.[A-Za-z]+:\d+")

# Seconds to give the hanging suite, by accelerator.
HANG_TIMEOUT = {"tcg": 20.0, "kvm": 10.0}


@dataclass
class SelfTest:
    suite: str
    case: str
    check: Callable  # (Run, symbols) -> None if right, else what was wrong

    def group(self):
        return Group(self.suite, [1], [self.suite])


def check_fail(run, symbols):
    failed = [c for c in run.cases if c.suite == "selftest_fail"
              and c.status == ktap.FAIL]
    if not failed:
        return "no failed case in selftest_fail (%s)" % _seen(run)
    text = "\n".join(failed[0].diagnostics)
    if "expected" not in text or not FILE_LINE.search(text):
        return "failure diagnostics lack expected/actual and file:line: %r" \
            % text
    # The multi-line string comparison: where they differ, on one line.
    strings = [c for c in failed if "program_outputs" in c.path]
    text = "\n".join(strings[0].diagnostics) if strings else ""
    window = r'from byte 0: "one\ntwo\nthree\nfour\n" vs "one\ntwo\nTHREE'
    if "differ at byte 8 (line 3)" not in text or window not in text:
        return "a string comparison's diagnostic lacks where the strings " \
            "differ, on one line with newlines escaped: %r" % text
    if run.errors:
        return "unexpected harness error: %s" % run.errors[0]
    return None


def check_panic(run, symbols):
    crashed = [c for c in run.cases if c.suite == "selftest_panic"
               and c.status == ktap.CRASH and c.reason.startswith("PANIC")]
    if not crashed:
        return "no crashed case with a PANIC in selftest_panic (%s)" \
            % _seen(run)
    frames = [pair for pairs in symbols.values() for pair in pairs]
    if not any("selftest" in function and has_line(location)
               for function, location in frames):
        return "no symbolized *selftest* frame with file:line in %r" % frames
    if run.errors:
        return "unexpected harness error: %s" % run.errors[0]
    return None


def check_hang(run, symbols):
    timed_out = [c for c in run.cases if c.suite == "selftest_hang"
                 and c.status == ktap.TIMEOUT]
    if not run.timed_out or not timed_out:
        return "no TIMEOUT naming a selftest_hang test (%s)" % _seen(run)
    return None


def check_triple(run, symbols):
    if run.exit_status != 0 or run.timed_out:
        return "QEMU did not exit 0 (%s)" % _seen(run)
    if not any("exited 0" in error for error in run.errors):
        return "exit 0 was not reported as a harness error"
    return None


def check_leak(run, symbols):
    leaked = [c for c in run.cases if c.suite == "selftest_leak"
              and c.status == ktap.FAIL]
    text = " ".join([c.reason or "" for c in leaked] +
                    [d for c in leaked for d in c.diagnostics])
    if not leaked or "leaked 1 widgets" not in text:
        return "no failure reporting 'leaked 1 widgets' (%s)" % _seen(run)
    if run.errors:
        return "unexpected harness error: %s" % run.errors[0]
    return None


SELFTESTS = [
    SelfTest("selftest_fail", "failed_assertion_is_a_failure", check_fail),
    SelfTest("selftest_panic", "panic_is_a_crash_with_backtrace",
             check_panic),
    SelfTest("selftest_hang", "hang_is_a_timeout_naming_the_test",
             check_hang),
    SelfTest("selftest_triple", "triple_fault_is_a_harness_error",
             check_triple),
    SelfTest("selftest_leak", "leak_is_a_suite_failure", check_leak),
]


def verdict(selftest, run, symbols):
    """The runner_selftest case for one broken boot."""
    if run is None:
        wrong = "the boot did not happen"
    else:
        wrong = selftest.check(run, symbols)
    path = "%s.%s" % (SUITE, selftest.case)
    if wrong is None:
        return Case(SUITE, path, ktap.PASS)
    return Case(SUITE, path, ktap.FAIL, reason=wrong)


def summary_run(cases, seconds):
    """A Run that carries only the runner_selftest cases, for the report."""
    run = Run(where="runner", kind="host", doc=None, exit_status=0,
              seconds=seconds)
    run.cases = cases
    return run


def _seen(run):
    status = "timed out" if run.timed_out else "exit %s" % run.exit_status
    failed = [c.path + " " + c.status for c in run.cases
              if c.status != ktap.PASS]
    return "%s; %s; errors: %s" % (status, ", ".join(failed) or "no failures",
                                   "; ".join(run.errors) or "none")
