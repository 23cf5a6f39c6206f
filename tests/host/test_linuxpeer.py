"""Tests of make bench's side-by-side tables (tools/linuxpeer/tables.py)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tools"))

from ktestlib import bench  # noqa: E402
from linuxpeer import tables  # noqa: E402

LINUX_LOG = """\
# linux 6.1.0-50-cloud-amd64
bench linux_null_syscall min=300.0 median=300.0 reps=7 unit=insn
# note linux_null_syscall: syscalls=1
bench linux_sched_yield_switch min=2000.0 median=2100.0 reps=7 unit=insn
# note linux_sched_yield_switch: syscalls=1
bench linux_futex_pingpong_roundtrip min=9000.0 median=9100.0 reps=7 unit=insn
# note linux_futex_pingpong_roundtrip: syscalls=4
bench linux_malloc_free_64 min=120.0 median=120.0 reps=7 unit=insn
# note linux_malloc_free_64: syscalls=0
# kbench: done
""".splitlines()

OURS = {"lwkt_yield_round_trip": 400.0,
        "msgport_domsg_same_cpu_roundtrip": 600.0,
        "kmalloc_kfree_64": 40.0,
        "lwkt_switch_two_threads": 180.0,
        "lwkt_schedule_deschedule_pair": 100.0}


class PairTable(unittest.TestCase):
    def rows(self, linux_lines=LINUX_LOG):
        linux = bench.parse(linux_lines) if linux_lines else None
        return {row[0]: row for row in tables._pair_rows(OURS, linux)}

    def test_switch_pair_is_per_switch_and_removes_one_syscall(self):
        row = self.rows()[tables.PAIRS[0][0]]
        self.assertEqual(row[1], 200.0)          # 400 per 2 switches
        self.assertEqual(row[2], 2000.0)
        self.assertEqual(row[3], 1700.0)         # minus one 300-insn call
        self.assertEqual(row[4], 10.0)
        self.assertEqual(row[5], 8.5)

    def test_futex_pair_removes_four_syscalls(self):
        row = self.rows()[tables.PAIRS[1][0]]
        self.assertEqual(row[3], 9000.0 - 4 * 300.0)
        self.assertEqual(row[4], 15.0)

    def test_a_benchmark_linux_did_not_print_is_not_measured(self):
        row = self.rows()[tables.PAIRS[2][0]]   # no pipe line above
        self.assertEqual(row[1], 600.0)
        self.assertIsNone(row[2])
        self.assertIsNone(row[4])

    def test_no_linux_boot_leaves_the_linux_column_not_measured(self):
        summary = tables.render(OURS, None, "no network", "/nonexistent")
        self.assertIn("not measured: no network", summary.text)
        for what, *_ in tables.PAIRS:
            line = [x for x in summary.text.splitlines() if what in x][0]
            self.assertIn("not measured", line)


class GoalTable(unittest.TestCase):
    def test_switch_alone_is_handoff_minus_queue_work(self):
        rows = {row[0]: row for row in tables._goal_rows(OURS)}
        name = tables.GOALS[0][0]
        self.assertEqual(rows[name][1], 80.0)
        self.assertEqual(rows[name][4], "missed")

    def test_met_missed_and_not_measured(self):
        rows = {row[0]: row for row in tables._goal_rows(
            {"kmalloc_kfree_64": 30.0})}
        self.assertEqual(rows["kmalloc_kfree_64"][4], "met")
        self.assertEqual(rows["ipiq_send_sender_side"][4], "not measured")

    def test_the_verdict_is_the_production_kernels(self):
        rows = {row[0]: row for row in tables._goal_rows(
            {"kmalloc_kfree_64": 30.0}, {"kmalloc_kfree_64": 41.0})}
        self.assertEqual(rows["kmalloc_kfree_64"][1:], (30.0, 41.0, 30, "met"))

    def test_the_checked_column_is_shown_beside_the_figure(self):
        summary = tables.render(OURS, None, "no network", "/nonexistent",
                                checked={"kmalloc_kfree_64": 52.0})
        line = [x for x in summary.markdown.splitlines()
                if x.startswith("| kmalloc_kfree_64 ")][0]
        self.assertEqual(line, "| kmalloc_kfree_64 | 40.0 | 52.0 | ≤ 30 "
                               "| missed |")
        self.assertIn("checked kernel", summary.markdown)


if __name__ == "__main__":
    unittest.main()
