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
runs.  Run by `make test` (suite test_busybox_serial).
"""

import glob
import os
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


if __name__ == "__main__":
    unittest.main()
