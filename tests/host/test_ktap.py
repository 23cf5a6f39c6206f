"""test_ktap.py - unit tests of the KTAP parser in tools/ktestlib/ktap.py.

Each test feeds the parser a small hand-written stream, most of them a good
stream with one thing broken, and checks that the break is reported (or, for
noise the format allows, that it is not).  `tools/ktest --pyunit` runs this
file and counts it as suite `ktap_parser`.
"""

import os
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "tools"))
from ktestlib import ktap  # noqa: E402

KTEST_SUITE = "ktap_parser"

GOOD = """\
KTAP version 1
1..2
  KTAP version 1
  # Subtest: printf
  1..3
  # running: formats_decimal
  ok 1 formats_decimal
  # running: pads_hex
  # expected buf == "00ff": "ff" vs "00ff" (tests/kern/printf_test.c:42)
  not ok 2 pads_hex
  # running: needs_smp
  ok 3 needs_smp # SKIP needs 2 CPUs, booted with 1
not ok 1 printf
  KTAP version 1
  # Subtest: vm
  1..1
  # running: alloc_all_pages
  ok 1 alloc_all_pages
ok 2 vm
# Totals: pass:2 fail:1 skip:1 total:4
# ktest: done
"""


def parse(text):
    return ktap.parse(textwrap.dedent(text).splitlines())


def statuses(doc):
    return {path: leaf.status for path, leaf in ktap.leaves(doc.results)}


def replace(old, new, text=GOOD):
    assert old in text, old
    return text.replace(old, new, 1)


class GoodStreams(unittest.TestCase):
    def assert_clean(self, doc):
        self.assertEqual(doc.errors, [])
        self.assertIsNone(doc.ended_early)
        self.assertTrue(doc.done)

    def test_good_stream_parses_with_no_errors(self):
        doc = parse(GOOD)
        self.assert_clean(doc)
        self.assertEqual(ktap.count(doc.results), (2, 1, 1))

    def test_failing_test_keeps_its_diagnostic(self):
        doc = parse(GOOD)
        leaf = dict(ktap.leaves(doc.results))["printf.pads_hex"]
        self.assertEqual(leaf.status, ktap.FAIL)
        self.assertIn("printf_test.c:42", leaf.diagnostics[0])

    def test_skip_carries_its_reason(self):
        doc = parse(GOOD)
        leaf = dict(ktap.leaves(doc.results))["printf.needs_smp"]
        self.assertEqual(leaf.status, ktap.SKIP)
        self.assertEqual(leaf.reason, "needs 2 CPUs, booted with 1")

    def test_noise_before_version_and_unindented_noise_are_tolerated(self):
        noisy = "\x1b[2J\x1b[HGRUB loading.\r\nWelcome to GRUB!\n" + replace(
            "  KTAP version 1\n  # Subtest: vm",
            "[cpu0] lapic timer at 100 Hz\n  KTAP version 1\n  # Subtest: vm")
        doc = parse(noisy)
        self.assert_clean(doc)
        self.assertEqual(doc.noise_lines, 1)

    def test_ansi_escapes_inside_ktap_lines_are_ignored(self):
        doc = parse(replace("ok 2 vm", "\x1b[0mok 2 vm\x1b[0m\r"))
        self.assert_clean(doc)

    def test_nested_suites_give_dotted_paths(self):
        doc = parse("""\
            KTAP version 1
            1..1
              KTAP version 1
              # Subtest: lwkt
              1..2
                KTAP version 1
                # Subtest: msgport
                1..1
                ok 1 sendmsg_async_reply
              ok 1 msgport
              ok 2 token_order
            ok 1 lwkt
            # Totals: pass:2 fail:0 skip:0 total:2
            # ktest: done
            """)
        self.assert_clean(doc)
        self.assertEqual(statuses(doc), {
            "lwkt.msgport.sendmsg_async_reply": ktap.PASS,
            "lwkt.token_order": ktap.PASS})

    def test_four_space_indentation_is_accepted(self):
        doc = parse(GOOD.replace("\n  ", "\n    "))
        self.assert_clean(doc)

    def test_leak_only_suite_failure_counts_as_one_failure(self):
        stream = replace("ok 2 vm", "  # leak: kmalloc type=devbuf bytes=64\n"
                         "not ok 2 vm # ERROR leaked 12 pages")
        doc = parse(stream)
        self.assert_clean(doc)
        check = dict(ktap.leaves(doc.results))["vm." + ktap.SUITE_CHECK_NAME]
        self.assertEqual(check.status, ktap.FAIL)
        self.assertIn("leaked 12 pages", check.reason)
        self.assertIn("# leak: kmalloc type=devbuf bytes=64",
                      check.diagnostics)
        self.assertEqual(ktap.count(doc.results), (2, 2, 1))

    def test_lines_after_the_sentinel_are_ignored(self):
        doc = parse(GOOD + "ok 7 garbage\nnot ok x\n")
        self.assert_clean(doc)


class BrokenStreams(unittest.TestCase):
    def assert_error(self, text, *fragments):
        doc = parse(text)
        joined = "\n".join(doc.errors)
        for fragment in fragments:
            self.assertIn(fragment, joined)
        return doc

    def test_missing_version_line_means_no_ktap(self):
        doc = parse(GOOD.replace("KTAP version 1\n", "", 1).replace(
            "  KTAP version 1", "  KTAP verzion 1"))
        self.assertFalse(doc.found)
        self.assertIn("no KTAP output", doc.ended_early)

    def test_missing_plan(self):
        self.assert_error(replace("  1..1\n", ""), "vm has no plan line")

    def test_missing_top_level_plan(self):
        self.assert_error(replace("1..2\n", ""), "has no plan line")

    def test_plan_and_result_count_mismatch(self):
        self.assert_error(replace("  1..3", "  1..4"),
                          "printf planned 4 tests but reported 3")

    def test_numbering_must_go_up_by_one(self):
        self.assert_error(replace("ok 3 needs_smp", "ok 4 needs_smp"),
                          "out of order", "expected 3")

    def test_duplicate_result_number(self):
        self.assert_error(replace("ok 3 needs_smp", "ok 2 needs_smp"),
                          "duplicate result number 2")

    def test_ok_without_number_is_garbage(self):
        self.assert_error(replace("  ok 1 formats_decimal",
                                  "  ok formats_decimal"),
                          "malformed result line")

    def test_not_ok_with_bad_number_is_garbage(self):
        self.assert_error(replace("  not ok 2 pads_hex", "  not ok x pads"),
                          "malformed result line")

    def test_unindented_broken_result_is_garbage_too(self):
        self.assert_error(replace("ok 2 vm", "ok\nok 2 vm"),
                          "malformed result line")

    def test_malformed_plan(self):
        self.assert_error(replace("  1..3", "  1..three"),
                          "malformed plan line")

    def test_missing_suite_result_line(self):
        self.assert_error(replace("not ok 1 printf\n", ""),
                          "printf has no result line")

    def test_suite_result_must_match_subtest_name(self):
        self.assert_error(replace("not ok 1 printf", "not ok 1 prinft"),
                          "does not match '# Subtest: printf'")

    def test_suite_ok_with_failing_test_is_inconsistent(self):
        self.assert_error(replace("not ok 1 printf", "ok 1 printf"),
                          "printf says ok but 1 of its tests failed")

    def test_missing_totals(self):
        self.assert_error(replace("# Totals: pass:2 fail:1 skip:1 total:4\n",
                                  ""), "without a '# Totals:' line")

    def test_totals_that_disagree_with_results(self):
        self.assert_error(replace("pass:2 fail:1 skip:1 total:4",
                                  "pass:3 fail:1 skip:1 total:5"),
                          "disagrees with the results")

    def test_malformed_totals(self):
        self.assert_error(replace("pass:2 fail:1", "pass:2 fails:1"),
                          "malformed totals line")

    def test_missing_sentinel_means_output_ended_early(self):
        doc = parse(replace("# ktest: done\n", ""))
        self.assertFalse(doc.done)
        self.assertIn("'# ktest: done'", doc.ended_early)

    def test_second_top_level_version_means_reboot(self):
        self.assert_error(replace("# Totals", "KTAP version 1\n# Totals"),
                          "second top-level 'KTAP version 1'")

    def test_result_deeper_than_any_block(self):
        self.assert_error(replace("  ok 1 formats_decimal",
                                  "      ok 1 formats_decimal"),
                          "deeper than any open block")

    def test_deliberately_corrupted_stream_is_rejected(self):
        corrupted = GOOD.replace("ok 1 alloc", "ok 1alloc").replace(
            "1..2\n", "1..3\n", 1)
        doc = parse(corrupted)
        self.assertGreaterEqual(len(doc.errors), 2)


class CrashedStreams(unittest.TestCase):
    PANICKED = """\
        KTAP version 1
        1..2
          KTAP version 1
          # Subtest: selftest_panic
          1..2
          # running: calls_panic
          # PANIC: selftest: deliberate panic
          # bt: #0 0xffffffff80012345 panic+0x4f
          # bt: #1 0xffffffff80023456 selftest_panic_calls_panic+0x12
          # bt: #2 0x0000000000000000 ?
        """

    def test_panic_marks_running_and_remaining_tests_crashed(self):
        doc = parse(self.PANICKED)
        self.assertEqual(doc.errors, [])
        self.assertEqual(statuses(doc), {
            "selftest_panic.calls_panic": ktap.CRASH,
            "selftest_panic.(test 2, not run)": ktap.CRASH,
            "(suite 2, not run)": ktap.CRASH})
        self.assertEqual(doc.interrupted.suite, "selftest_panic")
        self.assertEqual(doc.interrupted.test, "calls_panic")

    def test_panic_backtrace_is_read(self):
        panic = parse(self.PANICKED).panics[0]
        self.assertEqual(panic.message, "selftest: deliberate panic")
        self.assertEqual(panic.test, "calls_panic")
        self.assertEqual([f.function for f in panic.frames],
                         ["panic", "selftest_panic_calls_panic", "?"])
        self.assertEqual(panic.frames[1].address, 0xffffffff80023456)
        self.assertEqual(panic.frames[1].offset, 0x12)

    def test_missing_result_after_crash_between_tests(self):
        doc = parse("""\
            KTAP version 1
            1..1
              KTAP version 1
              # Subtest: vm
              1..2
              ok 1 first
            """)
        self.assertIsNone(doc.interrupted.test)
        self.assertIn("between tests", doc.ended_early)
        self.assertEqual(ktap.count(doc.results), (1, 1, 0))

    def test_panic_during_boot_before_ktap(self):
        doc = parse("# PANIC: no memory map\n# bt: #0 0x00000000001000aa "
                    "kmain+0x3a\n")
        self.assertFalse(doc.found)
        self.assertEqual(doc.panics[0].frames[0].function, "kmain")


if __name__ == "__main__":
    unittest.main()
