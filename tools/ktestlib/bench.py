"""bench.py - read the kernel's benchmark output (kbench=all).

The kernel prints one line per benchmark and a sentinel, then exits 33:

    bench <name> min=<n> median=<n> reps=<r> unit=insn    (TCG with -icount;
                                                          unit=tsc is the
                                                          same count there)
    # tsc_hz=<hz>                                         (under KVM)
    bench <name> min=<n> median=<n> reps=<r> unit=tsc     (under KVM)
    # bench <name> skipped: <why>                          (cannot run here)
    # note <name>: <text>                                  (a count worth
                                                          relaying, e.g.
                                                          IPIs sent)
    # kbench: done

Under `-icount shift=0` the guest TSC advances one tick per executed
instruction, so unit=insn numbers are instruction counts per operation and
repeat exactly from run to run.  Under KVM the TSC is real time; dividing by
tsc_hz turns ticks into nanoseconds.
"""

import re
from dataclasses import dataclass, field
from typing import List, Optional

from .ktap import clean

NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
BENCH = re.compile(r"^bench\s+(\S+)\s+min=%s\s+median=%s\s+reps=(\d+)\s+"
                   r"unit=(\w+)\s*$" % (NUMBER, NUMBER))
TSC_HZ = re.compile(r"^#\s*tsc_hz=(\d+)\s*$")
DONE = re.compile(r"^#\s*kbench:\s*done\s*$")
SKIPPED = re.compile(r"^#\s*bench\s+(\S+)\s+skipped:\s*(.*)$")
NOTE = re.compile(r"^#\s*note\s+(\S+):\s*(.*)$")


@dataclass
class Bench:
    name: str
    minimum: float
    median: float
    reps: int
    unit: str


@dataclass
class BenchOutput:
    benches: List[Bench] = field(default_factory=list)
    tsc_hz: Optional[int] = None
    done: bool = False
    malformed: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)  # "name: why"
    notes: List[str] = field(default_factory=list)  # "name: text"


def parse(lines):
    """Collect bench lines, tsc_hz and the sentinel; noise is skipped."""
    output = BenchOutput()
    for raw in lines:
        text = clean(raw).strip()
        match = BENCH.match(text)
        if match:
            output.benches.append(Bench(match.group(1), float(match.group(2)),
                                        float(match.group(3)),
                                        int(match.group(4)), match.group(5)))
        elif SKIPPED.match(text):
            match = SKIPPED.match(text)
            output.skipped.append("%s: %s" % (match.group(1),
                                              match.group(2)))
        elif NOTE.match(text):
            match = NOTE.match(text)
            output.notes.append("%s: %s" % (match.group(1), match.group(2)))
        elif TSC_HZ.match(text):
            output.tsc_hz = int(TSC_HZ.match(text).group(1))
        elif DONE.match(text):
            output.done = True
            break
        elif text.startswith("bench "):
            output.malformed.append(text)
    return output


def number(value):
    """12.0 -> '12', 12.25 -> '12.2': integers stay integers."""
    return "%d" % value if value == int(value) else "%.1f" % value


def insn_line(bench):
    return "bench %s %s insn/op (median %s)" % (bench.name,
                                                number(bench.minimum),
                                                number(bench.median))


def kvm_line(bench, tsc_hz):
    nanoseconds = bench.minimum * 1e9 / tsc_hz
    return "bench %s %.1f ns/op (kvm)" % (bench.name, nanoseconds)
