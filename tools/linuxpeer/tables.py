"""tables.py - the two tables at the end of `make bench`.

1. Damselfly beside Linux: each pair is an operation both kernels do, with
   Damselfly's figure, Linux's raw figure, Linux's figure with its system
   calls' share removed (the calls per operation times the measured null
   system call), and how many times cheaper Damselfly is on each.
   docs/performance.md says why each pair is comparable and what differs.
2. The fast-path goals: name, the production kernel's figure, the checked
   kernel's (the price of its INVARIANT checks, kern/panic.h), goal, and
   met or missed -- judged on the production kernel, the one users run.

Both are printed as text and written as Markdown (for docs/performance.md).
"""

import datetime
import subprocess
from dataclasses import dataclass

# (what, Damselfly benchmark, how many operations one Damselfly figure
#  covers, Linux benchmark)
PAIRS = [
    ("thread switch (Linux: sched_yield between two threads)",
     "lwkt_yield_round_trip", 2, "linux_sched_yield_switch"),
    ("request/reply round trip (Linux: futex ping-pong)",
     "msgport_domsg_same_cpu_roundtrip", 1,
     "linux_futex_pingpong_roundtrip"),
    ("request/reply round trip (Linux: pipe ping-pong)",
     "msgport_domsg_same_cpu_roundtrip", 1,
     "linux_pipe_pingpong_roundtrip"),
    ("64-byte allocate + free (Linux: glibc malloc/free)",
     "kmalloc_kfree_64", 1, "linux_malloc_free_64"),
    ("4 KiB read of a cached file (Linux: pread, ramfs)",
     "vfs_read_4k_cached", 1, "linux_pread_4k_cached"),
    ("stat of a cached name (Linux: stat, ramfs)",
     "vfs_stat_cached", 1, "linux_stat_cached"),
    ("null system call from user mode (Linux: the same)",
     "user_null_syscall", 1, "linux_null_syscall"),
    ("first write to a fresh anonymous page, zeroing included (Linux: "
     "the same)", "user_anon_write_fault", 1, "linux_anon_write_fault"),
    ("fork, the child exits, wait4 (Linux: the same)",
     "user_fork_exit_wait", 1, "linux_fork_exit_wait"),
    ("round trip between two processes: a user message port (Linux: "
     "futex ping-pong between two threads)",
     "user_port_roundtrip", 1, "linux_futex_pingpong_roundtrip"),
    ("round trip between two processes: a user message port (Linux: "
     "pipe ping-pong)",
     "user_port_roundtrip", 1, "linux_pipe_pingpong_roundtrip"),
    ("TCP 1-byte echo round trip over the loopback (Linux: 127.0.0.1)",
     "net_tcp_echo_1byte_roundtrip", 1, "linux_tcp_echo_1byte_roundtrip"),
    ("TCP bulk, per byte, 16 KiB rounds (Linux: 127.0.0.1)",
     "net_tcp_bulk_per_byte", 1, "linux_tcp_bulk_per_byte"),
]


def _switch_alone(ours):
    """A hand-off minus its queue work: what lwkt_switch itself costs."""
    return ours["lwkt_switch_two_threads"] - \
        ours["lwkt_schedule_deschedule_pair"]


# (name, how to get the figure from Damselfly's results, goal)
GOALS = [
    ("lwkt_switch alone (hand-off minus queue work)", _switch_alone, 60),
    ("ipiq_send_sender_side",
     lambda ours: ours["ipiq_send_sender_side"], 40),
    ("msgport_domsg_same_cpu_roundtrip",
     lambda ours: ours["msgport_domsg_same_cpu_roundtrip"], 250),
    ("msgport_sendmsg_remote (sender side)",
     lambda ours: ours["msgport_sendmsg_remote"], 40),
    ("kmalloc_kfree_64", lambda ours: ours["kmalloc_kfree_64"], 30),
    ("vfs_read_4k_cached", lambda ours: ours["vfs_read_4k_cached"], 1500),
    ("vfs_stat_cached", lambda ours: ours["vfs_stat_cached"], 800),
    ("user_anon_write_fault_minus_zeroing",
     lambda ours: ours["user_anon_write_fault_minus_zeroing"], 600),
    ("user_cow_fault_minus_copy",
     lambda ours: ours["user_cow_fault_minus_copy"], 800),
]

NULL_SYSCALL = "linux_null_syscall"


@dataclass
class Summary:
    text: str
    markdown: str


def _syscalls_per_op(linux, name):
    """The `# note linux_<name>: syscalls=<k>` the Linux program printed."""
    for note in linux.notes:
        key, _, value = note.partition(":")
        if key.strip() == name and value.strip().startswith("syscalls="):
            return float(value.strip()[len("syscalls="):])
    return None


def _pair_rows(ours, linux):
    """Rows of (what, ours, raw, without syscalls, ratio, ratio w/o)."""
    theirs = {item.name: item.minimum for item in linux.benches} \
        if linux else {}
    crossing = theirs.get(NULL_SYSCALL)
    rows = []
    for what, our_name, ops, their_name in PAIRS:
        mine = ours.get(our_name)
        mine = mine / ops if mine is not None else None
        raw = theirs.get(their_name)
        calls = _syscalls_per_op(linux, their_name) if linux else None
        bare = raw - calls * crossing if None not in (raw, calls, crossing) \
            else None
        rows.append((what, mine, raw, bare, _ratio(raw, mine),
                     _ratio(bare, mine)))
    return rows


def _ratio(theirs, mine):
    if theirs is None or not mine:
        return None
    return theirs / mine


def _figure(figure_of, results):
    try:
        return figure_of(results) if results is not None else None
    except KeyError:
        return None


def _goal_rows(ours, checked=None):
    """Rows of (name, production figure, checked figure, goal, verdict)."""
    rows = []
    for name, figure_of, goal in GOALS:
        figure = _figure(figure_of, ours)
        verdict = "not measured" if figure is None else \
            ("met" if figure <= goal else "missed")
        rows.append((name, figure, _figure(figure_of, checked), goal,
                     verdict))
    return rows


def _num(value, suffix=""):
    return "not measured" if value is None else "%.1f%s" % (value, suffix)


def _qemu_version(qemu):
    try:
        done = subprocess.run([qemu, "--version"], capture_output=True,
                              text=True, timeout=30)
        return done.stdout.splitlines()[0].strip()
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return qemu


def _peer_name(peer):
    return peer.describe() if hasattr(peer, "describe") else \
        "not measured: %s" % peer


def render(ours, linux, peer, qemu, checked=None):
    """Both tables from Damselfly's figures (name -> min insn/op) for the
    production kernel and (or None) the checked one, the Linux boot's
    BenchOutput (or None) and the Peer (or the reason there is none)."""
    pairs = _pair_rows(ours, linux)
    goals = _goal_rows(ours, checked)
    setting = "%s; -icount shift=0,sleep=off -cpu max, 1 CPU, 256 MiB" % \
        _qemu_version(qemu)
    text = ["", "Damselfly beside Linux (%s)" % _peer_name(peer),
            "  " + setting + "; instructions per operation",
            "  %-56s %10s %10s %12s %8s %10s" % (
                "operation", "Damselfly", "Linux", "Linux-sysc", "ratio",
                "ratio-sysc")]
    for what, mine, raw, bare, ratio, ratio_bare in pairs:
        text.append("  %-56s %10s %10s %12s %8s %10s" % (
            what, _num(mine), _num(raw), _num(bare), _num(ratio, "x"),
            _num(ratio_bare, "x")))
    text += ["", "Fast-path goals (instructions; production kernel, and the "
             "checked one beside it)",
             "  %-50s %8s %8s %7s  %s" % ("path", "figure", "checked",
                                          "goal", "")]
    for name, figure, checked_figure, goal, verdict in goals:
        text.append("  %-50s %8s %8s %7s  %s" % (
            name, _num(figure), _num(checked_figure), "<= %d" % goal,
            verdict))
    markdown = _markdown(pairs, goals, peer, setting)
    return Summary("\n".join(text), markdown)


def _markdown(pairs, goals, peer, setting):
    lines = ["Measured %s with %s." % (datetime.date.today().isoformat(),
                                       setting),
             "Linux: %s." % _peer_name(peer), "",
             "| operation | Damselfly | Linux | Linux without its system "
             "calls | ratio | ratio without system calls |",
             "|---|---|---|---|---|---|"]
    for what, mine, raw, bare, ratio, ratio_bare in pairs:
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            what, _num(mine), _num(raw), _num(bare), _num(ratio, "x"),
            _num(ratio_bare, "x")))
    lines += ["", "| path | figure | checked kernel | goal | |",
              "|---|---|---|---|---|"]
    for name, figure, checked_figure, goal, verdict in goals:
        lines.append("| %s | %s | %s | ≤ %d | %s |" % (
            name, _num(figure), _num(checked_figure), goal, verdict))
    return "\n".join(lines) + "\n"
