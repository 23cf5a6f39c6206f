"""outcome.py - judge one run: parsed KTAP plus exit status -> counted cases.

A run is one source of KTAP: a kernel boot (group@smpN), a host test binary,
or a Python unittest file.  Its verdict needs both what it printed and how
it ended, and the two must agree:

    kernel, QEMU exit 33   KTAP must be complete and show no failure
    kernel, QEMU exit 35   KTAP must show a failure, or a panic
    kernel, anything else  harness error (0: shutdown/triple fault,
                           1: QEMU failed, killed: timeout)
    host,   exit 0         KTAP must be complete and show no failure
    host,   exit != 0      KTAP must show a failure, or stop inside a test
                           (a crash: ASan abort, signal)

Every panic is at least one failure.  A panic inside a test crashes that
test; one outside any test (in a suite's leak check, between suites,
during boot, after the sentinel) becomes a failed case of its own, named
after where it happened, so that it can never hide behind tests that had
all passed before it.

A kernel boot must also have the machine it was started with: the kernel
reports `# machine: cpus=C numa_domains=D`, and a count that differs from
what QEMU was given (an AP that never started, an SRAT misread) is a failed
case `(boot).cpu_count` or `(boot).numa_domains` naming both numbers.
Without it, tests that need more CPUs would skip and the boot would pass.

A harness error is anything that makes the run's own report untrustworthy:
an exit status that disagrees, a KTAP format error, a timeout with no test
named.  Each one counts as one failed case in the final line, so a broken
harness can never look like a pass.  Failures that belong to a test (a
failed assertion, a crash or timeout inside it) are counted on that test.
"""

import signal
from dataclasses import dataclass, field
from typing import List, Optional

from . import ktap
from .qemu import EXIT_FAILED, EXIT_PASSED


@dataclass
class Case:
    """One leaf test case, as counted in the final line."""
    suite: str
    path: str
    status: str
    reason: str = ""
    diagnostics: List[str] = field(default_factory=list)


@dataclass
class Run:
    """One KTAP source and everything known about how it went.

    `kind` is "kernel" or "host".  `exit_status` is None when the run was
    killed by the timeout.  `machine` is (CPUs, NUMA domains) that QEMU was
    started with, for kernel boots.  judge() fills cases, errors and notes.
    """
    where: str
    kind: str
    doc: Optional[ktap.Document]
    exit_status: Optional[int]
    timed_out: bool = False
    timeout: float = 0.0
    seconds: float = 0.0
    log: Optional[str] = None
    stderr: str = ""
    cases: List[Case] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    backtraces: List[List[str]] = field(default_factory=list)
    symbols: dict = field(default_factory=dict)
    expected_suites: Optional[List[str]] = None
    suite_seconds: dict = field(default_factory=dict)
    machine: Optional[tuple] = None
    incomplete: bool = False


def failed_cases(run):
    return [case for case in run.cases if case.status in ktap.FAILED_STATUSES]


def judge(run):
    """Fill run.cases, run.errors and run.notes from run.doc and the exit."""
    doc = run.doc
    run.errors.extend(doc.errors)
    if run.incomplete:
        run.errors.append("the serial log may be cut short: its reader was "
                          "still running after QEMU ended")
    if run.timed_out:
        _judge_timeout(run)
    elif run.kind == "kernel":
        _judge_kernel_exit(run)
    else:
        _judge_host_exit(run)
    _mark_panics(run)
    _check_expected_suites(run)
    run.cases = [_case(path, leaf) for path, leaf in ktap.leaves(doc.results)]
    run.cases.extend(_unclaimed_panics(run))
    run.cases.extend(_machine_mismatches(run))
    run.suite_seconds = {r.name: r.seconds for r in doc.results}
    if not doc.found and not any("no KTAP output" in e for e in run.errors):
        run.errors.append("no KTAP output (no 'KTAP version 1' line)")
    if doc.done and not list(ktap.leaves(doc.results)):
        run.errors.append("the run finished but ran no tests (plan 1..%s): "
                          "nothing was checked" % doc.plan)
    return run


def _check_expected_suites(run):
    """Suites a group names must run: a typo or a suite not compiled in
    would otherwise pass as 'nothing failed'."""
    if not run.expected_suites or not run.doc.done:
        return
    ran = {result.name for result in run.doc.results}
    for suite in run.expected_suites:
        if suite != "all" and suite not in ran:
            run.errors.append("suite %s was asked for but did not run (is it "
                              "compiled in?)" % suite)


def _case(path, leaf):
    return Case(suite=path.split(".", 1)[0], path=path, status=leaf.status,
                reason=leaf.reason, diagnostics=list(leaf.diagnostics))


def _running_placeholder(doc):
    """The CRASH placeholder of the test that was running, if there is one."""
    stop = doc.interrupted
    if stop is None or stop.test is None:
        return None
    for path, leaf in ktap.leaves(doc.results):
        if path == stop.suite + "." + stop.test and leaf.synthetic:
            return leaf
    return None


def _judge_timeout(run):
    running = _running_placeholder(run.doc)
    if running is not None:
        running.status = ktap.TIMEOUT
        running.reason = "TIMEOUT after %.0f s" % run.timeout
        run.notes.append("TIMEOUT in %s.%s after %.0f s"
                         % (run.doc.interrupted.suite, running.name,
                            run.timeout))
    elif run.doc.done:
        run.errors.append("TIMEOUT after %.0f s: the run finished but never "
                          "exited" % run.timeout
                          + (" via isa-debug-exit" if run.kind == "kernel"
                             else ""))
    else:
        run.errors.append("TIMEOUT after %.0f s with no test running (%s)"
                          % (run.timeout, run.doc.ended_early))


def _judge_kernel_exit(run):
    doc, status = run.doc, run.exit_status
    nfailed = ktap.count(doc.results)[1]
    if status == EXIT_PASSED:
        if nfailed:
            run.errors.append("QEMU exit 33 says all passed, but the KTAP "
                              "shows %d failed" % nfailed)
        _ended_early_is_error(run, "despite exit 33")
    elif status == EXIT_FAILED:
        if not nfailed and not doc.panics:
            run.errors.append("QEMU exit 35 says something failed, but the "
                              "KTAP shows no failure")
        if not doc.panics:
            _ended_early_is_error(run, "with no panic message")
    else:
        run.errors.append(_bad_qemu_exit(status, run.stderr))
        if doc.ended_early and doc.found:
            run.notes.append(doc.ended_early)


def _bad_qemu_exit(status, stderr):
    if status == 0:
        text = ("QEMU exited 0: the guest shut down or triple-faulted "
                "(-no-reboot), without writing to isa-debug-exit")
    elif status == 1:
        text = "QEMU failed (exit 1)"
    elif status < 0:
        text = "QEMU %s" % describe_exit(status)
    else:
        text = "unexpected QEMU exit status %d" % status
    tail = _tail(stderr)
    return text + (":\n" + tail if tail else "")


def _judge_host_exit(run):
    doc, status = run.doc, run.exit_status
    nfailed = ktap.count(doc.results)[1]
    if status == 0:
        if nfailed:
            run.errors.append("exit 0 but the KTAP shows %d failed" % nfailed)
        _ended_early_is_error(run, "despite exit 0")
    elif doc.ended_early:
        _host_crash(run, status)
    elif not nfailed:
        run.errors.append("exit %d although every test passed%s"
                          % (status, _stderr_suffix(run.stderr)))


def _host_crash(run, status):
    """Output stopped and the binary failed: it crashed.  Blame the test."""
    how = describe_exit(status)
    running = _running_placeholder(run.doc)
    if running is not None:
        running.reason = "crash: " + how
        run.notes.append("crash in %s.%s: %s%s"
                         % (run.doc.interrupted.suite, running.name, how,
                            _stderr_suffix(run.stderr)))
    else:
        run.errors.append("crash outside any test (%s): %s%s"
                          % (run.doc.ended_early, how,
                             _stderr_suffix(run.stderr)))


def describe_exit(status):
    if status is not None and status < 0:
        try:
            return "killed by " + signal.Signals(-status).name
        except ValueError:
            return "killed by signal %d" % -status
    return "exit status %s" % status


def _ended_early_is_error(run, why):
    if run.doc.ended_early and run.doc.found:
        run.errors.append("%s %s" % (run.doc.ended_early, why))


def _mark_panics(run):
    """Give each crashed test the panic message as its reason."""
    for panic in run.doc.panics:
        running = _running_placeholder(run.doc)
        if running is not None and running.name == panic.test:
            running.reason = "PANIC: " + panic.message


MACHINE_SUITE = "(boot)"


def _machine_mismatches(run):
    """Failed cases for a machine that is not the one QEMU was given."""
    if run.machine is None or not run.doc.found:
        return []
    if run.doc.machine is None:
        return [_machine_case("cpu_count", "the kernel did not report its "
                              "CPUs ('# machine: cpus=C numa_domains=D' "
                              "after the KTAP version line)")]
    (want_cpus, want_domains), (cpus, domains) = run.machine, run.doc.machine
    cases = []
    if cpus != want_cpus:
        cases.append(_machine_case(
            "cpu_count", "QEMU was started with %d CPU(s) (-smp %d) but the "
            "kernel runs %d: an AP did not start (see 'smp:' in the log)"
            % (want_cpus, want_cpus, cpus)))
    if domains != want_domains:
        cases.append(_machine_case(
            "numa_domains", "QEMU was given %d NUMA node(s) but the kernel "
            "found %d memory domain(s) (see 'acpi:' and 'vm:' in the log)"
            % (want_domains, domains)))
    return cases


def _machine_case(name, reason):
    return Case(suite=MACHINE_SUITE, path=MACHINE_SUITE + "." + name,
                status=ktap.FAIL, reason=reason)


# The name of the case that stands for a panic outside any test.
PANIC_CASE_NAME = "<panic outside any test>"


def _unclaimed_panics(run):
    """A failed case for each panic that no crashed test carries."""
    claimed = {case.path for case in run.cases
               if case.status == ktap.CRASH and case.reason.startswith("PANIC")}
    extra = []
    for panic in run.doc.panics:
        if panic.test and panic.suite + "." + panic.test in claimed:
            claimed.discard(panic.suite + "." + panic.test)
            continue
        suite = panic.suite if panic.suite != "(top level)" \
            else "(between suites)"
        extra.append(Case(suite=suite, path=suite + "." + PANIC_CASE_NAME,
                          status=ktap.CRASH,
                          reason="PANIC %s: %s" % (_panic_place(panic),
                                                   panic.message)))
    return extra


def _panic_place(panic):
    if panic.suite == ktap.BOOT:
        return "during boot, before the tests began"
    if panic.suite == ktap.AFTER_DONE:
        return "after '# ktest: done'"
    if panic.suite == "(top level)":
        return "between suites"
    if panic.test:
        return "in %s.%s, which was not the test running last" \
            % (panic.suite, panic.test)
    return "in suite %s outside any test (its leak check or setup)" \
        % panic.suite


def _tail(text, lines=15):
    return "\n".join(text.strip().splitlines()[-lines:])


def _stderr_suffix(stderr):
    tail = _tail(stderr)
    return ("; stderr ends:\n" + tail) if tail else ""
