"""report.py - what the runner prints once every run is judged.

Three parts, in this order:

  1. a table with one row per (suite, where): passed, failed, skipped, time;
     harness errors get a row of their own, `(harness)`, so the columns add
     up to the last line;
  2. the details of every failure: diagnostics before the `not ok`, panics
     with their symbolized backtrace, timeouts, harness errors, log paths;
  3. the last line, exactly `N passed, M failed` or `N passed, M failed,
     K skipped`, counting leaf test cases plus one failure per harness error.
"""

from . import ktap
from .outcome import failed_cases

HARNESS_ROW = "(harness)"


def totals(runs):
    """(passed, failed, skipped) over all runs, harness errors included."""
    passed = failed = skipped = 0
    for run in runs:
        for case in run.cases:
            passed += case.status == ktap.PASS
            skipped += case.status == ktap.SKIP
            failed += case.status in ktap.FAILED_STATUSES
        failed += len(run.errors)
    return passed, failed, skipped


def final_line(passed, failed, skipped):
    line = "%d passed, %d failed" % (passed, failed)
    return line + (", %d skipped" % skipped if skipped else "")


def table(runs):
    rows = [("suite", "where", "passed", "failed", "skipped", "time")]
    for run in runs:
        rows.extend(_rows_of(run))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:],
                                                           widths[2:])]
        lines.append("  ".join(cells).rstrip())
    return lines


def _rows_of(run):
    suites = []
    for case in run.cases:
        if case.suite not in suites:
            suites.append(case.suite)
    rows = [_suite_row(run, suite, len(suites)) for suite in suites]
    if not suites and not run.errors:
        rows.append(("(no tests)", run.where, "0", "0", "0",
                     _seconds(run.seconds)))
    if run.errors:
        rows.append((HARNESS_ROW, run.where, "0", str(len(run.errors)), "0",
                     _seconds(run.seconds)))
    return rows


def _suite_row(run, suite, nsuites):
    cases = [case for case in run.cases if case.suite == suite]
    seconds = run.suite_seconds.get(suite)
    if seconds is None and nsuites == 1:
        seconds = run.seconds
    return (suite, run.where,
            str(sum(c.status == ktap.PASS for c in cases)),
            str(sum(c.status in ktap.FAILED_STATUSES for c in cases)),
            str(sum(c.status == ktap.SKIP for c in cases)),
            _seconds(seconds))


def _seconds(seconds):
    return "-" if seconds is None else "%.1fs" % seconds


def details(runs):
    """Failure details of every run that has any, as printable lines."""
    lines = []
    for run in runs:
        if failed_cases(run) or run.errors or run.notes:
            lines.append("")
            lines.extend(_run_details(run))
    return lines


def _run_details(run):
    header = "=== %s" % run.where
    if run.log:
        header += " (serial log: %s)" % run.log
    lines = [header]
    lines.extend(_failure_lines(failed_cases(run)))
    for backtrace in run.backtraces:
        lines.extend("    " + line for line in backtrace)
    for error in run.errors:
        lines.extend(_indent_after_first("HARNESS ERROR: " + error))
    for note in run.notes:
        lines.extend(_indent_after_first(note))
    return lines


def _failure_lines(cases):
    lines, never_ran = [], 0
    for case in cases:
        if case.reason.startswith("never started"):
            never_ran += 1
            continue
        text = "%s %s" % (case.status.upper(), case.path)
        lines.append(text + (": " + case.reason if case.reason else ""))
        lines.extend("    " + diagnostic for diagnostic in case.diagnostics)
    if never_ran:
        lines.append("CRASH %d more test(s) never started: output stopped "
                     "before them" % never_ran)
    return lines


def _indent_after_first(text):
    first, *rest = text.splitlines() or [""]
    return [first] + ["    " + line for line in rest]


def print_report(runs, out):
    """Print table, details and the last line; return the failure count."""
    passed, failed, skipped = totals(runs)
    for line in table(runs) + details(runs):
        print(line, file=out)
    print(final_line(passed, failed, skipped), file=out)
    out.flush()
    return failed
