"""test_busybox_serial.py - busybox's shell in Damselfly, driven over the
serial console like a person at a terminal, against busybox on the host.

One boot of the checked kernel with `init=/bin/sh` and the user disk
(build/user.img, opened with snapshot=on).  For each script of
tests/busybox/ the test types, over the guest's serial line,

    cat > /tmp/s.sh           then the script's lines, then ^D
    mkdir /tmp/wN; sh -s /tmp/wN < /tmp/s.sh > /tmp/o 2>&1;
    echo "exit $?" >> /tmp/o; echo @@BEGIN; cat /tmp/o; echo @@END

and takes what is printed between the markers (each typed marker is
written as @@BB""BEGIN, so its echo never matches).  The same script
runs on the host through tools/busybox-expect with Debian's
busybox-static (`make test` installs it: tools/packages.txt), which
invokes it the same way; the two outputs must be equal byte for byte
(the console's CR before each NL taken out).  Every line typed is sent
after the echo of the one before it, so the console's input queue never
overflows.  One more test types ^C over the line while `sleep 500`
runs.

Job control: a job is started, stopped with ^Z, listed by `jobs`,
continued in the background (`bg`), killed with `kill %1`; a second one
is stopped and brought back with `fg`, then ended with ^C.  The same
keys go to busybox's shell on the host in a pseudo-terminal, and the
`jobs` lines of both must be equal.  Each job says a marker once it
runs (in its own group, in the foreground), so ^Z is typed only then:
typed earlier, it would reach the shell, which ignores it.  A second
boot exits the shell with a job stopped: the job must end (SIGHUP and
SIGCONT to a newly orphaned group), on the host too.  Run by `make
test` (suite test_busybox_serial).
"""

import glob
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from ktestlib import qemu  # noqa: E402

KERNEL = os.path.join(ROOT, "build", "kernel.elf")
USER_IMG = os.path.join(ROOT, "build", "user.img")
BUSYBOX = "/bin/busybox"
EXPECT = os.path.join(ROOT, "tools", "busybox-expect")
SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "tests", "busybox", "*.sh")))
PROMPT = b"/ # "
WAIT = 120.0                    # seconds for one echo or one script


class Guest:
    """QEMU with the guest's serial line on a pipe, and all it printed."""

    def __init__(self, workdir):
        iso = os.path.join(workdir, "sh.iso")
        qemu.build_iso(KERNEL, os.path.join(ROOT, "iso", "grub.cfg"),
                       "init=/bin/sh", iso)
        argv = qemu.command(
            "qemu-system-x86_64", iso, 1, qemu.accel_args("tcg"),
            os.path.join(workdir, "e9.log"),
            ["-drive", "file=%s,if=none,id=d0,format=raw,snapshot=on"
             % USER_IMG,
             "-device", "virtio-blk-pci,drive=d0,disable-legacy=on"])
        self.out = bytearray()
        self.lock = threading.Lock()
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            data = self.process.stdout.read1(4096)
            if not data:
                return
            with self.lock:
                self.out.extend(data)

    def mark(self):
        with self.lock:
            return len(self.out)

    def wait_for(self, text, since):
        """Wait until text appears after offset since; its end offset."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self.lock:
                at = self.out.find(text, since)
            if at >= 0:
                return at + len(text)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("no %r from the guest; its last output:\n%s"
                             % (text, self.tail()))

    def write(self, data):
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def poll_for(self, text, since, seconds):
        """The end offset of text after since, or None after seconds."""
        deadline = time.monotonic() + seconds
        while True:
            with self.lock:
                at = self.out.find(text, since)
            if at >= 0:
                return at + len(text)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def type_line(self, line, end=b"\r"):
        """Type one line and wait for its echo."""
        since = self.mark()
        self.process.stdin.write(line + end)
        self.process.stdin.flush()
        return self.wait_for(line, since)

    def text(self, start, end):
        with self.lock:
            return bytes(self.out[start:end])

    def tail(self):
        with self.lock:
            return self.out[-600:].decode("latin-1")

    def close(self):
        self.process.kill()
        self.process.wait()


class HostShell:
    """busybox's interactive shell on the host, in a pseudo-terminal: the
    same mark / wait_for / text interface as Guest, and write()."""

    def __init__(self):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir("/")
            os.execve(BUSYBOX, ["sh", "-i"],
                      {"PATH": "/bin", "HOME": "/", "PS1": "/ # ",
                       "TERM": "vt100"})
        self.out = bytearray()

    def write(self, data):
        os.write(self.fd, data)

    def mark(self):
        return len(self.out)

    def poll_for(self, text, since, seconds):
        """The end offset of text after since, or None after seconds."""
        deadline = time.monotonic() + seconds
        while True:
            at = self.out.find(text, since)
            if at >= 0:
                return at + len(text)
            if time.monotonic() >= deadline:
                return None
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.out.extend(os.read(self.fd, 4096))
                except OSError:
                    return None

    def wait_for(self, text, since):
        end = self.poll_for(text, since, WAIT)
        if end is None:
            raise AssertionError("no %r from the host's shell:\n%s"
                                 % (text, self.out[-600:].decode("latin-1")))
        return end

    def text(self, start, end):
        return bytes(self.out[start:end])

    def close(self):
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        os.close(self.fd)


# One job-control session, typed the same way into both shells: each step
# is (keys, what to wait for after them).  A job says @@BBRUN<n> once it
# runs; its typed echo (@@BB""RUN) never matches.
JOB = b"sh -c 'echo @@BB\"\"RUN%d; exec sleep %d'\r"


def job_session(term):
    """Drive term (Guest or HostShell) through the session; return the
    text of each step, with CRs and the line editor's cursor queries
    taken out."""
    steps = [                           # keys, output, then a prompt?
        (JOB % (1, 500), b"@@BBRUN1", False),
        (b"\x1a", b"Stopped", True),       # ^Z
        (b"jobs\r", b"Stopped", True),
        (b"bg\r", b"sleep 500", True),
        (b"jobs\r", b"Running", True),
        (b"kill %1\r", b"kill %1", True),  # "Terminated" here or in
        (b"jobs\r", b"jobs", True),        # `jobs`: the shell decides
        (JOB % (2, 400), b"@@BBRUN2", False),
        (b"\x1a", b"Stopped", True),
        (b"fg\r", b"sleep 400", False),    # the job has the terminal
    ]
    texts = []
    for keys, expect, prompt in steps:
        since = term.mark()
        term.write(keys)
        end = term.wait_for(expect, since)
        if prompt:
            end = term.wait_for(PROMPT, end)
        texts.append(clean(term.text(since, end)))
    return texts


def ctrl_c_until_prompt(term):
    """Type ^C until the prompt comes back: a ^C that comes before the
    job has the terminal again reaches the shell, which goes on."""
    since = term.mark()
    for _ in range(40):
        term.write(b"\x03")
        if term.poll_for(PROMPT, since, 3.0) is not None:
            return
    raise AssertionError("no prompt after ^C")


def clean(text):
    text = text.replace(b"\r", b"").replace(b"\x1b[6n", b"")
    return text.decode("latin-1")


def job_lines(texts):
    """The shell's job lines ("[1]+  Stopped ..."), in order (a line
    may start with the echoed ^Z)."""
    found = (re.search(r"\[\d+\][+-]? .*", line) for text in texts
             for line in text.split("\n"))
    return [m.group(0).rstrip() for m in found if m]


def host_output(script):
    """What busybox on this machine prints for script (busybox-expect)."""
    return subprocess.run([EXPECT, BUSYBOX, script], check=True,
                          stdout=subprocess.PIPE, timeout=WAIT).stdout


class BusyboxOverSerial(unittest.TestCase):
    guest = None

    @classmethod
    def setUpClass(cls):
        missing = [p for p in (KERNEL, USER_IMG, BUSYBOX) if
                   not os.path.exists(p)]
        if missing:
            raise unittest.SkipTest("missing %s (make test builds the "
                                    "first two and installs busybox-static)"
                                    % ", ".join(missing))
        cls.workdir = tempfile.TemporaryDirectory()
        cls.guest = Guest(cls.workdir.name)
        cls.guest.wait_for(PROMPT, 0)
        cls.runs = 0

    @classmethod
    def tearDownClass(cls):
        if cls.guest is not None:
            cls.guest.close()
            cls.workdir.cleanup()

    def run_in_guest(self, script):
        """Type script over serial, run it as busybox-expect does, and
        return what it printed."""
        guest = self.guest
        BusyboxOverSerial.runs += 1
        work = b"/tmp/w%d" % self.runs
        guest.type_line(b"mkdir -p /tmp; cat > /tmp/s.sh")
        with open(script, "rb") as source:
            for line in source.read().splitlines():
                guest.type_line(line, b"\n")
        since = guest.mark()
        guest.process.stdin.write(b"\x04")      # ^D: the end for cat
        guest.process.stdin.flush()
        guest.wait_for(PROMPT, since)
        # Longer than a screen line: the line editor's echo of it wraps,
        # so the marker, which only the command prints, is awaited.
        since = guest.mark()
        guest.process.stdin.write(
            b"mkdir %s; env -i PATH=/bin HOME=/ sh -s %s < /tmp/s.sh "
            b"> /tmp/o 2>&1; echo \"exit $?\" >> /tmp/o; "
            b"echo @@BB\"\"BEGIN; cat /tmp/o; echo @@BB\"\"END\r"
            % (work, work))
        guest.process.stdin.flush()
        start = guest.wait_for(b"@@BBBEGIN\r\n", since)
        end = guest.wait_for(b"@@BBEND", start) - len(b"@@BBEND")
        return guest.text(start, end).replace(b"\r\n", b"\n")

    def check(self, name):
        script = os.path.join(ROOT, "tests", "busybox", name)
        self.assertEqual(self.run_in_guest(script).decode("latin-1"),
                         host_output(script).decode("latin-1"))

    def test_ctrl_c_over_serial_ends_the_foreground_job(self):
        """^C typed on the serial line (the UART, the ttywatch thread,
        ISIG) ends `sleep 500` with SIGINT: $? is 128 + 2.  A ^C that
        comes before the job runs reaches the shell, which goes on: so
        ^C is typed again until the prompt is back."""
        guest = self.guest
        since = guest.mark()
        guest.process.stdin.write(b"sleep 500\r")
        guest.process.stdin.flush()
        guest.wait_for(b"sleep 500", since)
        prompt = None
        for _ in range(40):
            guest.process.stdin.write(b"\x03")
            guest.process.stdin.flush()
            deadline = time.monotonic() + 3
            while prompt is None and time.monotonic() < deadline:
                with guest.lock:
                    at = guest.out.find(PROMPT, since)
                prompt = at if at >= 0 else None
                time.sleep(0.1)
            if prompt is not None:
                break
        self.assertIsNotNone(prompt, "no prompt after ^C:\n" + guest.tail())
        since = guest.mark()
        guest.process.stdin.write(b"echo @@BB\"\"ST $?\r")
        guest.process.stdin.flush()
        guest.wait_for(b"@@BBST 130", since)

    def test_ctrl_z_jobs_bg_fg_and_kill_work_as_on_the_host(self):
        """^Z stops a job (SIGTSTP; the shell's wait4 WUNTRACED sees it),
        `jobs` says Stopped, `bg` continues it (SIGCONT) in the background
        and `jobs` says Running, `kill %1` ends it; a second job stopped
        with ^Z comes back with `fg`, and ^C ends it ($? is 130).  busybox
        on the host, given the same keys in a pseudo-terminal, prints the
        same job lines."""
        host = HostShell()
        texts = {}
        try:
            host.wait_for(PROMPT, 0)
            for name, term in (("guest", self.guest), ("host", host)):
                texts[name] = job_session(term)
                ctrl_c_until_prompt(term)
                since = term.mark()
                term.write(b"echo @@BB\"\"ST $?\r")
                term.wait_for(b"@@BBST 130", since)
        finally:
            host.close()
        guest_jobs = job_lines(texts["guest"])
        self.assertEqual(guest_jobs, job_lines(texts["host"]),
                         "the guest's steps:\n" + "".join(texts["guest"]))
        self.assertEqual([line.split()[1] for line in guest_jobs][:6],
                         ["Stopped", "Stopped", "sh", "Running",
                          "Terminated", "Stopped"])

    def test_files(self):
        self.check("files.sh")

    def test_pipes(self):
        self.check("pipes.sh")

    def test_redirect(self):
        self.check("redirect.sh")

    def test_tools(self):
        self.check("tools.sh")

    def test_every_script_has_a_test(self):
        self.assertEqual(sorted(os.path.basename(s) for s in SCRIPTS),
                         ["files.sh", "pipes.sh", "redirect.sh", "tools.sh"])


class ShellExitHangsUpItsStoppedJob(unittest.TestCase):
    """`exit` twice (busybox warns of stopped jobs once) with a job stopped
    by ^Z: the shell's exit orphans the job's group while a member is
    stopped, so the job gets SIGHUP and SIGCONT and ends.  In Damselfly
    the kernel shell follows init and its `ps` must not show the job
    stopped; on the host the job's process must be gone or a zombie.  A
    boot of its own: the shell is gone afterwards."""

    STEPS = [(b"sh -c 'echo @@BB\"\"RUN $$; exec sleep 500'\r",
              b"@@BBRUN "), (b"\x1a", b"Stopped"),
             (b"exit\r", b"stopped jobs"), (b"exit\r", None)]

    def run_steps(self, term):
        """Type the steps; return the job's pid."""
        for keys, expect in self.STEPS:
            since = term.mark()
            term.write(keys)
            if expect is not None:
                end = term.wait_for(expect, since)
        m = re.search(rb"@@BBRUN (\d+)", term.text(0, term.mark()))
        return int(m.group(1))

    def test_guest(self):
        missing = [p for p in (KERNEL, USER_IMG) if not os.path.exists(p)]
        if missing:
            raise unittest.SkipTest("missing %s" % ", ".join(missing))
        with tempfile.TemporaryDirectory() as workdir:
            guest = Guest(workdir)
            try:
                guest.wait_for(PROMPT, 0)
                job = self.run_steps(guest)
                since = guest.wait_for(b"the kernel shell follows", 0)
                guest.wait_for(b"damselfly> ", since)
                since = guest.mark()
                guest.write(b"ps\r")
                end = guest.wait_for(b"damselfly> ", since)
                ps = guest.text(since, end).decode("latin-1")
            finally:
                guest.close()
        rows = [line.split() for line in ps.splitlines()]
        states = [row[2] for row in rows if len(row) > 2 and
                  row[0] == str(job)]
        self.assertNotIn("stop", states, "ps after the shell's exit:\n" + ps)

    def test_host(self):
        if not os.path.exists(BUSYBOX):
            raise unittest.SkipTest("no %s" % BUSYBOX)
        host = HostShell()
        try:
            host.wait_for(PROMPT, 0)
            job = self.run_steps(host)
            deadline = time.monotonic() + WAIT
            state = None
            while time.monotonic() < deadline:
                try:
                    with open("/proc/%d/stat" % job) as stat:
                        state = stat.read().rsplit(")", 1)[1].split()[0]
                except OSError:
                    state = "gone"
                if state in ("gone", "Z"):
                    break
                time.sleep(0.1)
        finally:
            host.close()
        self.assertIn(state, ("gone", "Z"))


if __name__ == "__main__":
    unittest.main()
