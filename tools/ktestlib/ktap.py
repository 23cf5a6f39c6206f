"""ktap.py - a strict parser for the KTAP v1 that Damselfly's tests print.

The kernel and the host test binaries print the same shape (see
tests/host/htest.h): a top-level document whose results are suites, each
suite a nested document indented two more spaces, then the suite's own
result line back at the outer indentation:

    KTAP version 1                      <- required; lines before it are noise
    1..2                                <- plan: how many results follow
      KTAP version 1                    <- a nested block opens
      # Subtest: printf
      1..2
      # running: formats_decimal        <- names the test a crash or hang hit
      ok 1 formats_decimal
      # expected ... (file.c:42)        <- diagnostics precede their result
      not ok 2 pads_hex
    not ok 1 printf                     <- the block's result closes it
    ...
    # Totals: pass:1 fail:1 skip:0 total:2
    # ktest: done                       <- sentinel: the run really finished

The parser keeps a stack of open blocks.  A line's indentation says which
block it belongs to: a version line deeper than the innermost block opens a
child; a result line at a shallower indentation closes the blocks above it,
and the innermost of those becomes that result's subtests.

Noise is tolerated, because a serial console carries kernel printk and
bootloader output too: any line that is not KTAP-shaped is skipped.  What is
not tolerated is a line that starts like KTAP and is broken (`ok` with no
number, `not ok x`, `1..`), numbering that skips or repeats, a name used
twice in one block, a result that names another test than the `# running:`
line before it (two CPUs' output mixed in one line, say), a plan that
disagrees with the results, a suite that says ok but ran no test, a suite
without its result line, totals that disagree with the leaf results, or a
missing sentinel.  Each of those is
recorded in Document.errors with its line number.

A stream that stops early (panic, hang, crash) is still parsed: every test
that has no result gets a placeholder with status CRASH, so that it is
counted as failed, and Document.interrupted names the test that was
running.  Deciding whether stopping early was explained (a panic, a timeout)
is the caller's job; see outcome.py.
"""

import re
from dataclasses import dataclass, field
from typing import List, Optional

# Statuses of a result.  Everything but PASS and SKIP counts as failed.
PASS, FAIL, SKIP, CRASH, TIMEOUT = "pass", "fail", "skip", "crash", "timeout"
FAILED_STATUSES = (FAIL, CRASH, TIMEOUT)

# Name given to the extra case that stands for a suite that failed with no
# failing test, e.g. `not ok 2 vm # ERROR leaked 12 pages`.
SUITE_CHECK_NAME = "<leak check>"

ANSI_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")
VERSION = re.compile(r"^KTAP version (\S+)$")
PLAN = re.compile(r"^1\.\.(\d+)$")
LOOKS_LIKE_PLAN = re.compile(r"^\d+\.\.")
RESULT = re.compile(
    r"^(?P<ok>ok|not ok) (?P<number>\d+)(?: (?P<name>[^#]*?))?"
    r"\s*(?:#\s*(?P<directive>.*))?$")
LOOKS_LIKE_RESULT = re.compile(r"^(not\s*)?ok(\s|$)")
SUBTEST = re.compile(r"^#\s*Subtest:\s*(\S+)\s*$")
RUNNING = re.compile(r"^#\s*running:\s*(\S+)\s*$")
# A panic's lines are KTAP diagnostics while tests run ("# PANIC: ...");
# before the harness has set its prefix (early boot) they are bare.
PANIC = re.compile(r"^(?:#\s*)?PANIC:\s*(.*)$")
BACKTRACE = re.compile(
    r"^(?:#\s*)?bt:\s*#(\d+)\s+0x([0-9a-fA-F]{1,16})\s+(\S+?)(?:\+0x([0-9a-fA-F]+))?\s*$")
TOTALS = re.compile(r"^#\s*Totals:")
TOTALS_FIELDS = re.compile(
    r"^#\s*Totals:\s*pass:(\d+)\s+fail:(\d+)\s+skip:(\d+)\s+total:(\d+)\s*$")
SENTINEL = re.compile(r"^#\s*ktest:\s*done\s*$")
# The kernel's report of the machine it runs on (kern_ktest.c), top level.
MACHINE = re.compile(r"^#\s*machine:\s*cpus=(\d+)\s+numa_domains=(\d+)\s*$")

# Where a panic outside the KTAP document happened (Panic.suite).
BOOT, AFTER_DONE = "(boot)", "(after done)"


@dataclass
class Result:
    """One result line, or a placeholder for one that never came.

    A suite is a result with subtests; a leaf is one without.  `synthetic`
    marks entries the parser made up (placeholders after a crash, the
    suite-level leak check) rather than read.
    """
    name: str
    number: int
    status: str
    directive: str = ""
    reason: str = ""
    diagnostics: List[str] = field(default_factory=list)
    subtests: List["Result"] = field(default_factory=list)
    is_suite: bool = False
    synthetic: bool = False
    seconds: Optional[float] = None
    line: int = 0


@dataclass
class Frame:
    """One `# bt:` line of a panic backtrace."""
    index: int
    address: int
    function: str
    offset: Optional[int]
    text: str


@dataclass
class Panic:
    """A `PANIC:` line and its backtrace.  `suite` is the block it was
    printed in (a suite, "(top level)" between suites, BOOT before the KTAP
    began, AFTER_DONE after the sentinel); `test` the test that was
    running, or None when the panic came between tests."""
    message: str
    suite: str
    test: Optional[str]
    frames: List[Frame] = field(default_factory=list)
    line: int = 0


@dataclass
class Interruption:
    """Where a stream that stopped early stopped: suite path and test name."""
    suite: str
    test: Optional[str]


@dataclass
class Document:
    found: bool = False
    plan: Optional[int] = None
    results: List[Result] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    totals: Optional[tuple] = None
    done: bool = False
    ended_early: Optional[str] = None
    interrupted: Optional[Interruption] = None
    panics: List[Panic] = field(default_factory=list)
    noise_lines: int = 0
    machine: Optional[tuple] = None     # (cpus, numa domains) if reported


@dataclass
class _Block:
    """An open KTAP document: the root, or a suite's nested block."""
    indent: int
    path: str
    name: Optional[str] = None
    plan: Optional[int] = None
    results: List[Result] = field(default_factory=list)
    pending: List[str] = field(default_factory=list)
    running: Optional[str] = None
    start: Optional[float] = None
    line: int = 0


def clean(line):
    """Strip ANSI escapes, carriage returns and trailing blanks."""
    return ANSI_ESCAPE.sub("", line).replace("\r", "").rstrip()


def parse(lines, times=None):
    """Parse an iterable of output lines into a Document.

    `times`, if given, holds the arrival time of each line (seconds); suites
    then carry how long they ran.  Never raises on bad input: problems end
    up in Document.errors.
    """
    return _Parser(times).run(list(lines))


def leaves(results, prefix=""):
    """Yield (dotted path, Result) for every leaf case under `results`."""
    for result in results:
        path = prefix + result.name
        if result.subtests:
            yield from leaves(result.subtests, path + ".")
        elif not result.is_suite or result.synthetic:
            yield path, result


def count(results):
    """Return (passed, failed, skipped) over the leaf cases of `results`."""
    passed = failed = skipped = 0
    for _, leaf in leaves(results):
        passed += leaf.status == PASS
        skipped += leaf.status == SKIP
        failed += leaf.status in FAILED_STATUSES
    return passed, failed, skipped


class _Parser:
    """Single-use state machine behind parse(); see the module comment."""

    def __init__(self, times):
        self.doc = Document()
        self.times = times
        self.stack = []
        self.lineno = 0
        self.totals_line = 0

    def run(self, lines):
        start = self._find_version(lines)
        if start is None:
            self.doc.ended_early = "no KTAP output (no 'KTAP version 1' line)"
            return self.doc
        for index in range(start + 1, len(lines)):
            self.lineno = index + 1
            self._line(lines[index])
            if self.doc.done:
                self._after_done(lines, index + 1)
                break
        self._finish()
        return self.doc

    def error(self, message):
        self.doc.errors.append("line %d: %s" % (self.lineno, message))

    def now(self):
        if self.times is None or self.lineno - 1 >= len(self.times):
            return None
        return self.times[self.lineno - 1]

    # --- before the version line: only panics matter -----------------------

    def _find_version(self, lines):
        for index, raw in enumerate(lines):
            self.lineno = index + 1
            text = clean(raw)
            if VERSION.match(text):
                return self._open_root(text, index)
            self._outside_panic(text.strip(), BOOT)
        return None

    def _open_root(self, text, index):
        version = VERSION.match(text).group(1)
        if version != "1":
            self.error("unsupported 'KTAP version %s'" % version)
        self.doc.found = True
        self.stack.append(_Block(indent=0, path="", start=self.now(),
                                 line=index + 1))
        return index

    def _outside_panic(self, text, where):
        """A panic during boot, before any KTAP, or after the sentinel (on
        another CPU, say) is still a panic: keep it, with its backtrace."""
        match = PANIC.match(text)
        if match:
            self.doc.panics.append(Panic(match.group(1), where, None,
                                         line=self.lineno))
        elif BACKTRACE.match(text) and self.doc.panics:
            self.doc.panics[-1].frames.append(_frame(text))

    def _after_done(self, lines, start):
        """Past '# ktest: done' only panics count; the rest is ignored."""
        for index in range(start, len(lines)):
            self.lineno = index + 1
            self._outside_panic(clean(lines[index]).strip(), AFTER_DONE)

    # --- one line after the version line -----------------------------------

    def _line(self, raw):
        text = clean(raw)
        stripped = text.lstrip(" ")
        if not stripped:
            return
        indent = len(text) - len(stripped)
        if stripped.startswith("#") or PANIC.match(stripped) or (
                BACKTRACE.match(stripped) and self.doc.panics):
            self._diagnostic(indent, stripped)
        elif VERSION.match(stripped):
            self._version(indent, stripped)
        elif RESULT.match(stripped):
            self._result(indent, RESULT.match(stripped))
        elif PLAN.match(stripped):
            self._plan(indent, int(PLAN.match(stripped).group(1)))
        elif LOOKS_LIKE_RESULT.match(stripped):
            self.error("malformed result line: %r" % stripped)
        elif LOOKS_LIKE_PLAN.match(stripped):
            self.error("malformed plan line: %r" % stripped)
        else:
            self.doc.noise_lines += 1

    def _version(self, indent, text):
        if VERSION.match(text).group(1) != "1":
            self.error("unsupported %r" % text)
        if indent == 0:
            self._close_unfinished(1)
            self.error("second top-level 'KTAP version 1' (did the machine "
                       "reboot?)")
            return
        if indent <= self.stack[-1].indent:
            self._close_unfinished(indent)
        top = self.stack[-1]
        prefix = top.path + "." if top.path else ""
        path = prefix + "(suite %d)" % (len(top.results) + 1)
        self.stack.append(_Block(indent=indent, path=path, start=self.now(),
                                 line=self.lineno))

    def _close_unfinished(self, indent):
        """Pop blocks at `indent` or deeper that never got a result line."""
        while len(self.stack) > 1 and self.stack[-1].indent >= indent:
            block = self.stack.pop()
            self.error("suite %s has no result line" % _label(block))
            self._attach(self.stack[-1], self._placeholder_suite(block))

    def _plan(self, indent, planned):
        top = self.stack[-1]
        if indent != top.indent:
            self.error("plan '1..%d' at unexpected indentation" % planned)
        elif top.plan is not None:
            self.error("second plan '1..%d' in %s" % (planned, _label(top)))
        elif top.results:
            self.error("plan '1..%d' after results in %s"
                       % (planned, _label(top)))
        else:
            top.plan = planned

    # --- results -----------------------------------------------------------

    def _result(self, indent, match):
        child = None
        if indent > self.stack[-1].indent:
            self.error("result line deeper than any open block: %r"
                       % match.group(0))
            return
        if indent < self.stack[-1].indent:
            child = self._pop_to(indent)
            if child is None:
                return
        result = self._make_result(match, child)
        self._check_number(self.stack[-1], result)
        self._check_name(self.stack[-1], result)
        self._attach(self.stack[-1], result)

    def _pop_to(self, indent):
        """Close blocks deeper than `indent`; return the one just inside it."""
        child = self.stack.pop()
        while self.stack and self.stack[-1].indent > indent:
            self.error("suite %s has no result line" % _label(child))
            self._attach(self.stack[-1], self._placeholder_suite(child))
            child = self.stack.pop()
        if not self.stack or self.stack[-1].indent != indent:
            self.error("result at indentation %d matches no open block"
                       % indent)
            self.stack.append(child)
            return None
        return child

    def _make_result(self, match, child):
        top = self.stack[-1]
        name = (match.group("name") or "").strip()
        directive, reason = _split_directive(match.group("directive") or "")
        status = _status(match.group("ok") == "ok", directive)
        if not name:
            self.error("result %s has no name" % match.group("number"))
            name = "(unnamed %s)" % match.group("number")
        result = Result(name=name, number=int(match.group("number")),
                        status=status, directive=directive, reason=reason,
                        diagnostics=top.pending, line=self.lineno)
        top.pending = []
        if child is None and top.running not in (None, name):
            self.error("result %s names %r but '# running:' announced %r"
                       % (match.group("number"), name, top.running))
        top.running = None
        if child is not None:
            self._adopt(result, child)
        return result

    def _adopt(self, result, block):
        """Make `block` the subtests of suite result `result`, and check it."""
        result.is_suite = True
        result.subtests = block.results
        result.diagnostics = block.pending + result.diagnostics
        if block.start is not None and self.now() is not None:
            result.seconds = self.now() - block.start
        if block.name is not None and block.name != result.name:
            self.error("suite result %r does not match '# Subtest: %s'"
                       % (result.name, block.name))
        self._check_plan(block, _label(block, result.name))
        self._check_suite_status(result)

    def _check_number(self, block, result):
        expected = len(block.results) + 1
        if result.number == expected:
            return
        seen = [r.number for r in block.results]
        if result.number in seen:
            self.error("duplicate result number %d (%s) in %s"
                       % (result.number, result.name, _label(block)))
        else:
            self.error("result %d (%s) out of order in %s: expected %d"
                       % (result.number, result.name, _label(block),
                          expected))

    def _check_name(self, block, result):
        if any(r.name == result.name for r in block.results):
            self.error("name %r used twice in %s" % (result.name,
                                                     _label(block)))

    def _check_plan(self, block, label):
        if block.plan is None:
            self.error("suite %s has no plan line" % label)
        elif block.plan != len(block.results):
            self.error("suite %s planned %d tests but reported %d"
                       % (label, block.plan, len(block.results)))

    def _check_suite_status(self, suite):
        """A suite's own ok/not ok must agree with its tests."""
        _, failed, _ = count(suite.subtests)
        if suite.status == PASS and failed:
            self.error("suite %s says ok but %d of its tests failed"
                       % (suite.name, failed))
        elif suite.status in FAILED_STATUSES and not failed:
            suite.subtests.append(_suite_check(suite))
        elif suite.status == PASS and not list(leaves(suite.subtests)):
            self.error("suite %s says ok but ran no tests" % suite.name)
        elif suite.status == SKIP and not list(leaves(suite.subtests)):
            suite.subtests.append(Result(
                name="<suite skipped>", number=0, status=SKIP,
                reason=suite.reason, synthetic=True))

    def _attach(self, block, result):
        block.results.append(result)

    # --- diagnostics -------------------------------------------------------

    def _diagnostic(self, indent, text):
        if TOTALS.match(text):
            self._totals(text)
            return
        if SENTINEL.match(text):
            self._sentinel()
            return
        block = self._block_at(indent)
        block.pending.append(text)
        self._special_diagnostic(block, text)

    def _special_diagnostic(self, block, text):
        subtest, running = SUBTEST.match(text), RUNNING.match(text)
        panic, frame = PANIC.match(text), BACKTRACE.match(text)
        machine = MACHINE.match(text)
        if machine and block is self.stack[0]:
            self._machine(machine)
            block.pending.remove(text)
        elif subtest and block.name is None and not block.results:
            block.name = subtest.group(1)
            block.path = block.path.rsplit("(", 1)[0] + block.name
            block.pending.remove(text)
        elif running:
            block.running = running.group(1)
            block.pending.remove(text)
        elif panic:
            self.doc.panics.append(Panic(panic.group(1), _label(block),
                                         block.running, line=self.lineno))
            block.pending.remove(text)
        elif frame and self.doc.panics:
            self.doc.panics[-1].frames.append(_frame(text))
            block.pending.remove(text)

    def _machine(self, match):
        if self.doc.machine is not None:
            self.error("second '# machine:' line")
        self.doc.machine = (int(match.group(1)), int(match.group(2)))

    def _block_at(self, indent):
        """The innermost open block not deeper than `indent`."""
        for block in reversed(self.stack):
            if block.indent <= indent:
                return block
        return self.stack[0]

    def _totals(self, text):
        self._close_unfinished(1)
        if self.doc.totals is not None:
            self.error("second '# Totals:' line")
        match = TOTALS_FIELDS.match(text)
        if not match:
            self.error("malformed totals line: %r" % text)
            self.doc.totals = ()
            return
        self.doc.totals = tuple(int(n) for n in match.groups())
        self.totals_line = self.lineno

    def _sentinel(self):
        if self.doc.totals is None:
            self.error("'# ktest: done' without a '# Totals:' line before it")
        self.doc.done = True

    # --- end of stream -----------------------------------------------------

    def _finish(self):
        root = self.stack[0]
        self.doc.plan = root.plan
        if self.doc.done:
            self._close_unfinished(1)
            self._check_plan(root, "(top level)")
            self._check_totals()
        else:
            self._stopped_early()
        self.doc.results = root.results

    def _check_totals(self):
        if not self.doc.totals:
            return
        passed, failed, skipped, total = self.doc.totals
        mine = _count_read(self.stack[0].results)
        if (passed, failed, skipped) != mine or total != sum(mine):
            self.lineno = self.totals_line
            self.error("'# Totals: pass:%d fail:%d skip:%d total:%d' "
                       "disagrees with the results (pass:%d fail:%d "
                       "skip:%d total:%d)"
                       % (passed, failed, skipped, total, *mine, sum(mine)))

    def _stopped_early(self):
        """Fill in CRASH placeholders for everything that has no result."""
        innermost = self.stack[-1]
        self.doc.interrupted = Interruption(_label(innermost),
                                            innermost.running)
        self.doc.ended_early = _ended_early_message(innermost, self.doc)
        self._check_totals()
        while len(self.stack) > 1:
            block = self.stack.pop()
            self._attach(self.stack[-1], self._placeholder_suite(block))
        _fill_missing(self.stack[0], suite_level=True)

    def _placeholder_suite(self, block):
        _fill_missing(block, suite_level=False)
        suite = Result(name=block.name or block.path, number=0, status=CRASH,
                       diagnostics=block.pending, subtests=block.results,
                       is_suite=True, synthetic=True, line=block.line)
        if not suite.subtests:
            suite.subtests.append(Result(
                name="<no tests ran>", number=1, status=CRASH,
                synthetic=True))
        return suite


def _fill_missing(block, suite_level):
    """Add CRASH placeholders up to the block's plan; name the running one."""
    if block.running is not None:
        block.results.append(Result(
            name=block.running, number=len(block.results) + 1, status=CRASH,
            diagnostics=block.pending, synthetic=True,
            reason="no result: the test was running when output stopped"))
        block.pending = []
        block.running = None
    planned = block.plan or 0
    while len(block.results) < planned:
        number = len(block.results) + 1
        block.results.append(Result(
            name="(%s %d, not run)" % ("suite" if suite_level else "test",
                                       number),
            number=number, status=CRASH, synthetic=True,
            reason="never started: output stopped before it"))


def _ended_early_message(block, doc):
    if block.indent == 0:
        where = "at top level"
    elif block.running:
        where = "in %s.%s" % (_label(block), block.running)
    else:
        where = "in suite %s between tests" % _label(block)
    if doc.totals is not None:
        return "output stops after '# Totals:' without '# ktest: done'"
    return "output stops %s before '# ktest: done'" % where


def _count_read(results):
    """Like count(), but only over results really read from the stream."""
    passed = failed = skipped = 0
    for _, leaf in leaves(results):
        if leaf.synthetic:
            continue
        passed += leaf.status == PASS
        skipped += leaf.status == SKIP
        failed += leaf.status in FAILED_STATUSES
    return passed, failed, skipped


def _suite_check(suite):
    """The extra failed case for a suite that failed with no failing test."""
    reason = " ".join(filter(None, [suite.directive, suite.reason]))
    return Result(name=SUITE_CHECK_NAME, number=0, status=FAIL,
                  reason=reason or "suite failed with no failing test",
                  diagnostics=list(suite.diagnostics), synthetic=True,
                  line=suite.line)


def _split_directive(text):
    """'SKIP needs 2 CPUs' -> ('SKIP', 'needs 2 CPUs'); free text -> ('', t)."""
    word, _, rest = text.strip().partition(" ")
    if word.upper() in ("SKIP", "TODO", "XFAIL", "TIMEOUT", "ERROR"):
        return word.upper(), rest.strip()
    return "", text.strip()


def _status(ok, directive):
    if directive == "SKIP":
        return SKIP
    if ok:
        return PASS
    return TIMEOUT if directive == "TIMEOUT" else FAIL


def _frame(text):
    match = BACKTRACE.match(text)
    offset = int(match.group(4), 16) if match.group(4) else None
    return Frame(int(match.group(1)), int(match.group(2), 16),
                 match.group(3), offset, text)


def _label(block, fallback=None):
    return block.path or block.name or fallback or "(top level)"
