"""peers.py - the Linux side of the network tests: named scenarios.

A kernel test asks for a scenario by printing `# peer: <id> <name> <args>`
(tests/net/net_testlib.c); tools/ktestlib/netns.py runs it here, inside the
boot's network namespace, and writes `peer <id> <status> <detail>` back to
the guest's serial port.  Linux is 192.0.2.1 on tap dftap0; the guest is
192.0.2.2 with MAC 52:54:00:12:34:56.

Each scenario is a function (wire, args) -> (status, detail): status 0 is
success as the scenario defines it, detail one short line the kernel test
may check (e.g. "5 received").  Everything is bounded by counts and
timeouts, so a broken guest makes a scenario fail, never hang.
"""

import re
import subprocess

GUEST = "192.0.2.2"
HOST = "192.0.2.1"


def _run(wire, argv, timeout):
    """Run argv in the namespace; (exit status, combined output)."""
    try:
        done = subprocess.run(wire.wrap(argv), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "timed out after %ds" % timeout
    except OSError as error:
        return 127, str(error)
    return done.returncode, done.stdout + done.stderr


def _ping_summary(out):
    match = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    return "%s received of %s" % (match.group(2), match.group(1)) \
        if match else out.strip().splitlines()[-1:] or ["no output"]


def hello(wire, args):
    """Is there a wire?  Answers at once."""
    return 0, "tap %s" % wire.tap


def ping(wire, args):
    """ping COUNT SIZE: one echo every 0.2 s, 2 s to answer each."""
    count, size = int(args[0]), int(args[1])
    status, out = _run(wire, ["ping", "-n", "-c", str(count), "-s",
                              str(size), "-i", "0.2", "-W", "2", GUEST],
                       timeout=30 + 3 * count)
    return status, _ping_summary(out)


def flood(wire, args):
    """flood COUNT: ping -f, the next request as soon as a reply comes."""
    count = int(args[0])
    status, out = _run(wire, ["ping", "-n", "-f", "-c", str(count), "-W",
                              "2", GUEST], timeout=120)
    return status, _ping_summary(out)


def arping(wire, args):
    """arping COUNT: ARP requests on the tap; detail has the MAC seen."""
    count = int(args[0])
    status, out = _run(wire, ["arping", "-c", str(count), "-w", "10", "-I",
                              wire.tap, GUEST], timeout=30)
    macs = sorted(set(re.findall(r"([0-9a-f]{2}(?::[0-9a-f]{2}){5})",
                                 out.lower())))
    received = re.search(r"(\d+) packets received", out)
    return status, "%s received from %s" % (
        received.group(1) if received else "?", ",".join(macs) or "none")


SCENARIOS = {
    "hello": hello,
    "ping": ping,
    "flood": flood,
    "arping": arping,
}
