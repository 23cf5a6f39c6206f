"""testlist.py - tests/ktest-list, the committed list of what each group runs.

The plan a boot prints comes from the kernel's own registry, so a test that
drops out of the build (a file no longer compiled, an #if 0, a rename)
would leave a shorter plan that still passes.  The list is the check on
the registry: for each group of tests/ktest-groups it names every test
that group's boot must run, and the runner fails a boot whose tests differ
from its section -- a test that vanished, or a new one not yet listed.

The file is generated (tools/ktest --update-list reads the registry out of
build/kernel.elf) and made to merge well: one test per line, sorted by
suite and then name, a blank line between suites, a `[group]` header per
group.  Two changes that add tests to different suites touch different
lines; after a conflict, regenerate.

    [core]
    acpi.checksum_rejects_a_flipped_byte
    acpi.madt_lists_the_cpus_qemu_was_given

    boot.command_line_reached_the_kernel
"""

import re
from dataclasses import dataclass

from . import ktap
from .outcome import Case

SUITE = "(test list)"
HEADER = re.compile(r"^\[([A-Za-z0-9_-]+)\]$")
TEST = re.compile(r"^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")

PREAMBLE = """\
# ktest-list - every test each group of tests/ktest-groups runs, one per
# line.  tools/ktest fails a boot whose tests differ from its section: a
# test that dropped out of the build, or a new one not listed here.
#
# Generated; do not edit by hand.  After adding, renaming or removing a
# test, or changing tests/ktest-groups, rebuild the kernel (make), run
#     tools/ktest --update-list
# and commit this file with the change.  On a merge conflict here,
# regenerate it the same way.
"""


class ListError(Exception):
    """The list file is malformed; the message names file and line."""


def selects(selection, test):
    """Does `ktest=<selection>` run `test` (a registry.Test)?

    The kernel's rule (kern_ktest.c test_selected, cmdline_list_selects):
    entries are `all`, `suite` or `suite.test`; `all` never selects a
    KTEST_MANUAL test, which runs only when named.
    """
    for entry in selection:
        if entry == "all":
            if not test.manual:
                return True
        elif entry in (test.suite, test.path):
            return True
    return False


def expected(groups, tests):
    """{group name: sorted test paths} for the groups, from the registry."""
    return {group.name: sorted({test.path for test in tests
                                if selects(group.suites, test)})
            for group in groups}


def format_list(sections):
    """The file's text for {group: [paths]}, groups in the given order."""
    lines = [PREAMBLE]
    for group, paths in sections.items():
        lines.append("[%s]" % group)
        suite = None
        for path in sorted(paths):
            if suite is not None and path.split(".")[0] != suite:
                lines.append("")
            suite = path.split(".")[0]
            lines.append(path)
        lines.append("")
    return "\n".join(lines)


def parse_list(text, filename="ktest-list"):
    """{group: [paths]} from the file's text.  Raises ListError."""
    sections, current = {}, None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        where = "%s:%d" % (filename, number)
        if not line:
            continue
        header = HEADER.match(line)
        if header:
            current = header.group(1)
            if current in sections:
                raise ListError("%s: group [%s] appears twice"
                                % (where, current))
            sections[current] = []
        elif current is None or not TEST.match(line):
            raise ListError("%s: want '[group]' or 'suite.test', got %r"
                            % (where, raw.strip()))
        elif line in sections[current]:
            raise ListError("%s: %s is listed twice in [%s]"
                            % (where, line, current))
        else:
            sections[current].append(line)
    return sections


def read_list(path):
    with open(path) as source:
        return parse_list(source.read(), path)


@dataclass
class Checker:
    """Compares boots with the list; `command` regenerates the list."""
    sections: dict
    path: str
    command: str

    def check(self, run, group):
        """Failed cases for a finished boot of `group` whose tests differ
        from its section.  A boot that stopped early is failing anyway and
        names no tests after the crash, so it is not compared."""
        if not run.doc.done:
            return []
        if group not in self.sections:
            return [self._case(group, "tests/ktest-groups has group %s but "
                               "%s has no [%s] section: a new group? Then"
                               % (group, self.path, group))]
        ran = {path for path, leaf in ktap.leaves(run.doc.results)
               if not leaf.synthetic}
        listed = set(self.sections[group])
        return ([self._case(path, "listed for group %s in %s but did not "
                            "run: removed, renamed or no longer compiled "
                            "in? If that is on purpose" % (group, self.path))
                 for path in sorted(listed - ran)] +
                [self._case(path, "ran in group %s but is not in %s: a new "
                            "test? Then" % (group, self.path))
                 for path in sorted(ran - listed)])

    def stale_sections(self, groups):
        """Messages for sections of groups that tests/ktest-groups lacks."""
        names = {group.name for group in groups}
        return ["%s has a section [%s] for a group that tests/ktest-groups "
                "does not have; if that is on purpose, run `%s` and commit "
                "%s" % (self.path, name, self.command, self.path)
                for name in self.sections if name not in names]

    def _case(self, name, what):
        """A failed case whose reason ends with the command to run."""
        return Case(suite=SUITE, path="%s.%s" % (SUITE, name),
                    status=ktap.FAIL,
                    reason="%s run `%s` and commit %s"
                    % (what, self.command, self.path))
