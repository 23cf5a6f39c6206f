"""test_ktest_runner.py - end-to-end tests of tools/ktest with stand-in tools.

A fake QEMU (a small Python script) reads the kernel command line out of the
"ISO" (the fake grub-mkrescue just copies grub.cfg there) and plays back a
scenario: some serial output, then an exit status, or a hang.  The "kernel"
is a tiny C program compiled with -g, so addr2line has real DWARF to
symbolize panic backtraces with.  Each test runs tools/ktest as `make test`
would and checks its verdict, in particular that it cannot be fooled into a
pass.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from ktestlib import ktap, outcome, registry, testlist  # noqa: E402
KTEST = os.path.join(ROOT, "tools", "ktest")
KBENCH = os.path.join(ROOT, "tools", "kbench")
QEMU_ACCEL = os.path.join(ROOT, "tools", "qemu-accel")
KTEST_SUITE = "ktest_runner"

FAKE_QEMU = r'''
import json, os, re, sys, time
iso = sys.argv[sys.argv.index("-cdrom") + 1]
found = re.search(r"(ktest|kbench)=(\S+)", open(iso).read())
suites = found.group(2) if found.group(1) == "ktest" else "kbench"
smp = sys.argv[sys.argv.index("-smp") + 1]
scenarios = json.load(open(os.environ["FAKE_QEMU_SCENARIOS"]))
scenario = scenarios.get(suites + "@" + smp) or scenarios[suites]
nodes = sum(1 for option, value in zip(sys.argv, sys.argv[1:])
            if option == "-numa" and value.startswith("node,"))
# Like the real kernel: the machine it got, right after the version line,
# unless the scenario says otherwise ("machine": "" leaves it out).
machine = scenario.get("machine", "cpus=%s numa_domains=%d"
                       % (smp, max(1, nodes)))
output = scenario["output"]
if machine and "# machine:" not in output:
    output = output.replace("KTAP version 1\n",
                            "KTAP version 1\n# machine: %s\n" % machine, 1)
sys.stdout.write("\x1b[2J\x1b[HGRUB loading...\r\n" + output)
sys.stdout.flush()
if scenario.get("hang"):
    time.sleep(600)
sys.exit(scenario["exit"])
'''

FAKE_MKRESCUE = r'''
import shutil, sys
shutil.copyfile(sys.argv[-1] + "/boot/grub/grub.cfg", sys.argv[2])
'''

# A stand-in kernel: real DWARF for addr2line, and a test registry laid out
# like include/kern/ktest.h's (the section is "ktest", not ".ktest", so
# that the linker makes __start_ktest and __stop_ktest by itself).
FAKE_KERNEL_C = r'''
struct ktest { const char *suite, *name; void (*fn)(void); unsigned flags; };
void __attribute__((noinline)) selftest_panic_calls_panic(void)
{
	__asm__ volatile("nop");
}
#define REGISTER(s, n, f) static const struct ktest entry_##s##_##n \
	__attribute__((used, section("ktest"), aligned(8))) = \
	{ #s, #n, selftest_panic_calls_panic, f }
REGISTER(printf, needs_smp, 0);
REGISTER(selftest_fail, fails_assertion, 1);
REGISTER(printf, formats_decimal, 0);
extern const struct ktest __start_ktest[], __stop_ktest[];
int main(void)
{
	selftest_panic_calls_panic();
	return (int)(__stop_ktest - __start_ktest);
}
'''

# The tests GOOD_CORE and FAILING_CORE run.
CORE_TESTS = ["printf.formats_decimal", "printf.needs_smp"]

GOOD_CORE = """\
Damselfly 0.1: booting
KTAP version 1
1..1
  KTAP version 1
  # Subtest: printf
  1..2
  # running: formats_decimal
  ok 1 formats_decimal
  # running: needs_smp
  ok 2 needs_smp # SKIP needs 2 CPUs
ok 1 printf
# Totals: pass:1 fail:0 skip:1 total:2
# ktest: done
"""

FAILING_CORE = GOOD_CORE.replace(
    "  ok 1 formats_decimal",
    "  # expected 42 == got: 42 vs 41 (tests/kern/printf_test.c:7)\n"
    "  not ok 1 formats_decimal").replace(
    "ok 1 printf", "not ok 1 printf").replace("pass:1 fail:0", "pass:0 fail:1")


def single_suite(suite, body, tail=True):
    text = ("KTAP version 1\n1..1\n  KTAP version 1\n  # Subtest: %s\n"
            "  1..1\n" % suite) + textwrap.indent(body, "  ")
    return text + ("" if not tail else "")


def selftest_scenarios(panic_address):
    fail = ("KTAP version 1\n1..1\n  KTAP version 1\n"
            "  # Subtest: selftest_fail\n  1..2\n"
            "  # running: fails_assertion\n"
            "  # expected 1 == 2: 1 vs 2 (tests/kern/selftest.c:10)\n"
            "  not ok 1 fails_assertion\n"
            "  # running: compares_two_program_outputs_that_differ\n"
            "  # expected a == b: they differ at byte 8 (line 3); from byte "
            "0: \"one\\ntwo\\nthree\\nfour\\n\" vs \"one\\ntwo\\nTHREE"
            "\\nfour\\n\" (tests/kern/selftest.c:14)\n"
            "  not ok 2 compares_two_program_outputs_that_differ\n"
            "not ok 1 selftest_fail\n# Totals: pass:0 fail:2 skip:0 total:2\n"
            "# ktest: done\n")
    panic = single_suite("selftest_panic",
                         "# running: calls_panic\n"
                         "# PANIC: selftest: deliberate panic\n"
                         "# bt: #0 0x%016x selftest_panic_calls_panic+0x4\n"
                         % (panic_address + 4))
    hang = single_suite("selftest_hang", "# running: loops_forever\n")
    triple = single_suite("selftest_triple", "# running: triple_faults\n")
    leak = single_suite("selftest_leak",
                        "# running: forgets_a_widget\n"
                        "ok 1 forgets_a_widget\n"
                        "# leak: 1 widgets not returned (before 0, after 1)\n") + \
        "not ok 1 selftest_leak # ERROR leaked 1 widgets\n" \
        "# Totals: pass:1 fail:0 skip:0 total:1\n# ktest: done\n"
    return {"selftest_fail": {"output": fail, "exit": 35},
            "selftest_leak": {"output": leak, "exit": 35},
            "selftest_panic": {"output": panic, "exit": 35},
            "selftest_hang": {"output": hang, "exit": 35, "hang": True},
            "selftest_triple": {"output": triple, "exit": 0}}


class RunnerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ktest-runner-test-")
        cls.qemu = cls.script("fake-qemu", FAKE_QEMU)
        cls.mkrescue = cls.script("fake-mkrescue", FAKE_MKRESCUE)
        cls.kernel, cls.panic_address = cls.compile_kernel()
        cls.grub_cfg = cls.write("grub.cfg", "multiboot2 /k @CMDLINE@\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.tmp, name)
        with open(path, "w") as out:
            out.write(text)
        return path

    @classmethod
    def script(cls, name, body):
        path = cls.write(name, "#!%s\n%s" % (sys.executable, body))
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
        return path

    @classmethod
    def compile_kernel(cls):
        source = cls.write("kernel.c", FAKE_KERNEL_C)
        elf = os.path.join(cls.tmp, "kernel.elf")
        if shutil.which("gcc") is None:
            return cls.write("kernel.elf", "not an ELF"), 0x1000
        subprocess.run(["gcc", "-g", "-O0", "-no-pie", "-o", elf, source],
                       check=True)
        symbols = subprocess.run(["nm", elf], capture_output=True, text=True,
                                 check=True).stdout
        address = re.search(r"^([0-9a-f]+) T selftest_panic_calls_panic$",
                            symbols, re.M).group(1)
        return elf, int(address, 16)

    def ktest(self, scenarios, *extra, groups="core 1 all\n", test_list=None):
        """Run tools/ktest on the stand-ins.  The test list has, unless
        given, a section of CORE_TESTS for every group."""
        scenario_file = self.write("scenarios.json", json.dumps(scenarios))
        groups_file = self.write("groups", groups)
        if test_list is None:
            test_list = testlist.format_list({
                group.name: CORE_TESTS
                for group in testlist_groups(groups)})
        list_file = self.write("ktest-list", test_list)
        env = dict(os.environ, FAKE_QEMU_SCENARIOS=scenario_file)
        argv = [sys.executable, KTEST, "--kernel", self.kernel,
                "--grub-cfg", self.grub_cfg, "--groups", groups_file,
                "--qemu", self.qemu, "--mkrescue", self.mkrescue,
                "--accel", "tcg", "--out", os.path.join(self.tmp, "out"),
                "--timeout", "3", "-j", "4", "--list", list_file] + \
            list(extra)
        done = subprocess.run(argv, capture_output=True, text=True, env=env,
                              timeout=120)
        return done.returncode, done.stdout

    def last_line(self, stdout):
        return stdout.rstrip("\n").splitlines()[-1]


class KernelBoots(RunnerTest):
    def test_good_boot_passes(self):
        status, out = self.ktest({"all": {"output": GOOD_CORE, "exit": 33}})
        self.assertEqual(self.last_line(out), "1 passed, 0 failed, 1 skipped")
        self.assertEqual(status, 0)

    def test_failed_test_is_reported_with_its_diagnostic(self):
        status, out = self.ktest({"all": {"output": FAILING_CORE,
                                          "exit": 35}})
        self.assertEqual(self.last_line(out), "0 passed, 1 failed, 1 skipped")
        self.assertIn("printf_test.c:7", out)
        self.assertEqual(status, 1)

    def test_exit_33_with_failing_ktap_is_a_harness_error(self):
        status, out = self.ktest({"all": {"output": FAILING_CORE,
                                          "exit": 33}})
        self.assertIn("says all passed", out)
        self.assertEqual(self.last_line(out), "0 passed, 2 failed, 1 skipped")
        self.assertEqual(status, 1)

    def test_exit_35_with_passing_ktap_is_a_harness_error(self):
        status, out = self.ktest({"all": {"output": GOOD_CORE, "exit": 35}})
        self.assertIn("shows no failure", out)
        self.assertEqual(status, 1)

    def test_exit_0_is_never_a_pass(self):
        status, out = self.ktest({"all": {"output": GOOD_CORE, "exit": 0}})
        self.assertIn("QEMU exited 0", out)
        self.assertEqual(self.last_line(out), "1 passed, 1 failed, 1 skipped")
        self.assertEqual(status, 1)

    def test_missing_sentinel_is_a_failure_even_with_exit_33(self):
        status, out = self.ktest({"all": {
            "output": GOOD_CORE.replace("# ktest: done\n", ""), "exit": 33}})
        self.assertIn("ktest: done", out)
        self.assertEqual(status, 1)

    def test_timeout_names_the_running_test(self):
        hung = GOOD_CORE.split("  ok 2 needs_smp")[0]
        status, out = self.ktest({"all": {"output": hung, "exit": 33,
                                          "hang": True}})
        self.assertIn("TIMEOUT in printf.needs_smp", out)
        self.assertEqual(self.last_line(out), "1 passed, 1 failed")
        self.assertEqual(status, 1)

    def test_each_smp_count_boots_and_keeps_its_log(self):
        status, out = self.ktest(
            {"all@1": {"output": GOOD_CORE, "exit": 33},
             "all@2": {"output": FAILING_CORE, "exit": 35}},
            groups="core 1,2 all\n")
        self.assertIn("core@smp2", out)
        self.assertEqual(self.last_line(out), "1 passed, 1 failed, 2 skipped")
        log = os.path.join(self.tmp, "out", "core-smp2.log")
        with open(log) as serial:
            self.assertIn("not ok 1 formats_decimal", serial.read())

    def test_missing_kernel_is_a_failure(self):
        status, out = self.ktest({}, "--kernel", "/nonexistent/kernel.elf")
        self.assertIn("not found", out)
        self.assertEqual(status, 1)


def testlist_groups(text):
    from ktestlib import groups
    return groups.parse_groups(text)


def judge_kernel(text, exit_status, **run_fields):
    """Parse a crafted serial log and judge it as a kernel boot would be."""
    run = outcome.Run(where="core@smp1", kind="kernel",
                      doc=ktap.parse(text.splitlines()),
                      exit_status=exit_status, **run_fields)
    return outcome.judge(run)


def failures(run):
    """What a run adds to the final line's failed count."""
    return len(outcome.failed_cases(run)) + len(run.errors)


# What the kernel prints when a leak check panics after the suite's last
# test passed (kern_ktest.c run_suite; kern_panic.c prefixes every line).
PANIC_IN_LEAK_CHECK = GOOD_CORE.split("ok 1 printf\n")[0] + """\
  # PANIC: vm_page_stats: free count 7 exceeds total 5
  # bt: #0 0x%016x selftest_panic_calls_panic+0x4
# ktest: aborted by panic
"""


class PanicsOutsideTests(RunnerTest):
    """A panic is a failure wherever it happens, not only inside a test."""

    def assert_one_panic_failure(self, run, suite, where):
        panics = [c for c in run.cases
                  if c.path.endswith(outcome.PANIC_CASE_NAME)]
        self.assertEqual(len(panics), 1, run.cases)
        self.assertEqual(panics[0].suite, suite)
        self.assertEqual(panics[0].status, ktap.CRASH)
        self.assertIn(where, panics[0].reason)
        self.assertGreaterEqual(failures(run), 1)

    def test_panic_in_leak_check_after_last_test_is_a_failure(self):
        run = judge_kernel(PANIC_IN_LEAK_CHECK % 0x1000, 35)
        self.assert_one_panic_failure(run, "printf", "outside any test")
        self.assertIn("free count 7", outcome.failed_cases(run)[0].reason)

    def test_panic_between_suites_is_a_failure(self):
        text = GOOD_CORE.split("# Totals")[0] + \
            "  # PANIC: between suites\n# ktest: aborted by panic\n"
        run = judge_kernel(text, 35)
        self.assert_one_panic_failure(run, "(between suites)",
                                      "between suites")

    def test_bare_panic_during_boot_is_read_with_its_backtrace(self):
        run = judge_kernel("Damselfly: console up\nPANIC: no memory map\n"
                           "bt: #0 0xffffffff80101234 kmain+0x3a\n", 35)
        self.assert_one_panic_failure(run, ktap.BOOT, "during boot")
        self.assertEqual(run.doc.panics[0].frames[0].function, "kmain")

    def test_panic_after_the_sentinel_is_a_failure(self):
        run = judge_kernel(GOOD_CORE + "PANIC: an AP, late\n", 33)
        self.assert_one_panic_failure(run, ktap.AFTER_DONE, "after")

    def test_panic_inside_a_test_counts_once(self):
        text = GOOD_CORE.split("  ok 2 needs_smp")[0] + \
            "  # PANIC: deliberate\n# ktest: aborted by panic\n"
        run = judge_kernel(text, 35)
        self.assertEqual([(c.path, c.status) for c in
                          outcome.failed_cases(run)],
                         [("printf.needs_smp", ktap.CRASH)])
        self.assertEqual(run.errors, [])

    def test_leak_check_panic_is_reported_with_symbolized_backtrace(self):
        status, out = self.ktest({"all": {
            "output": PANIC_IN_LEAK_CHECK % (self.panic_address + 4),
            "exit": 35}})
        self.assertIn("CRASH printf.%s: PANIC in suite printf outside any "
                      "test" % outcome.PANIC_CASE_NAME, out)
        self.assertRegex(out, r"#0 0x[0-9a-f]+ selftest_panic_calls_panic"
                         r"\S*\s+\S+\.c:\d+" if shutil.which("gcc") else
                         "#0 0x")
        self.assertEqual(self.last_line(out), "1 passed, 1 failed, 1 skipped")
        self.assertEqual(status, 1)


class MachineShape(RunnerTest):
    """A boot must run on as many CPUs and NUMA domains as QEMU gave it."""

    def machine_cases(self, line, want):
        text = GOOD_CORE.replace("KTAP version 1\n", "KTAP version 1\n" +
                                 line, 1)
        run = judge_kernel(text, 33, machine=want)
        return [(c.path, c.reason) for c in outcome.failed_cases(run)]

    def test_matching_machine_passes(self):
        self.assertEqual(self.machine_cases(
            "# machine: cpus=2 numa_domains=2\n", (2, 2)), [])

    def test_missing_ap_is_a_failure_naming_both_counts(self):
        cases = self.machine_cases("# machine: cpus=3 numa_domains=1\n",
                                   (4, 1))
        self.assertEqual([path for path, _ in cases], ["(boot).cpu_count"])
        self.assertIn("-smp 4", cases[0][1])
        self.assertIn("kernel runs 3", cases[0][1])

    def test_missing_numa_domain_is_a_failure_naming_both_counts(self):
        cases = self.machine_cases("# machine: cpus=2 numa_domains=1\n",
                                   (2, 2))
        self.assertEqual([path for path, _ in cases],
                         ["(boot).numa_domains"])
        self.assertIn("2 NUMA node(s)", cases[0][1])
        self.assertIn("found 1 memory domain(s)", cases[0][1])

    def test_unreported_machine_is_a_failure(self):
        cases = self.machine_cases("", (1, 1))
        self.assertEqual([path for path, _ in cases], ["(boot).cpu_count"])
        self.assertIn("did not report", cases[0][1])

    def test_group_numa_options_set_the_expected_domains(self):
        status, out = self.ktest(
            {"all": {"output": GOOD_CORE, "exit": 33,
                     "machine": "cpus=2 numa_domains=1"}},
            groups="numa 2 all -numa node,nodeid=0 -numa node,nodeid=1 "
                   "-numa cpu,node-id=1,socket-id=0\n")
        self.assertIn("QEMU was given 2 NUMA node(s) but the kernel found 1",
                      out)
        self.assertEqual(self.last_line(out), "1 passed, 1 failed, 1 skipped")
        self.assertEqual(status, 1)

    def test_group_append_and_boot_timeout_are_the_runners_not_qemus(self):
        [group] = testlist_groups("net 1 net -m 256M -append ip=1.2.3.4/24 "
                                  "-boot-timeout 300 -append gw=1.2.3.1 "
                                  "-smp 1\n")
        self.assertEqual(group.qemu_args, ["-m", "256M", "-smp", "1"])
        self.assertEqual(group.cmdline(), "ktest=net ip=1.2.3.4/24 "
                         "gw=1.2.3.1")
        self.assertEqual(group.boot_timeout, 300.0)
        for bad in ("-append", "-boot-timeout x", "-boot-timeout 0"):
            with self.assertRaises(Exception) as caught:
                testlist_groups("net 1 net %s\n" % bad)
            self.assertIn("ktest-groups:1", str(caught.exception))

    def test_smp_boot_with_one_cpu_running_fails(self):
        status, out = self.ktest(
            {"all@1": {"output": GOOD_CORE, "exit": 33},
             "all@2": {"output": GOOD_CORE, "exit": 33,
                       "machine": "cpus=1 numa_domains=1"}},
            groups="core 1,2 all\n")
        self.assertIn("FAIL (boot).cpu_count: QEMU was started with 2 CPU(s) "
                      "(-smp 2) but the kernel runs 1", out)
        self.assertEqual(self.last_line(out), "2 passed, 1 failed, 2 skipped")
        self.assertEqual(status, 1)


class TestList(RunnerTest):
    """tests/ktest-list: a test cannot vanish, or appear, unnoticed."""

    def test_registry_is_read_from_the_elf(self):
        if shutil.which("gcc") is None:
            self.skipTest("needs gcc to build the stand-in kernel")
        tests = registry.read_tests(self.kernel)
        self.assertEqual([(t.path, t.manual) for t in tests], [
            ("printf.needs_smp", False),
            ("selftest_fail.fails_assertion", True),
            ("printf.formats_decimal", False)])

    def test_selection_follows_the_kernels_rule(self):
        tests = [registry.Test("printf", "a", False),
                 registry.Test("printf", "b", False),
                 registry.Test("selftest_fail", "c", True)]
        from ktestlib.groups import Group
        groups = [Group("core", [1], ["all"]),
                  Group("one", [1], ["printf.b"]),
                  Group("manual", [1], ["selftest_fail"])]
        self.assertEqual(testlist.expected(groups, tests), {
            "core": ["printf.a", "printf.b"], "one": ["printf.b"],
            "manual": ["selftest_fail.c"]})

    def test_list_is_sorted_one_per_line_and_grouped_by_suite(self):
        text = testlist.format_list({"core": ["vm.b", "acpi.z", "vm.a"]})
        body = text.split("[core]\n", 1)[1]
        self.assertEqual(body, "acpi.z\n\nvm.a\nvm.b\n")
        self.assertEqual(testlist.parse_list(text),
                         {"core": ["acpi.z", "vm.a", "vm.b"]})

    def test_malformed_list_is_rejected(self):
        for text, why in (("printf.a\n", "want '[group]'"),
                          ("[core]\nprintf\n", "want '[group]'"),
                          ("[core]\nprintf.a\nprintf.a\n", "listed twice"),
                          ("[core]\n[core]\n", "appears twice")):
            with self.assertRaisesRegex(testlist.ListError, re.escape(why)):
                testlist.parse_list(text)

    def test_every_difference_from_the_list_fails(self):
        """One run shows them all: a test that vanished, a new one, a group
        without a section, a section without a group."""
        listed = testlist.format_list({
            "core": ["printf.formats_decimal", "printf.pads_hex"],
            "gone": CORE_TESTS})
        status, out = self.ktest(
            {"all@1": {"output": GOOD_CORE, "exit": 33},
             "printf@1": {"output": GOOD_CORE, "exit": 33}},
            groups="core 1 all\nunlisted 1 printf\n", test_list=listed)
        self.assertIn("FAIL (test list).printf.pads_hex: listed for group "
                      "core", out)
        self.assertIn("FAIL (test list).printf.needs_smp: ran in group core "
                      "but is not in", out)
        self.assertIn("has group unlisted but", out)
        self.assertIn("has a section [gone] for a group that", out)
        self.assertRegex(out, r"run `tools/ktest --update-list --kernel \S+ "
                         r"--groups \S+ --list \S+` and commit")
        self.assertEqual(self.last_line(out), "2 passed, 4 failed, 2 skipped")
        self.assertEqual(status, 1)

    def test_missing_list_file_fails(self):
        status, out = self.ktest({"all": {"output": GOOD_CORE, "exit": 33}},
                                 "--list", "/nonexistent/ktest-list")
        self.assertIn("/nonexistent/ktest-list does not exist", out)
        self.assertEqual(status, 1)

    def test_update_list_writes_what_the_boot_then_runs(self):
        if shutil.which("gcc") is None:
            self.skipTest("needs gcc to build the stand-in kernel")
        path = self.write("updated-list", "")
        done = subprocess.run(
            [sys.executable, KTEST, "--update-list", "--kernel", self.kernel,
             "--groups", self.write("groups", "core 1 all\n"), "--list",
             path], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        with open(path) as written:
            text = written.read()
        self.assertEqual(testlist.parse_list(text), {"core": CORE_TESTS})
        status, out = self.ktest({"all": {"output": GOOD_CORE, "exit": 33}},
                                 test_list=text)
        self.assertEqual(self.last_line(out), "1 passed, 0 failed, 1 skipped")


class NoQuietPasses(unittest.TestCase):
    """Each way a boot can end badly while claiming success (exit 33) is at
    least one failure."""

    def assert_fails(self, text, *fragments, exit_status=33):
        run = judge_kernel(text, exit_status, machine=(1, 1))
        self.assertGreaterEqual(failures(run), 1, text)
        joined = "\n".join(run.errors + [c.reason for c in run.cases])
        for fragment in fragments:
            self.assertIn(fragment, joined)
        return run

    def core(self, old, new):
        self.assertIn(old, GOOD_CORE)
        return GOOD_CORE.replace(
            "KTAP version 1\n", "KTAP version 1\n# machine: cpus=1 "
            "numa_domains=1\n", 1).replace(old, new, 1)

    def test_good_core_is_clean(self):
        run = judge_kernel(self.core("", ""), 33, machine=(1, 1))
        self.assertEqual((failures(run), run.errors), (0, []))

    def test_exit_33_without_a_plan(self):
        self.assert_fails(self.core("\n1..1\n", "\n"), "no plan line")

    def test_exit_33_with_fewer_results_than_planned(self):
        self.assert_fails(self.core("  1..2", "  1..3"),
                          "planned 3 tests but reported 2")

    def test_exit_33_after_a_crash_in_the_middle_of_a_suite(self):
        text = self.core("", "").split("  # running: needs_smp")[0]
        run = self.assert_fails(text, "before '# ktest: done' despite exit 33")
        self.assertEqual(ktap.count(run.doc.results), (1, 1, 0))

    def test_truncated_log_with_exit_33(self):
        text = self.core("", "").split("# Totals")[0]
        self.assert_fails(text, "before '# ktest: done'")

    def test_duplicate_test_numbers(self):
        self.assert_fails(self.core("ok 2 needs_smp", "ok 1 needs_smp"),
                          "duplicate result number 1")

    def test_duplicate_test_names(self):
        self.assert_fails(self.core("  # running: needs_smp\n  ok 2 needs_smp",
                                    "  # running: formats_decimal\n"
                                    "  ok 2 formats_decimal"),
                          "'formats_decimal' used twice")

    def test_result_for_another_test_than_the_running_one(self):
        self.assert_fails(self.core("ok 2 needs_smp", "ok 2 needs_sm[cpu1]p"),
                          "but '# running:' announced 'needs_smp'")

    def test_boot_that_ran_no_tests(self):
        text = ("KTAP version 1\n# machine: cpus=1 numa_domains=1\n1..0\n"
                "# Totals: pass:0 fail:0 skip:0 total:0\n# ktest: done\n")
        self.assert_fails(text, "ran no tests")

    def test_suite_that_says_ok_with_no_tests(self):
        text = ("KTAP version 1\n# machine: cpus=1 numa_domains=1\n1..2\n"
                "  KTAP version 1\n  # Subtest: vm\n  1..0\nok 1 vm\n" +
                GOOD_CORE.split("1..1\n", 1)[1].replace("ok 1 printf",
                                                         "ok 2 printf"))
        self.assert_fails(text, "suite vm says ok but ran no tests")

    def test_serial_reader_that_never_finished_is_a_failure(self):
        from ktestlib import qemu
        script = ("import subprocess, sys\n"
                  "subprocess.Popen(['sleep', '3'])\n"
                  "sys.stdout.write(%r)\nsys.exit(33)\n" % GOOD_CORE)
        with tempfile.TemporaryDirectory() as tmp:
            saved, qemu.READER_GRACE = qemu.READER_GRACE, 0.5
            try:
                boot = qemu.boot([sys.executable, "-c", script],
                                 os.path.join(tmp, "log"), 30)
            finally:
                qemu.READER_GRACE = saved
        self.assertTrue(boot.incomplete)
        run = outcome.judge(outcome.Run(
            where="core@smp1", kind="kernel", doc=ktap.parse(boot.lines),
            exit_status=boot.returncode, incomplete=boot.incomplete))
        self.assertIn("serial log may be cut short", "\n".join(run.errors))


class SelfTests(RunnerTest):
    def test_all_five_broken_suites_are_classified(self):
        status, out = self.ktest(selftest_scenarios(self.panic_address),
                                 "--selftest", "--no-groups")
        self.assertEqual(self.last_line(out), "5 passed, 0 failed", out)
        self.assertEqual(status, 0)

    def test_an_unreported_leak_is_a_failure(self):
        scenarios = selftest_scenarios(self.panic_address)
        quiet = single_suite("selftest_leak", "# running: forgets_a_widget\n"
                             "ok 1 forgets_a_widget\n") + \
            "ok 1 selftest_leak\n# Totals: pass:1 fail:0 skip:0 total:1\n" \
            "# ktest: done\n"
        scenarios["selftest_leak"] = {"output": quiet, "exit": 33}
        status, out = self.ktest(scenarios, "--selftest", "--no-groups")
        self.assertIn("FAIL runner_selftest.leak_is_a_suite_failure", out)
        self.assertEqual(status, 1)

    def test_a_selftest_that_passes_is_a_failure(self):
        scenarios = selftest_scenarios(self.panic_address)
        scenarios["selftest_fail"] = {"output": GOOD_CORE, "exit": 33}
        status, out = self.ktest(scenarios, "--selftest", "--no-groups")
        self.assertIn("FAIL runner_selftest.failed_assertion_is_a_failure",
                      out)
        self.assertEqual(self.last_line(out), "4 passed, 1 failed")
        self.assertEqual(status, 1)


class HostBinaries(RunnerTest):
    def host_binary(self, name, body):
        return self.script(name, "import os, sys\n" + textwrap.dedent(body))

    def test_crash_fails_the_running_test(self):
        binary = self.host_binary("crashes", """\
            print("KTAP version 1\\n1..1\\n  KTAP version 1\\n"
                  "  # Subtest: hmr\\n  1..2\\n  # running: a\\n  ok 1 a\\n"
                  "  # running: b", flush=True)
            sys.stderr.write("AddressSanitizer: heap-use-after-free\\n")
            sys.stderr.flush()
            os.abort()
            """)
        status, out = self.ktest({}, "--no-groups", "--host", binary)
        self.assertIn("crash in hmr.b", out)
        self.assertIn("heap-use-after-free", out)
        self.assertEqual(self.last_line(out), "1 passed, 1 failed")
        self.assertEqual(status, 1)

    def test_exit_0_with_failing_ktap_is_inconsistent(self):
        binary = self.host_binary("lies", """\
            print("KTAP version 1\\n1..1\\n  KTAP version 1\\n"
                  "  # Subtest: hmr\\n  1..1\\n  not ok 1 a\\nnot ok 1 hmr\\n"
                  "# Totals: pass:0 fail:1 skip:0 total:1\\n# ktest: done")
            """)
        status, out = self.ktest({}, "--no-groups", "--host", binary)
        self.assertIn("exit 0 but the KTAP shows 1 failed", out)
        self.assertEqual(self.last_line(out), "0 passed, 2 failed")


class QemuAccelProbe(RunnerTest):
    """tools/qemu-accel accepts KVM only once the kernel itself printed."""

    GRUB_ONLY = ("\x1b[H\x1b[J\x1b[1;1H  Booting `Damselfly'\n\r\n\r"
                 "\r\n")

    def banner_seen(self, text):
        log = self.write("probe.log", text)
        return subprocess.run([QEMU_ACCEL, "--banner-seen", log],
                              timeout=30).returncode == 0

    def test_grub_booting_line_is_not_the_kernel_banner(self):
        self.assertFalse(self.banner_seen(self.GRUB_ONLY))

    def test_kernel_console_line_is_the_banner(self):
        self.assertTrue(self.banner_seen(
            self.GRUB_ONLY + "Damselfly: console up\r\nacpi: FACP\r\n"))

    def test_banner_must_start_its_line(self):
        self.assertFalse(self.banner_seen(
            self.GRUB_ONLY + "echo Damselfly: console up\r\n"))


BENCH_OUTPUT = """\
# tsc_hz=1000000000
bench empty_loop min=3.0 median=3.5 reps=7 unit=tsc
# kbench: done
"""


class Benchmarks(RunnerTest):
    def kbench(self, scenario, *extra):
        scenario_file = self.write("scenarios.json",
                                   json.dumps({"kbench": scenario}))
        env = dict(os.environ, FAKE_QEMU_SCENARIOS=scenario_file)
        argv = [sys.executable, KBENCH, "--kernel", self.kernel,
                "--grub-cfg", self.grub_cfg, "--qemu", self.qemu,
                "--mkrescue", self.mkrescue, "--kvm", "no", "--no-linux",
                "--out", os.path.join(self.tmp, "bench")] + list(extra)
        done = subprocess.run(argv, capture_output=True, text=True, env=env,
                              timeout=60)
        return done.returncode, done.stdout

    def test_icount_ticks_are_reported_as_instructions(self):
        status, out = self.kbench({"output": BENCH_OUTPUT, "exit": 33})
        self.assertIn("bench empty_loop 3 insn/op (median 3.5)", out)
        self.assertEqual(status, 0)

    def test_host_command_bench_lines_are_relayed(self):
        status, out = self.kbench({"output": BENCH_OUTPUT, "exit": 33},
                                  "--host-cmd",
                                  "echo noise; echo bench memcpy_4k 518 insn/op")
        self.assertIn("bench memcpy_4k 518 insn/op", out)
        self.assertNotIn("noise", out)
        self.assertEqual(status, 0)

    def test_the_checked_kernel_is_measured_beside_and_labelled(self):
        status, out = self.kbench({"output": BENCH_OUTPUT, "exit": 33},
                                  "--checked-kernel", self.kernel)
        lines = [line for line in out.splitlines()
                 if line.startswith("bench empty_loop")]
        self.assertEqual(lines, ["bench empty_loop 3 insn/op (median 3.5)",
                                 "bench empty_loop 3 insn/op (median 3.5) "
                                 "[checked]"])
        self.assertEqual(status, 0)

    def test_boot_without_sentinel_fails(self):
        status, out = self.kbench({"output": BENCH_OUTPUT.replace(
            "# kbench: done", ""), "exit": 33})
        self.assertEqual(status, 1)

    def test_failed_exit_fails(self):
        status, out = self.kbench({"output": BENCH_OUTPUT, "exit": 35})
        self.assertEqual(status, 1)


if __name__ == "__main__":
    unittest.main()
