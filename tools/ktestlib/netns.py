"""netns.py - a private wire between a test boot and Linux.

A group in tests/ktest-groups that wants a real network puts `@tap@` in
its QEMU options, e.g.

    net 1,2 net,net_peer -netdev @tap@ -device virtio-net-pci,netdev=n0,...

For each boot, expand() then

  * creates a network namespace of its own (`ip netns add`), with a tap
    device dftap0 at 192.0.2.1/24 (RFC 5737 TEST-NET-1: nothing leaves
    the namespace, and parallel boots never see each other);
  * replaces `@tap@` with the tap backend, and the boot runs QEMU inside
    the namespace (`ip netns exec`), so QEMU opens that tap;
  * returns a Wire whose agent serves the guest's requests: a kernel test
    prints `# peer: <id> <scenario> <args>`, the agent runs the scenario
    (tests/net/peers.py) in the namespace and writes
    `peer <id> <status> <detail>` to the guest's serial input;
  * deletes the namespace (and with it the tap) when the boot is over.

`@tap:N@` asks for a multiqueue wire: the tap is made with multi_queue
and QEMU opens N queues on it (queues=N, vhost=off: the guest's
virtio-net then offers N queue pairs with mq=on).

A scenario may also type on the guest's serial port (a shell command
after its reply: it returns (status, detail, text)) and read what the
guest printed since (PeerAgent.record / recorded).

Without root (or without `ip`), the wire cannot be made: `@tap@` becomes
QEMU's user-mode network and the agent answers every request with status
77, which the kernel tests report as a skip naming the reason.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import threading

PLACEHOLDER = re.compile(r"@tap(?::(\d+))?@")
TAP = "dftap0"
HOST_CIDR = "192.0.2.1/24"
SKIP = 77
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCENARIOS = os.path.join(ROOT, "tests", "net", "peers.py")
REQUEST = re.compile(r"#\s*peer:\s*(\d+)\s+(\S+)\s*(.*)$")


class WireError(Exception):
    """The namespace was made but could not be set up."""


def _ip(*args):
    done = subprocess.run(["ip"] + list(args), capture_output=True,
                          text=True, timeout=30)
    if done.returncode != 0:
        raise WireError("ip %s: %s" % (" ".join(args),
                                       done.stderr.strip()))


class Wire:
    """A namespace with a tap, or (reason set) the absence of one."""

    def __init__(self, name, reason=None):
        self.name, self.reason, self.tap = name, reason, TAP
        self._scenarios = None
        self.background = []    # processes a scenario left running
        self.scratch = None     # a directory of a scenario's files
        self.peer_agent = None  # the agent serving this boot

    def wrap(self, argv):
        """argv run inside the namespace (unchanged without one)."""
        if self.reason:
            return list(argv)
        return ["ip", "netns", "exec", self.name] + list(argv)

    def delete(self):
        for process in self.background:
            process.kill()
            process.wait()
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
        if not self.reason:
            subprocess.run(["ip", "netns", "delete", self.name],
                           capture_output=True, timeout=30)

    def agent(self):
        self.peer_agent = PeerAgent(self)
        return self.peer_agent

    def run_scenario(self, name, args):
        """(status, detail) of one scenario; never raises."""
        if self.reason:
            return SKIP, "no tap wire: %s (user-mode network instead)" \
                % self.reason
        try:
            scenario = self._load().SCENARIOS.get(name)
            if scenario is None:
                return 126, "no scenario named %r" % name
            return scenario(self, args)
        except Exception as error:  # a broken scenario is a failure
            return 125, "%s: %s" % (type(error).__name__, error)

    def _load(self):
        if self._scenarios is None:
            spec = importlib.util.spec_from_file_location("peers",
                                                          SCENARIOS)
            self._scenarios = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(self._scenarios)
        return self._scenarios


def _create(name, queues=1):
    """Make the namespace and its tap; a Wire with a reason on failure."""
    if os.geteuid() != 0:
        return Wire(name, "not root, cannot create a network namespace")
    try:
        _ip("netns", "add", name)
    except (OSError, WireError, subprocess.TimeoutExpired) as error:
        return Wire(name, "cannot create a network namespace (%s)" % error)
    wire = Wire(name)
    try:
        # No IPv6 on the wire: Linux's own router and neighbour
        # solicitations would be frames the guest drops, and the fuzz
        # test counts every drop.
        subprocess.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                        "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1"],
                       capture_output=True, timeout=30)
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "tuntap", "add", "dev", TAP, "mode", "tap",
            *(["multi_queue"] if queues > 1 else []))
        _ip("-n", name, "addr", "add", HOST_CIDR, "dev", TAP)
        _ip("-n", name, "link", "set", TAP, "up")
    except (OSError, WireError, subprocess.TimeoutExpired):
        wire.delete()
        raise
    return wire


def expand(qemu_args, prefix):
    """(qemu_args with @tap@ replaced, Wire or None).  Raises WireError."""
    found = [PLACEHOLDER.search(arg) for arg in qemu_args]
    found = [match for match in found if match]
    if not found:
        return list(qemu_args), None
    queues = int(found[0].group(1) or 1)
    wire = _create("dfly-%s-%d" % (prefix, os.getpid()), queues)
    backend = ("user,id=n0,restrict=on" if wire.reason else
               "tap,id=n0,ifname=%s,script=no,downscript=no" % TAP +
               (",queues=%d,vhost=off" % queues if queues > 1 else ""))
    return [PLACEHOLDER.sub(backend, arg) for arg in qemu_args], wire


class PeerAgent:
    """Serves the guest's `# peer:` requests during one boot.

    qemu.boot() calls attach() with the QEMU process (its stdin is the
    guest's serial input), line() for every serial line, close() at the
    end.  Each request runs in its own thread, so the serial log keeps
    flowing while a scenario runs.
    """

    def __init__(self, wire):
        self.wire, self.stdin = wire, None
        self.lock = threading.Lock()
        self.threads = []
        self.recorded = None    # serial lines since record(), or None

    def record(self):
        """Keep every serial line from now on (until recorded())."""
        self.recorded = []

    def recorded_lines(self):
        """The lines kept since record(); stops keeping them."""
        lines, self.recorded = self.recorded or [], None
        return lines

    def attach(self, process):
        self.stdin = process.stdin

    def line(self, text):
        if self.recorded is not None:
            self.recorded.append(text.rstrip("\r\n"))
        match = REQUEST.search(text)
        if not match or self.stdin is None:
            return
        thread = threading.Thread(target=self._serve, daemon=True,
                                  args=(match.group(1), match.group(2),
                                        match.group(3).split()))
        self.threads.append(thread)
        thread.start()

    def _serve(self, request_id, name, args):
        result = self.wire.run_scenario(name, args)
        status, detail, typed = (tuple(result) + ("",))[:3]
        detail = " ".join(str(detail).split())[:90] or "-"
        reply = "peer %s %d %s\n%s" % (request_id, status, detail, typed)
        with self.lock:
            try:
                self.stdin.write(reply.encode())
                self.stdin.flush()
            except (OSError, ValueError):
                pass  # QEMU is gone; the boot's verdict says why

    def close(self):
        for thread in self.threads:
            thread.join(timeout=5)
