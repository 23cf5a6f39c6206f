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

import hashlib
import os
import re
import subprocess
import tempfile
import time

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


def pattern(size):
    """The bytes the kernel's tests write: block k of 4096 bytes holds
    (j * 131 + k) & 0xff at offset j (tests/net/net_peer_test.c)."""
    base = bytes((j * 131) & 0xff for j in range(4096))
    blocks = []
    for k in range((size + 4095) // 4096):
        table = bytes((x + k) & 0xff for x in range(256))
        blocks.append(base.translate(table))
    return b"".join(blocks)[:size]


def _run_bytes(wire, argv, data, timeout):
    """Run argv in the namespace with data on stdin; (status, stdout)."""
    try:
        done = subprocess.run(wire.wrap(argv), input=data,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, b""
    return done.returncode, done.stdout


def udp_echo(wire, args):
    """udp_echo SIZE: one datagram to port 7 comes back unchanged."""
    data = pattern(int(args[0]))
    status, out = _run_bytes(wire, ["socat", "-t", "3", "-",
                                    "UDP:%s:7" % GUEST], data, 20)
    return (0 if out == data else 1), "%d of %d bytes echoed, %s" % (
        len(out), len(data), "same" if out == data else "different")


def udp_echo_closed(wire, args):
    """udp_echo_closed PORT: a datagram to a closed port; socat sees the
    ICMP port unreachable as "Connection refused"."""
    try:
        done = subprocess.run(wire.wrap(["socat", "-t", "3", "-",
                                         "UDP:%s:%s" % (GUEST, args[0])]),
                              input=b"anyone there?\n", capture_output=True,
                              timeout=20)
    except subprocess.TimeoutExpired:
        return 124, "socat timed out"
    status = done.returncode
    refused = b"refused" in (done.stdout + done.stderr).lower()
    return (0 if refused else 1), "socat exit %d%s" % (
        status, ", refused" if refused else "")


def tcp_echo(wire, args):
    """tcp_echo SIZE: SIZE bytes through the echo service come back."""
    data = pattern(int(args[0]))
    status, out = _run_bytes(wire, ["socat", "-t", "10", "-",
                                    "TCP:%s:7" % GUEST], data, 120)
    same = hashlib.sha256(out).digest() == hashlib.sha256(data).digest()
    return (0 if same and status == 0 else 1), "%d of %d bytes echoed%s" % (
        len(out), len(data), "" if same else ", different")


def discard(wire, args):
    """discard SIZE: nc sends SIZE bytes to port 9 and sees the close."""
    data = pattern(int(args[0]))
    status, out = _run_bytes(wire, ["nc", "-N", "-w", "20", GUEST, "9"],
                             data, 120)
    return status, "nc exit %d after %d bytes" % (status, len(data))


def closed_port(wire, args):
    """closed_port PORT: a connection is refused at once (RST)."""
    started = time.monotonic()
    status, out = _run(wire, ["nc", "-z", "-w", "5", GUEST, args[0]], 20)
    took = time.monotonic() - started
    refused = status != 0 and took < 4
    return (0 if refused else 1), "nc exit %d in %.1f s%s" % (
        status, took, " (refused)" if refused else "")


def http_get(wire, args):
    """http_get SIZE PATH: curl downloads PATH; its SHA-256 must be that
    of the pattern of SIZE bytes."""
    size, path = int(args[0]), args[1]
    status, out = _run_bytes(wire, ["curl", "-s", "-f", "--max-time",
                                    "600", "http://%s%s" % (GUEST, path)],
                             b"", 660)
    want = hashlib.sha256(pattern(size)).hexdigest()
    got = hashlib.sha256(out).hexdigest()
    return (0 if status == 0 and got == want else 1), \
        "curl exit %d, %d bytes, sha256 %s" % (
            status, len(out), "matches" if got == want else "differs")


def http_keepalive(wire, args):
    """http_keepalive N PATH: curl fetches PATH N times over one
    connection (the verbose log says it reused it)."""
    count, path = int(args[0]), args[1]
    urls = ["http://%s%s" % (GUEST, path)] * count
    status, out = _run(wire, ["curl", "-s", "-v", "-o", "/dev/null"] +
                       ["-o", "/dev/null"] * (count - 1) + urls, 120)
    reused = out.count("Re-using existing connection")
    return (0 if status == 0 and reused == count - 1 else 1), \
        "curl exit %d, %d reuses" % (status, reused)


PARALLEL = r"""
import socket, sys, threading
n, size, host = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ok = [0]
errors = []
lock = threading.Lock()
def one(i):
    data = bytes((i + j) & 0xff for j in range(size))
    try:
        s = socket.create_connection((host, 7), timeout=60)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        s.close()
        if got == data:
            with lock:
                ok[0] += 1
    except OSError as error:
        with lock:
            errors.append(str(error))
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("%d of %d connections echoed%s" % (ok[0], n,
      ("; first error: " + errors[0]) if errors else ""))
sys.exit(0 if ok[0] == n else 1)
"""


def _nft(wire, *rule):
    status, out = _run(wire, ["nft"] + list(rule), 10)
    if status != 0:
        raise RuntimeError("nft %s: %s" % (" ".join(rule), out.strip()))


def lossy_echo(wire, args):
    """lossy_echo SIZE MOD: tcp_echo with every MOD-th segment dropped
    both ways (nftables numgen: this kernel has no netem).  The bytes
    must still come back intact; detail says how many were dropped."""
    mod = int(args[1])
    _nft(wire, "add", "table", "inet", "lossy")
    try:
        _nft(wire, "add", "chain", "inet", "lossy", "in",
             "{ type filter hook input priority 0; }")
        _nft(wire, "add", "chain", "inet", "lossy", "out",
             "{ type filter hook output priority 0; }")
        _nft(wire, "add", "rule", "inet", "lossy", "in", "tcp", "sport", "7",
             "numgen", "inc", "mod", str(mod), "0", "counter", "drop")
        _nft(wire, "add", "rule", "inet", "lossy", "out", "tcp", "dport",
             "7", "numgen", "inc", "mod", str(mod), "0", "counter", "drop")
        status, detail = tcp_echo(wire, args[:1])
        _, rules = _run(wire, ["nft", "list", "table", "inet", "lossy"], 10)
    finally:
        _run(wire, ["nft", "delete", "table", "inet", "lossy"], 10)
    drops = [int(n) for n in re.findall(r"packets (\d+)", rules)]
    return status, "%s; dropped %s" % (detail, "+".join(map(str, drops)))


def parallel(wire, args):
    """parallel N SIZE: N connections at once to the echo service."""
    status, out = _run(wire, ["/usr/bin/python3", "-c", PARALLEL, args[0],
                              args[1], GUEST], 300)
    return status, out.strip().splitlines()[-1] if out.strip() else "none"


def serve_echo(wire, args):
    """serve_echo PORT: an echo server on Linux for the kernel to reach
    (runs until the boot ends)."""
    process = subprocess.Popen(wire.wrap(["socat", "TCP-LISTEN:%s,"
                                          "reuseaddr,fork" % args[0],
                                          "EXEC:cat"]),
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    wire.background.append(process)
    for _ in range(50):
        status, out = _run(wire, ["ss", "-ltn"], 10)
        if ":%s " % args[0] in out:
            return 0, "listening on %s:%s" % (HOST, args[0])
        time.sleep(0.1)
    return 1, "socat did not start listening"


def fuzz(wire, args):
    """fuzz COUNT SEED: COUNT malformed frames built with scapy
    (tests/net/fuzz_frames.py), the guest's echo answering between
    batches; detail: how many were sent and synced."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "fuzz_frames.py")
    status, out = _run(wire, ["/usr/bin/python3", script, wire.tap, GUEST,
                              "52:54:00:12:34:56", args[0], args[1]], 600)
    lines = out.strip().splitlines()
    return status, lines[-1] if lines else "no output"


SCENARIOS = {
    "hello": hello,
    "ping": ping,
    "flood": flood,
    "arping": arping,
    "udp_echo": udp_echo,
    "udp_echo_closed": udp_echo_closed,
    "tcp_echo": tcp_echo,
    "discard": discard,
    "closed_port": closed_port,
    "http_get": http_get,
    "http_keepalive": http_keepalive,
    "parallel": parallel,
    "lossy_echo": lossy_echo,
    "serve_echo": serve_echo,
    "fuzz": fuzz,
}
