"""hostrun.py - run host test binaries and Python unittest files as KTAP runs.

A host test binary (built from tests/host/htest.c) prints KTAP on stdout and
exits 0 when everything passed.  A Python unittest file is run through
pyunit_ktap.py, which prints the same KTAP.  Both become an outcome.Run of
kind "host", so crashes (an ASan abort, a signal) are judged the same way:
the test that was running fails, with the end of stderr as the evidence.
"""

import os
import signal
import subprocess
import sys
import time

from . import ktap
from .outcome import Run

PYUNIT_DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "pyunit_ktap.py")


def run_binary(path, timeout, where=None):
    """Run one host test binary and return its (unjudged) Run."""
    program = os.path.abspath(path) if os.path.exists(path) else path
    return _run([program], where or os.path.basename(path), timeout)


def run_pyunit(path, timeout):
    """Run one Python unittest file through pyunit_ktap.py."""
    return _run([sys.executable, PYUNIT_DRIVER, path],
                "python:" + os.path.basename(path), timeout)


def _run(argv, where, timeout):
    started = time.monotonic()
    stdout, stderr, status, timed_out = _execute(argv, timeout)
    lines = stdout.splitlines()
    return Run(where=where, kind="host", doc=ktap.parse(lines),
               exit_status=status, timed_out=timed_out, timeout=timeout,
               seconds=time.monotonic() - started, stderr=stderr)


def _execute(argv, timeout):
    """Returns (stdout, stderr, exit status or None, timed out?)."""
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE,
                                   start_new_session=True)
    except OSError as error:
        return "", "cannot run %s: %s" % (argv[0], error), 127, False
    try:
        out, err = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        timed_out = True
    return (out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
            None if timed_out else process.returncode, timed_out)
