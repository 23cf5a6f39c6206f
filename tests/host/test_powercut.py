"""test_powercut.py - build/host/hmr-powercut against logs made on the host.

The hmrcut boot group checks the kernel with hmr-powercut
(tools/hmr_powercut.c); these tests check hmr-powercut itself, without
QEMU.  mkfs.hmr and hmrctl make a few real commits; the tests take the
blocks each commit changed and write them as a blklogwrites log in the
order a correct kernel would (the commit's blocks, FLUSH, its superblock,
FLUSH, then the ack marker), or in a wrong order, and require the checker
to pass the first and to name the fault in the others.  Run by
`make test` (suite test_powercut).
"""

import os
import shutil
import struct
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HOST = os.path.join(ROOT, "build", "host")
BLOCK = 4096
SECTOR = 512
LOG_MAGIC = 0x6a736677736872
FLUSH = 1
SUPERS = (1, 2)                 # HMR_BLK_SUPER_A, HMR_BLK_SUPER_B


def tool(name):
    return os.path.join(HOST, name)


def blocks_changed(before, after):
    """[(block number, new bytes)] where after differs from before."""
    return [(b, after[b * BLOCK:(b + 1) * BLOCK])
            for b in range(len(after) // BLOCK)
            if before[b * BLOCK:(b + 1) * BLOCK] !=
            after[b * BLOCK:(b + 1) * BLOCK]]


def marker(tid):
    """The suite's ack marker block (tests/fs/hmr_powercut_test.c)."""
    head = b"HMR-POWERCUT-ACK" + struct.pack("<QQ", tid,
                                             tid ^ 0xffffffffffffffff)
    return head + bytes(BLOCK - len(head))


def write_log(path, entries):
    """entries: ("w", block, data) or ("f",); a dm-log-writes log as
    QEMU's blklogwrites writes it, 512-byte sectors."""
    out = bytearray(SECTOR)
    for entry in entries:
        if entry[0] == "f":
            out += struct.pack("<QQQQ", 0, 0, FLUSH, 0).ljust(SECTOR, b"\0")
        else:
            block, data = entry[1], entry[2]
            out += struct.pack("<QQQQ", block * BLOCK // SECTOR,
                               len(data) // SECTOR, 0, 0).ljust(SECTOR,
                                                                b"\0")
            out += data
    out[0:28] = struct.pack("<QQQI", LOG_MAGIC, 1, len(entries), SECTOR)
    with open(path, "wb") as log:
        log.write(out)


class PowercutCheckerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="hmr-powercut-test-")
        src = os.path.join(cls.dir, "src")
        os.makedirs(src)
        with open(os.path.join(src, "a.txt"), "wb") as f:
            f.write(bytes(range(256)) * 40)
        cls.base = os.path.join(cls.dir, "base.img")
        cls._run(tool("mkfs.hmr"), cls.base, "2M", "--from", src)
        with open(cls.base, "ab") as image:
            image.write(bytes(BLOCK))     # the spare block for markers
        # Two commits on top of the base, each image kept.
        cls.images = [cls._read(cls.base)]
        work = os.path.join(cls.dir, "work.img")
        shutil.copyfile(cls.base, work)
        for label in ("one", "two"):
            cls._run(tool("hmrctl"), work, "snapshot", label)
            cls.images.append(cls._read(work))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @staticmethod
    def _run(*argv):
        subprocess.run(argv, check=True, capture_output=True)

    @staticmethod
    def _read(path):
        with open(path, "rb") as image:
            return image.read()

    def commits(self):
        """[(tid, other blocks, superblock)] for each commit made."""
        out = []
        for before, after in zip(self.images, self.images[1:]):
            changed = blocks_changed(before, after)
            supers = [c for c in changed if c[0] in SUPERS]
            self.assertEqual(len(supers), 1)
            tid = struct.unpack_from("<Q", supers[0][1], 0x30)[0]
            out.append((tid, [c for c in changed if c[0] not in SUPERS],
                        supers[0]))
        return out

    def replayed(self, entries):
        """The path of an image: the base with entries written on it."""
        image = bytearray(self.images[0])
        for entry in entries:
            if entry[0] == "w":
                image[entry[1] * BLOCK:(entry[1] + 1) * BLOCK] = entry[2]
        path = os.path.join(self.dir, "final.img")
        with open(path, "wb") as out:
            out.write(image)
        return path

    def check(self, entries, acks=None, final=None, states=300):
        """Run the checker on a log of entries; (exit status, output)."""
        log = os.path.join(self.dir, "w.log")
        write_log(log, entries)
        argv = [tool("hmr-powercut"), "-s", "7", "-n", str(states)]
        if acks is not None:
            path = os.path.join(self.dir, "acks")
            with open(path, "w") as out:
                out.write("".join("# ack tid=0x%x\n" % t for t in acks))
            argv += ["-a", path]
        if final:
            argv += ["-f", final]
        done = subprocess.run(argv + [self.base, log], capture_output=True,
                              text=True)
        return done.returncode, done.stdout + done.stderr

    def good_log(self):
        """Each commit as a correct kernel writes it, then its marker."""
        entries, tids = [], []
        spare = len(self.images[0]) // BLOCK - 1
        for tid, others, sup in self.commits():
            entries += [("w", b, d) for b, d in others] + [("f",)]
            entries += [("w",) + sup, ("f",), ("w", spare, marker(tid))]
            tids.append(tid)
        return entries, tids

    def test_a_correct_log_passes_every_state(self):
        entries, tids = self.good_log()
        status, out = self.check(entries, acks=tids,
                                 final=self.replayed(entries))
        self.assertEqual(status, 0, out)
        self.assertIn("300 states", out)
        self.assertIn("%d ack markers: 0 problems" % len(tids), out)

    def test_a_marker_before_the_flush_after_its_superblock_fails(self):
        entries, tids = self.good_log()
        # The last commit: superblock, marker, and only then the FLUSH.
        entries[-2], entries[-1] = entries[-1], entries[-2]
        status, out = self.check(entries, acks=tids)
        self.assertEqual(status, 1, out)
        self.assertIn("commit 0x%x was acknowledged at entry %d before it "
                      "was durable" % (tids[-1], len(entries) - 2), out)

    def test_a_superblock_written_with_its_blocks_unflushed_fails(self):
        entries = []
        for tid, others, sup in self.commits():
            # The commit's blocks, then its superblock with no FLUSH
            # between: every prefix of this log is fine, but a power cut
            # that loses one of the blocks and keeps the superblock
            # leaves a broken tree -- only the lost-writes states see it.
            entries += [("w", b, d) for b, d in others] + [("w",) + sup]
            entries += [("f",)]
        status, out = self.check(entries)
        self.assertEqual(status, 1, out)
        self.assertIn("(lost writes: cut after entry", out)
        self.assertNotIn("(prefix: cut after entry", out)

    def test_an_ack_line_without_its_marker_fails(self):
        entries, tids = self.good_log()
        status, out = self.check(entries, acks=tids + [tids[-1] + 5])
        self.assertEqual(status, 1, out)
        self.assertIn("commit 0x%x, but its ack marker is not in the log"
                      % (tids[-1] + 5), out)

    def test_a_log_that_lost_a_write_differs_from_the_final_image(self):
        entries, tids = self.good_log()
        final = self.replayed(entries)
        del entries[-1]     # the last marker: fsck cannot see it is gone
        status, out = self.check(entries, final=final)
        self.assertEqual(status, 1, out)
        self.assertIn("differs from %s at block %d" % (
            final, len(self.images[0]) // BLOCK - 1), out)

    def test_a_state_is_written_out_for_fsck_from_its_seed(self):
        entries, tids = self.good_log()
        write_log(os.path.join(self.dir, "w.log"), entries)
        out = os.path.join(self.dir, "state.img")
        done = subprocess.run([tool("hmr-powercut"), "-s", "7", "-n", "300",
                               "-k", "0", "-o", out, self.base,
                               os.path.join(self.dir, "w.log")],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        done = subprocess.run([tool("fsck.hmr"), out], capture_output=True,
                              text=True)
        self.assertEqual(done.returncode, 0, done.stdout)


if __name__ == "__main__":
    unittest.main()
