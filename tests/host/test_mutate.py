"""test_mutate.py - tools/mutate's catalogue parser and its text surgery.

The mutation check is only as good as its promise that each mutant breaks
exactly the text it names: these tests hold the parser and apply() to that
(a fragment found twice or not at all is an error, indentation does not
matter, a word is never matched inside a longer one).
"""

import os
import unittest
from importlib.machinery import SourceFileLoader

HERE = os.path.dirname(os.path.abspath(__file__))
mutate = SourceFileLoader(
    "mutate", os.path.join(HERE, "..", "..", "tools", "mutate")).load_module()

CATALOGUE = """
# a comment
cover kern/*.c core smp@2

mutant lwkt.drops_the_lock
  file kern/a.c
  - lock();
  -     work();
  + work();

mutant lwkt.wrong_compare
  file kern/a.c
  - x < y
  + x <= y
  tests host:unit_test
  equivalent x never equals y here
"""

SOURCE = "int f(void)\n{\n\tlock();\n\twork();\n\tif (x < y)\n\t\txx = 1;\n}\n"


class CatalogueTest(unittest.TestCase):
    def test_parses_blocks_cover_lines_and_overrides(self):
        cat = mutate.parse_catalogue(CATALOGUE)
        first, second = cat.mutants
        self.assertEqual(first.name, "lwkt.drops_the_lock")
        self.assertEqual(cat.tests_for(first), ["core", "smp@2"])
        self.assertEqual(cat.tests_for(second), ["host:unit_test"])
        self.assertEqual(second.equivalent, "x never equals y here")
        self.assertIsNone(first.equivalent)

    def test_a_mutant_without_original_text_is_an_error(self):
        with self.assertRaisesRegex(mutate.CatalogueError, "no `-`"):
            mutate.parse_catalogue("mutant a.b\n  file x.c\n  + y\n")

    def test_a_name_used_twice_is_an_error(self):
        text = "mutant a.b\n file x.c\n - y\nmutant a.b\n file x.c\n - z\n"
        with self.assertRaisesRegex(mutate.CatalogueError, "named twice"):
            mutate.parse_catalogue(text)

    def test_a_file_no_cover_line_matches_is_an_error(self):
        cat = mutate.parse_catalogue("mutant a.b\n file vm/x.c\n - y\n")
        with self.assertRaisesRegex(mutate.CatalogueError, "no `cover`"):
            cat.tests_for(cat.mutants[0])


class ApplyTest(unittest.TestCase):
    def mutant(self, original, replacement):
        m = mutate.Mutant("t.m", "here:1")
        m.path, m.original, m.replacement = "a.c", original, replacement
        return m

    def test_multi_line_fragment_matches_whatever_the_indentation(self):
        out = mutate.apply(self.mutant(["lock();", "  work();"],
                                       [" work();"]), SOURCE)
        self.assertEqual(out, SOURCE.replace("lock();\n\twork();", "work();"))

    def test_replacement_lines_keep_the_originals_indentation(self):
        out = mutate.apply(self.mutant(["lock();"],
                                       [" a();", " b();", "         c();"]),
                           SOURCE)
        self.assertIn("\ta();\n\tb();\n\t\tc();\n\twork();", out)

    def test_no_replacement_deletes_the_fragment(self):
        out = mutate.apply(self.mutant(["lock();"], []), SOURCE)
        self.assertNotIn("lock", out)

    def test_a_word_is_not_matched_inside_a_longer_word(self):
        with self.assertRaisesRegex(mutate.CatalogueError, "not found"):
            mutate.apply(self.mutant(["x = 1;"], ["x = 2;"]), SOURCE)
        out = mutate.apply(self.mutant(["xx = 1;"], ["xx = 2;"]), SOURCE)
        self.assertIn("xx = 2;", out)

    def test_missing_or_ambiguous_text_is_an_error(self):
        with self.assertRaisesRegex(mutate.CatalogueError, "not found"):
            mutate.apply(self.mutant(["unlock();"], []), SOURCE)
        with self.assertRaisesRegex(mutate.CatalogueError, "found 2 times"):
            mutate.apply(self.mutant(["x"], []), SOURCE + "x;\n")


class VerdictTest(unittest.TestCase):
    def test_first_failure_is_named_and_a_hang_says_timeout(self):
        out = ("TIMEOUT lwkt.spin: TIMEOUT after 120 s\n"
               "CRASH 3 more test(s) never started\n")
        self.assertEqual(mutate.how_it_failed(out), "TIMEOUT lwkt.spin")
        self.assertEqual(mutate.how_it_failed("FAIL a.b\nFAIL c.d\n"),
                         "FAIL a.b")
        self.assertEqual(mutate.how_it_failed(
            "HARNESS ERROR: exit 1\n"), "harness error: exit 1")
        self.assertEqual(mutate.how_it_failed(
            "CRASH kvservice.<panic outside any test>: PANIC in suite\n"),
            "CRASH kvservice.<panic outside any test>")

    def test_build_targets_follow_the_specs(self):
        self.assertEqual(mutate.build_targets(["core", "host:x_test"]),
                         ["kernel", "host-tools", "build/host/x_test"])
        self.assertEqual(mutate.build_targets(["host:x_test"]),
                         ["build/host/x_test"])


if __name__ == "__main__":
    unittest.main()
