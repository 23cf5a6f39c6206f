"""linuxpeer - boot a stock Debian Linux in the same QEMU as Damselfly's
benchmark boot, and read its figures (`make bench`'s Linux column).

What it does, all under build/linux/ (nothing is committed):

  1. `apt-get download` the pinned Debian cloud kernel and busybox-static
     (the .debs are kept, so later runs need no network), and unpack them
     with `dpkg-deb -x`.
  2. Build tools/linuxpeer/bench.c static with the host gcc.
  3. Make an initramfs: busybox as the shell, /init (tools/linuxpeer/init)
     that runs /bench and powers off; the archive is written by busybox's
     own cpio applet.
  4. Boot it with the options Damselfly's benchmark boot uses
     (-icount shift=0,sleep=off, -cpu max, one CPU, the same memory), so
     the guest TSC counts instructions on both sides.

The kernel is pinned: numbers move between kernel builds, and the table in
docs/performance.md names the version it was measured with.  When the
pinned build has left the archive (Debian replaces kernel ABIs with each
point release), the current cloud kernel is used instead and the output
says so.  With no network and nothing cached, prepare() returns a reason
and the Linux column reads "not measured".
"""

import glob
import os
import shutil
import subprocess

PINNED_PACKAGE = "linux-image-6.1.0-50-cloud-amd64"
PINNED_VERSION = "6.1.176-1"
META_PACKAGE = "linux-image-cloud-amd64"
BUSYBOX = "busybox-static"

HERE = os.path.dirname(os.path.abspath(__file__))

# The kernel command line: serial console, quiet boot, no speculative-
# execution mitigations (they add MSR writes and retpolines that Damselfly
# does not have), power off instead of rebooting on a panic.
APPEND = "console=ttyS0 quiet mitigations=off panic=-1"


class Peer:
    """A prepared Linux boot: kernel, initramfs, and what they are."""

    def __init__(self, vmlinuz, initrd, package, version, note):
        self.vmlinuz = vmlinuz
        self.initrd = initrd
        self.package = package
        self.version = version
        self.note = note        # "" for the pinned build, else why not

    def describe(self):
        text = "%s %s" % (self.package, self.version)
        return text + (" (%s)" % self.note if self.note else "")


def _run(argv, cwd=None):
    """Run argv quietly; return (ok, its stderr or the OSError)."""
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                              timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, str(error)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def _cached_deb(out, package, version=None):
    pattern = "%s_%s_amd64.deb" % (package, version.replace(":", "%3a")
                                   if version else "*")
    found = sorted(glob.glob(os.path.join(out, pattern)))
    return found[-1] if found else None


def _download(out, spec):
    """apt-get download spec into out; True on success."""
    ok, _ = _run(["apt-get", "download", spec], cwd=out)
    return ok


def _current_kernel_package():
    """The image package that linux-image-cloud-amd64 depends on now."""
    ok, text = _run(["apt-cache", "depends", META_PACKAGE])
    if not ok:
        return None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Depends:") and "linux-image-" in line:
            return line.split()[1]
    return None


def _fetch_kernel(out):
    """Return (deb path, package, note) or (None, None, reason)."""
    deb = _cached_deb(out, PINNED_PACKAGE, PINNED_VERSION)
    if deb or _download(out, "%s=%s" % (PINNED_PACKAGE, PINNED_VERSION)):
        deb = deb or _cached_deb(out, PINNED_PACKAGE, PINNED_VERSION)
        return deb, PINNED_PACKAGE, ""
    current = _current_kernel_package()
    if current and (_cached_deb(out, current) or _download(out, current)):
        note = "the pinned %s %s is not in the archive; numbers are not " \
               "comparable with docs/performance.md" % (PINNED_PACKAGE,
                                                        PINNED_VERSION)
        return _cached_deb(out, current), current, note
    return None, None, "could not apt-get download %s (no network?)" % \
        PINNED_PACKAGE


def _deb_version(deb):
    ok, text = _run(["dpkg-deb", "-f", deb, "Version"])
    return text if ok else "?"


def _unpack(deb, into):
    shutil.rmtree(into, ignore_errors=True)
    ok, text = _run(["dpkg-deb", "-x", deb, into])
    return ok


def _build_bench(out, cc):
    binary = os.path.join(out, "bench")
    ok, text = _run([cc, "-O2", "-static", "-pthread", "-Wall", "-Wextra",
                     "-o", binary, os.path.join(HERE, "bench.c")])
    return binary if ok else None


def _make_initrd(out, busybox, bench):
    """Write out/initrd.gz: busybox, /init, /bench.  Returns its path."""
    root = os.path.join(out, "initramfs")
    shutil.rmtree(root, ignore_errors=True)
    for sub in ("bin", "proc", "sys", "dev"):
        os.makedirs(os.path.join(root, sub))
    shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
    shutil.copy(bench, os.path.join(root, "bench"))
    shutil.copy(os.path.join(HERE, "init"), os.path.join(root, "init"))
    os.chmod(os.path.join(root, "init"), 0o755)
    initrd = os.path.join(out, "initrd.gz")
    script = "find . | %s cpio -o -H newc 2>/dev/null | gzip -1 > %s" % (
        os.path.abspath(busybox), os.path.abspath(initrd))
    ok, _ = _run(["sh", "-c", script], cwd=root)
    return initrd if ok else None


def prepare(out, cc="gcc"):
    """Get everything for a Linux boot into `out`.

    Returns (Peer, None) or (None, reason).  Downloads at most once: the
    .debs stay in `out`.
    """
    os.makedirs(out, exist_ok=True)
    deb, package, note = _fetch_kernel(out)
    if deb is None:
        return None, note
    busybox_deb = _cached_deb(out, BUSYBOX)
    if not busybox_deb and _download(out, BUSYBOX):
        busybox_deb = _cached_deb(out, BUSYBOX)
    if not busybox_deb:
        return None, "could not apt-get download %s" % BUSYBOX
    kernel_dir = os.path.join(out, "kernel")
    busybox_dir = os.path.join(out, "busybox")
    if not (_unpack(deb, kernel_dir) and _unpack(busybox_deb, busybox_dir)):
        return None, "dpkg-deb -x failed in %s" % out
    vmlinuz = sorted(glob.glob(os.path.join(kernel_dir, "boot", "vmlinuz-*")))
    bench = _build_bench(out, cc)
    if not vmlinuz or not bench:
        return None, "no vmlinuz in %s, or bench.c did not build" % deb
    initrd = _make_initrd(out, os.path.join(busybox_dir, "bin", "busybox"),
                          bench)
    if not initrd:
        return None, "could not write the initramfs"
    return Peer(vmlinuz[-1], initrd, package, _deb_version(deb), note), None


def command(qemu, peer, accel_options, memory):
    """The QEMU command line for the Linux boot: the same machine, CPU
    count, memory and accelerator options as Damselfly's benchmark boot."""
    return [qemu, "-machine", "q35", "-m", memory, "-smp", "1",
            "-no-reboot", "-display", "none", "-monitor", "none",
            "-serial", "stdio", "-kernel", peer.vmlinuz, "-initrd",
            peer.initrd, "-append", APPEND] + list(accel_options)
