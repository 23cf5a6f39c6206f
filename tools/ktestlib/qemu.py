"""qemu.py - build a boot ISO and boot it under QEMU with a timeout.

The kernel is Multiboot2, which QEMU's -kernel cannot load, so every boot
goes through GRUB: a temporary directory gets boot/kernel.elf and a
boot/grub/grub.cfg made from the iso/grub.cfg template (its `@CMDLINE@`
replaced by e.g. `ktest=all`), and grub-mkrescue turns it into an ISO.

A boot's verdict comes from QEMU's exit status.  The guest writes a value v
to the isa-debug-exit port 0xf4 and QEMU exits with (v << 1) | 1:

    0x10 -> 33   all passed
    0x11 -> 35   something failed
    0            guest shut down, or triple-faulted (we pass -no-reboot)
    1            QEMU itself failed

The serial console is QEMU's stdout.  A reader thread copies it line by line
into the log file and notes when each line arrived, which is how the report
knows how long each suite ran.  Port 0xe9 (debugcon) goes to a second log;
the kernel can write there before its UART is set up.
"""

import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import List, Optional

# Every boot's memory: tests, benchmarks and the Linux peer alike.
MEMORY = "256M"

# Seconds the serial reader may take to drain after QEMU has ended.
READER_GRACE = 10

EXIT_PASSED = 33
EXIT_FAILED = 35

# KVM_GET_API_VERSION, _IO(KVMIO=0xAE, 0x00); the stable API answers 12.
KVM_GET_API_VERSION = 0xAE00
KVM_API_VERSION = 12


class IsoError(Exception):
    """grub-mkrescue failed; the message carries its stderr."""


@dataclass
class Boot:
    """What one QEMU run produced."""
    lines: List[str] = field(default_factory=list)
    times: List[float] = field(default_factory=list)
    returncode: Optional[int] = None
    timed_out: bool = False
    seconds: float = 0.0
    stderr: str = ""
    incomplete: bool = False    # the serial reader had not finished


def build_iso(kernel, template, cmdline, iso_path, mkrescue="grub-mkrescue"):
    """Write a GRUB rescue ISO at iso_path that boots kernel with cmdline.

    Raises IsoError (with grub-mkrescue's stderr) on failure.  Blocks for
    the few seconds grub-mkrescue takes.
    """
    with open(template) as source:
        config = source.read()
    if "@CMDLINE@" not in config:
        raise IsoError("%s has no @CMDLINE@ placeholder" % template)
    with tempfile.TemporaryDirectory(prefix="ktest-iso-") as root:
        os.makedirs(os.path.join(root, "boot", "grub"))
        shutil.copyfile(kernel, os.path.join(root, "boot", "kernel.elf"))
        with open(os.path.join(root, "boot", "grub", "grub.cfg"), "w") as cfg:
            cfg.write(config.replace("@CMDLINE@", cmdline))
        _run_mkrescue(mkrescue, iso_path, root)


def _run_mkrescue(mkrescue, iso_path, root):
    os.makedirs(os.path.dirname(os.path.abspath(iso_path)), exist_ok=True)
    try:
        done = subprocess.run([mkrescue, "-o", iso_path, root],
                              capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise IsoError("%s: %s" % (mkrescue, error))
    if done.returncode != 0:
        raise IsoError("%s exited %d:\n%s" % (mkrescue, done.returncode,
                                              done.stderr.strip()))


def kvm_usable(qemu, cpu_model):
    """Can this machine run a guest under KVM with the given -cpu model?

    Opening /dev/kvm is not enough: inside some virtual machines the device
    opens but QEMU aborts setting up the vCPU, or the guest stalls in the
    firmware or in GRUB.  So also boot the kernel's ISO under KVM
    (tools/qemu-accel) and accept KVM only if the kernel's first line,
    "Damselfly: console up", reaches the serial port.
    """
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION) != KVM_API_VERSION:
            return False
    except OSError:
        return False
    finally:
        os.close(fd)
    return _kernel_boots_under_kvm()


# tools/qemu-accel boots the kernel's own ISO under KVM and caches the
# verdict; on some hosts the firmware runs under KVM but GRUB stalls, so
# only a boot that reaches the kernel's own first line counts (not GRUB's
# "Booting `Damselfly'", which comes before the kernel is even loaded).
QEMU_ACCEL = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "qemu-accel")


def _kernel_boots_under_kvm(iso="build/damselfly.iso"):
    if not os.path.exists(iso):
        return False
    env = dict(os.environ)
    env.pop("ACCEL", None)
    try:
        done = subprocess.run([QEMU_ACCEL, iso], env=env, capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.stdout.strip() == "kvm"


def accel_args(accel, kvm_cpu="host,-arch-capabilities"):
    """The acceleration options for `accel` ("kvm" or "tcg")."""
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", kvm_cpu]
    return ["-accel", "tcg", "-cpu", "max"]


def command(qemu, iso, smp, accel_options, debugcon_log, extra_args=()):
    """The QEMU command line for one boot of `iso` with `smp` CPUs.

    extra_args (a group's fourth column, e.g. -numa options) come last.
    """
    return [qemu, "-machine", "q35", "-m", MEMORY, "-smp", str(smp),
            "-no-reboot", "-display", "none", "-monitor", "none",
            "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-debugcon", "file:" + debugcon_log,
            "-cdrom", iso, "-boot", "d"] + list(accel_options) + \
        list(extra_args)


def boot(argv, log_path, timeout, peer=None):
    """Run argv (QEMU, or a stand-in) with the serial log going to log_path.

    Kills the process group after `timeout` seconds.  Returns a Boot; never
    raises for a guest problem, only reports it.  A peer (netns.PeerAgent)
    sees every serial line and may write to the guest's serial input.
    """
    result = Boot()
    started = time.monotonic()
    with open(log_path, "w", errors="replace") as log:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE if peer
                                       else subprocess.DEVNULL,
                                       stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE,
                                       start_new_session=True)
        except OSError as error:
            result.stderr = "cannot start %s: %s" % (argv[0], error)
            result.returncode = 127
            return result
        if peer:
            peer.attach(process)
        readers = _start_readers(process, log, result, started, peer)
        result.timed_out = _wait(process, timeout)
        for reader in readers:
            reader.join(timeout=READER_GRACE)
        # Something still holds QEMU's stdout open: the lines read so far
        # may not be all there is, and must not be judged as if they were.
        result.incomplete = any(reader.is_alive() for reader in readers)
        if peer:
            peer.close()
    result.returncode = None if result.timed_out else process.returncode
    result.seconds = time.monotonic() - started
    return result


def _wait(process, timeout):
    """Wait for process; on timeout kill its whole group.  True if killed."""
    try:
        process.wait(timeout=timeout)
        return False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        return True


def _start_readers(process, log, result, started, peer=None):
    def copy_serial():
        for raw in process.stdout:
            line = raw.decode("utf-8", errors="replace")
            log.write(line)
            log.flush()
            result.lines.append(line.rstrip("\n"))
            result.times.append(time.monotonic() - started)
            if peer:
                peer.line(line)

    def keep_stderr():
        result.stderr = process.stderr.read().decode("utf-8", "replace")

    readers = [threading.Thread(target=copy_serial, daemon=True),
               threading.Thread(target=keep_stderr, daemon=True)]
    for reader in readers:
        reader.start()
    return readers
