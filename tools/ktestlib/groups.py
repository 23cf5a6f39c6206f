"""groups.py - read tests/ktest-groups, the list of kernel test boots.

One group per line, `#` starts a comment:

    <name> <smp counts, comma-separated> <suites, comma-separated, or all> [QEMU options...]
    core   1                             all
    lwkt   1,2,4,8                       lwkt,ipiq
    numa   2                             vm_numa   -object ... -numa node,...

The runner boots each group once per smp count, with the kernel command line
`ktest=<suites>`.  Anything after the suites is passed to QEMU as extra
arguments (split at whitespace), for machines that need a special shape,
except `-append WORD`: the boot goes through GRUB, where QEMU's own -append
would never reach the kernel, so the runner takes each such WORD out and
adds it to the kernel command line instead (`-append ip=192.0.2.2/24`).
`-boot-timeout SECONDS` is the runner's too: the group's boots may take
that long under TCG (instead of the default) before they are killed.
"""

import re
from dataclasses import dataclass, field
from typing import List

NAME = re.compile(r"^[A-Za-z0-9_-]+$")
SUITE = re.compile(r"^[A-Za-z0-9_]+$")


class GroupsError(Exception):
    """The groups file is malformed; the message names file and line."""


@dataclass
class Group:
    name: str
    smp_counts: List[int]
    suites: List[str]
    qemu_args: List[str] = field(default_factory=list)
    kernel_args: List[str] = field(default_factory=list)
    boot_timeout: float = 0.0

    def cmdline(self):
        return " ".join(["ktest=" + ",".join(self.suites)] +
                        self.kernel_args)

    def numa_domains(self):
        """How many NUMA nodes the QEMU options make (1 if none)."""
        return max(1, numa_nodes(self.qemu_args))


def numa_nodes(qemu_args):
    """Count the `-numa node,...` options in a QEMU argument list."""
    return sum(1 for option, value in zip(qemu_args, qemu_args[1:])
               if option == "-numa" and value.split(",")[0] == "node")


def parse_groups(text, filename="ktest-groups"):
    """Parse the groups file's text into a list of Group.  Raises GroupsError."""
    groups = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        where = "%s:%d" % (filename, number)
        if len(fields) < 3:
            raise GroupsError("%s: want '<name> <smp counts> <suites> "
                              "[QEMU options]', got %r"
                              % (where, line.strip()))
        qemu_args, kernel_args, timeout = _split_runner_options(
            fields[3:], where)
        groups.append(Group(_name(fields[0], where),
                            parse_smp(fields[1], where),
                            _suites(fields[2], where),
                            qemu_args, kernel_args, timeout))
    _no_duplicates(groups, filename)
    return groups


def read_groups(path):
    with open(path) as source:
        return parse_groups(source.read(), path)


def parse_smp(text, where="--smp"):
    """'1,2,4' -> [1, 2, 4]; each count must be a positive integer."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise GroupsError("%s: bad smp counts %r" % (where, text))
    return counts


def _split_runner_options(options, where):
    """(QEMU options, kernel command-line words, boot timeout): each
    `-append WORD` pair moves to the second, `-boot-timeout SECONDS` sets
    the third (0: the runner's default)."""
    qemu_args, kernel_args, timeout = [], [], 0.0
    words = iter(options)
    for option in words:
        if option not in ("-append", "-boot-timeout"):
            qemu_args.append(option)
            continue
        word = next(words, None)
        if word is None or word.startswith("-"):
            raise GroupsError("%s: %s wants a value after it" % (where,
                                                                 option))
        if option == "-append":
            kernel_args.append(word)
            continue
        try:
            timeout = float(word)
        except ValueError:
            timeout = -1.0
        if timeout <= 0:
            raise GroupsError("%s: bad -boot-timeout %r" % (where, word))
    return qemu_args, kernel_args, timeout


def _name(text, where):
    if not NAME.match(text):
        raise GroupsError("%s: bad group name %r" % (where, text))
    return text


def _suites(text, where):
    suites = text.split(",")
    if not all(SUITE.match(suite) for suite in suites):
        raise GroupsError("%s: bad suite list %r" % (where, text))
    return suites


def _no_duplicates(groups, filename):
    names = [group.name for group in groups]
    for name in names:
        if names.count(name) > 1:
            raise GroupsError("%s: group %r appears twice" % (filename, name))
