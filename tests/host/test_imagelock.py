"""test_imagelock.py - an HMR image is used by one writer or by readers.

The host tools lock an image the way QEMU does (tools/hmr_bdev.c): each
holds read locks on single bytes, 100 + p for a permission it uses and
200 + p for one it lets nobody else use (p = 0 read, 1 write).  These tests
hold those bytes from here, as another tool or QEMU would, and check that
every tool refuses an image in use before it changes a byte, names why,
and works again once the image is free; then the same against a real
QEMU that has the image as a writable disk.  Run by `make test`.
"""

import fcntl
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HOST = os.path.join(ROOT, "build", "host")


def tool(name, *args):
    """Run a host tool; (exit status, stderr)."""
    p = subprocess.run([os.path.join(HOST, name)] + list(args),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    return p.returncode, p.stderr


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Holder:
    """An open file description holding read locks on some bytes."""

    def __init__(self, path, nbytes):
        self.fd = os.open(path, os.O_RDWR)
        for byte in nbytes:
            lk = struct.pack("hhqqi", fcntl.F_RDLCK, os.SEEK_SET, byte, 1, 0)
            fcntl.fcntl(self.fd, fcntl.F_OFD_SETLK, lk)

    def close(self):
        os.close(self.fd)


def byte_locked(path, byte):
    """Does some open file hold a lock on this byte?  (Takes none.)"""
    fd = os.open(path, os.O_RDONLY)
    try:
        lk = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, byte, 1, 0)
        got = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, lk)
        return struct.unpack("hhqqi", got)[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


WRITER = (100, 101, 201)        # what a writing tool (or QEMU) holds
READER = (100, 201)             # what a reading tool holds


class ImageLockTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="imagelock")
        self.img = os.path.join(self.dir, "a.img")
        status, err = tool("mkfs.hmr", self.img, "16M")
        self.assertEqual(status, 0, err)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_a_writer_keeps_every_tool_out_and_nothing_changes(self):
        before = digest(self.img)
        held = Holder(self.img, WRITER)
        try:
            for args in (["mkfs.hmr", self.img, "16M"],
                         ["fsck.hmr", self.img],
                         ["hmrctl", self.img, "snapshot", "x"],
                         ["hmrctl", self.img, "cat", "/nothing"]):
                status, err = tool(*args)
                self.assertNotEqual(status, 0, args)
                self.assertIn("in use", err, args)
        finally:
            held.close()
        self.assertEqual(digest(self.img), before)
        self.assertEqual(tool("fsck.hmr", self.img)[0], 0)

    def test_readers_share_and_keep_writers_out(self):
        held = Holder(self.img, READER)
        try:
            status, err = tool("fsck.hmr", self.img)
            self.assertEqual(status, 0, err)
            status, err = tool("hmrctl", self.img, "snapshot", "x")
            self.assertNotEqual(status, 0)
            self.assertIn("in use", err)
        finally:
            held.close()
        status, err = tool("hmrctl", self.img, "snapshot", "x")
        self.assertEqual(status, 0, err)

    def test_wait_returns_when_the_image_is_free(self):
        held = Holder(self.img, WRITER)
        try:
            self.assertEqual(tool("hmrctl", self.img, "wait", "1")[0], 1)
        finally:
            held.close()
        self.assertEqual(tool("hmrctl", self.img, "wait", "1")[0], 0)

    def test_a_running_qemu_keeps_the_tools_out(self):
        qemu = shutil.which("qemu-system-x86_64")
        if qemu is None:
            self.skipTest("qemu-system-x86_64 is not installed here")
        vm = subprocess.Popen(
            [qemu, "-S", "-display", "none", "-nodefaults", "-machine",
             "q35", "-drive", "file=%s,if=none,id=d0,format=raw" % self.img,
             "-device", "virtio-blk-pci,drive=d0", "-monitor", "stdio"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while not byte_locked(self.img, 101):
                self.assertIsNone(vm.poll(), "QEMU exited at start")
                self.assertLess(time.time(), deadline, "QEMU never started")
                time.sleep(0.2)
            status, err = tool("fsck.hmr", self.img)
            self.assertNotEqual(status, 0)
            self.assertIn("in use", err)
            status, err = tool("mkfs.hmr", self.img, "16M")
            self.assertNotEqual(status, 0)
            self.assertIn("in use", err)
        finally:
            vm.kill()
            vm.wait()
            vm.stdin.close()
        self.assertEqual(tool("fsck.hmr", self.img)[0], 0)


if __name__ == "__main__":
    unittest.main()
