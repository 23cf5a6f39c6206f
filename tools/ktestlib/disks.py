"""disks.py - disk images a test boot asks for in tests/ktest-groups.

A group's QEMU options may name an image to be made fresh for each boot:

    @blank:<size>@      a zero-filled (sparse) raw image, e.g. @blank:64M@
    @hmr:<size>@        an empty HMR filesystem (build/host/mkfs.hmr)
    @hmr:<size>:bench@  an HMR filesystem holding /bench/4k (4096 bytes),
                        the file make bench's filesystem rows read, and
                        /bin: the user programs, when built (user rows)
    @hmr:<size>:net@    an HMR filesystem holding /net/big.bin, 50 MiB of
                        the network tests' pattern (tests/net/peers.py
                        pattern()): the file curl downloads from the
                        kernel's HTTP server, made on the host so the
                        boot does not spend its time writing it
    @hmr:<size>:corrupt@
                        an HMR filesystem whose two superblocks (blocks 1
                        and 2) are then overwritten with a pattern: the
                        kernel must refuse it with a message, not mount it
    @hmr:<size>:hostcheck@
                        the same, checked on the host after the boot:
                        tools/hmr-hostcheck runs fsck.hmr on it and reads
                        back what the kernel's hmr_host suite wrote (the
                        suite prints "# hostcheck: cpus=N files=M", and
                        the kernel must report a clean shutdown)
    @hmrlog:<size>@     an empty HMR filesystem of <size> and one spare
                        block past its end (for the ack markers of
                        tests/fs/hmr_powercut_test.c), to record with
                        QEMU's blklogwrites driver; and a copy of it as
                        it was before the boot (<image>.base)
    @hmrlog:log@        the write log of the @hmrlog:<size>@ image before
                        it: an empty file that blklogwrites fills
                        (<image>.log).  After the boot
                        build/host/hmr-powercut replays the log onto the
                        copy to every flush and to seeded cuts between
                        flushes, and checks each state with HMR's fsck
                        against the commits the kernel acknowledged
                        ("# ack tid=0x..." lines and their markers)

expand() replaces each placeholder with the path of a new file in the
boot's work directory, so boots running in parallel never share an image,
and every boot starts from the same state.  It also returns the images to
check after the boot; post_check() runs those checks.
"""

import os
import random
import re
import shutil
import subprocess
import tempfile

PLACEHOLDER = re.compile(
    r"@(blank|hmr|hmrlog):([0-9]+)([KMG])(:hostcheck|:bench|:corrupt|:net)?@"
    r"|@hmrlog:log@")
HOSTCHECK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "hmr-hostcheck")
HOSTCHECK_LINE = re.compile(r"#\s*hostcheck:\s*cpus=(\d+)\s+files=(\d+)")
SHUTDOWN_LINE = "# vfs: filesystems committed at shutdown"
HOST_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "build", "host")
MKFS = os.path.join(HOST_BIN, "mkfs.hmr")
POWERCUT = os.path.join(HOST_BIN, "hmr-powercut")
ACK_LINE = re.compile(r"#\s*ack tid=0x[0-9a-fA-F]+")
# At least this many power-cut states per recorded boot (the issue's
# floor); HMR_POWERCUT_SEED=<n> repeats a run's choice of states.
POWERCUT_STATES = 1000
UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
SPARE_BLOCK = 4096


class DiskError(Exception):
    """An image could not be made; the message says which and why."""


def expand(qemu_args, workdir, prefix):
    """Return (qemu_args with each placeholder replaced by a fresh image,
    the images to check after the boot, as (kind, path) pairs).

    Images are named <prefix>-disk<N>.img in workdir.  Raises DiskError.
    """
    count = [0]
    to_check = []
    recorded = []

    def make(match):
        if match.group(1) is None:
            return _log_for(recorded)
        path = os.path.join(workdir, "%s-disk%d.img" % (prefix, count[0]))
        count[0] += 1
        size = int(match.group(2)) * UNITS[match.group(3)]
        try:
            with open(path, "wb") as image:
                image.truncate(size)
        except OSError as error:
            raise DiskError("cannot make %s: %s" % (path, error))
        if match.group(1) != "blank":
            _mkfs(path, size, _tree_for(match.group(4), workdir))
        if match.group(4) == ":hostcheck":
            to_check.append(("hostcheck", path))
        if match.group(1) == "hmrlog":
            _keep_base(path)
            recorded.append(path)
            to_check.append(("powercut", path))
        if match.group(4) == ":corrupt":
            _scribble_superblocks(path)
        return path

    return [PLACEHOLDER.sub(make, arg) for arg in qemu_args], to_check


def post_check(images, lines):
    """Check each image after the boot whose serial lines are given;
    returns a list of problems (empty: all good)."""
    problems = []
    for kind, image in images:
        if kind == "powercut":
            problems.extend(_powercut_check(image, lines))
            continue
        found = [HOSTCHECK_LINE.search(line) for line in lines]
        found = [m for m in found if m]
        if not found:
            problems.append("%s: the kernel never said what it wrote "
                            "(no '# hostcheck:' line); nothing to check"
                            % image)
            continue
        if not any(line.strip().startswith(SHUTDOWN_LINE) and
                   line.strip() == SHUTDOWN_LINE for line in lines):
            problems.append("%s: the kernel did not say it committed and "
                            "unmounted cleanly at shutdown (no %r line)"
                            % (image, SHUTDOWN_LINE))
        cpus, files = found[-1].group(1), found[-1].group(2)
        done = subprocess.run([HOSTCHECK, image, cpus, files],
                              capture_output=True, text=True)
        if done.returncode != 0:
            problems.append("host check of %s: %s" % (
                image, (done.stdout + done.stderr).strip()[-800:]))
    return problems


def _keep_base(path):
    """Add the spare block past the filesystem, then copy the image to
    <path>.base: the disk before the boot."""
    try:
        with open(path, "r+b") as image:
            image.truncate(os.path.getsize(path) + SPARE_BLOCK)
        shutil.copyfile(path, path + ".base")
    except OSError as error:
        raise DiskError("cannot copy %s: %s" % (path, error))


def _log_for(recorded):
    """The (new, empty) log file of the last @hmrlog:<size>@ image."""
    if not recorded:
        raise DiskError("@hmrlog:log@ must come after the @hmrlog:<size>@ "
                        "image whose writes it records")
    try:
        open(recorded[-1] + ".log", "wb").close()
    except OSError as error:
        raise DiskError("cannot make %s.log: %s" % (recorded[-1], error))
    return recorded[-1] + ".log"


def _powercut_check(image, lines):
    """build/host/hmr-powercut on a recorded image: its log replayed
    onto its base, state by state, against the kernel's acks.  The
    checker's report is kept in <image>.powercut."""
    acks = [line.strip() for line in lines if ACK_LINE.search(line)]
    if not acks:
        return ["%s: the kernel acknowledged no commit (no '# ack tid=' "
                "line); the power cuts would check nothing" % image]
    with open(image + ".acks", "w") as out:
        out.write("\n".join(acks) + "\n")
    seed = os.environ.get("HMR_POWERCUT_SEED") or \
        "0x%x" % random.SystemRandom().getrandbits(32)
    argv = [POWERCUT, "-s", seed, "-n", str(POWERCUT_STATES),
            "-a", image + ".acks", "-f", image, image + ".base",
            image + ".log"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        return ["%s: %s (run make host-tools)" % (POWERCUT, error)]
    with open(image + ".powercut", "w") as out:
        out.write(" ".join(argv) + "\n" + done.stdout + done.stderr)
    if done.returncode == 0:
        return []
    return ["power cuts of %s (seed %s; rerun: %s): %s" % (
        image, seed, " ".join(argv),
        (done.stdout + done.stderr).strip()[-1500:])]


def _scribble_superblocks(path):
    """Overwrite both superblock slots (blocks 1 and 2) with a pattern."""
    with open(path, "r+b") as image:
        image.seek(4096)
        image.write(bytes((i * 37 + 11) & 0xff for i in range(8192)))


def _tree_for(variant, workdir):
    """The directory mkfs.hmr copies in for a variant, or None."""
    if variant == ":bench":
        return _bench_tree(workdir)
    if variant == ":net":
        return _net_tree(workdir)
    return None


NET_FILE_SIZE = 50 << 20


def _net_tree(workdir):
    """A directory holding net/big.bin: NET_FILE_SIZE bytes in which
    block k of 4096 holds (j * 131 + k) & 0xff at offset j, the pattern
    tests/net/peers.py checks curl's download against.

    Boots run in parallel (threads of one runner, or several runners) and
    share workdir, so the tree is built under a name of its own and renamed into place whole: mkfs.hmr never
    copies a file another boot is still writing."""
    root = os.path.join(workdir, "netroot")
    big = os.path.join(root, "net", "big.bin")
    if os.path.isfile(big) and os.path.getsize(big) == NET_FILE_SIZE:
        return root
    building = tempfile.mkdtemp(dir=workdir, prefix="netroot.")
    os.makedirs(os.path.join(building, "net"))
    base = bytes((j * 131) & 0xff for j in range(4096))
    tables = [bytes((x + k) & 0xff for x in range(256)) for k in range(256)]
    with open(os.path.join(building, "net", "big.bin"), "wb") as data:
        for k in range(NET_FILE_SIZE // 4096):
            data.write(base.translate(tables[k & 0xff]))
    if os.path.isdir(root) and not (os.path.isfile(big) and
                                    os.path.getsize(big) == NET_FILE_SIZE):
        shutil.rmtree(root)     # a partial tree from an older runner
    try:
        os.rename(building, root)
    except OSError:             # another boot put its whole tree there
        shutil.rmtree(building)
    return root


def _bench_tree(workdir):
    """A directory holding bench/4k, for mkfs.hmr --from."""
    root = os.path.join(workdir, "benchroot")
    os.makedirs(os.path.join(root, "bench"), exist_ok=True)
    with open(os.path.join(root, "bench", "4k"), "wb") as data:
        data.write(bytes((i * 7) & 0xff for i in range(4096)))
    # Our user programs, for the user-mode rows (tests/kern/bench_user.c):
    # the small ones, not busybox and its links.
    progs = os.path.join("build", "userroot", "bin")
    if os.path.isdir(progs):
        os.makedirs(os.path.join(root, "bin"), exist_ok=True)
        for name in os.listdir(progs):
            path = os.path.join(progs, name)
            if (not os.path.islink(path) and os.path.isfile(path)
                    and os.path.getsize(path) < (1 << 20)):
                shutil.copy(path, os.path.join(root, "bin", name))
    return root


def _mkfs(path, size, from_dir=None):
    argv = [MKFS, path, str(size)] + (["--from", from_dir] if from_dir
                                      else [])
    try:
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DiskError("%s: %s (run make host-tools)" % (MKFS, error))
    if done.returncode != 0:
        raise DiskError("%s %s failed: %s" % (MKFS, path,
                                              done.stderr.strip()))
