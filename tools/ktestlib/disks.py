"""disks.py - disk images a test boot asks for in tests/ktest-groups.

A group's QEMU options may name an image to be made fresh for each boot:

    @blank:<size>@      a zero-filled (sparse) raw image, e.g. @blank:64M@
    @hmr:<size>@        an empty HMR filesystem (build/host/mkfs.hmr)

expand() replaces each placeholder with the path of a new file in the
boot's work directory, so boots running in parallel never share an image,
and every boot starts from the same state.
"""

import os
import re
import subprocess

PLACEHOLDER = re.compile(r"@(blank|hmr):([0-9]+)([KMG])@")
MKFS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "build", "host", "mkfs.hmr")
UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class DiskError(Exception):
    """An image could not be made; the message says which and why."""


def expand(qemu_args, workdir, prefix):
    """Return qemu_args with each placeholder replaced by a fresh image.

    Images are named <prefix>-disk<N>.img in workdir.  Raises DiskError.
    """
    count = [0]

    def make(match):
        path = os.path.join(workdir, "%s-disk%d.img" % (prefix, count[0]))
        count[0] += 1
        size = int(match.group(2)) * UNITS[match.group(3)]
        try:
            with open(path, "wb") as image:
                image.truncate(size)
        except OSError as error:
            raise DiskError("cannot make %s: %s" % (path, error))
        if match.group(1) == "hmr":
            _mkfs(path, size)
        return path

    return [PLACEHOLDER.sub(make, arg) for arg in qemu_args]


def _mkfs(path, size):
    try:
        done = subprocess.run([MKFS, path, str(size)], capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DiskError("%s: %s (run make host-tools)" % (MKFS, error))
    if done.returncode != 0:
        raise DiskError("%s %s failed: %s" % (MKFS, path,
                                              done.stderr.strip()))
