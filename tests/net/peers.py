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


def _timed_bytes(wire, argv, data, timeout):
    """_run_bytes, and the seconds it took."""
    started = time.monotonic()
    status, out = _run_bytes(wire, argv, data, timeout)
    return status, out, time.monotonic() - started


def _rate(size, seconds):
    return "%.2f MB/s" % (size / max(seconds, 1e-6) / 1e6)


def bulk_to_guest(wire, args):
    """bulk_to_guest SIZE: socat sends SIZE bytes of the pattern to the
    kernel's bulk service (port 5001, "recv SIZE"), which checks every
    byte and answers "SIZE bytes, 0 wrong" (net/services.c)."""
    size = int(args[0])
    data = b"recv %d\n" % size + pattern(size)
    status, out, took = _timed_bytes(
        wire, ["socat", "-t", "600", "-", "TCP:%s:5001" % GUEST], data, 900)
    answer = out.decode("ascii", "replace").strip()
    good = status == 0 and answer == "%d bytes, 0 wrong" % size
    return (0 if good else 1), "%s, %s" % (answer or "no answer",
                                           _rate(size, took))


def bulk_from_guest(wire, args):
    """bulk_from_guest SIZE: the kernel's bulk service sends SIZE bytes
    of the pattern ("send SIZE") and closes; socat's copy must have the
    pattern's SHA-256."""
    size = int(args[0])
    status, out, took = _timed_bytes(
        wire, ["socat", "-t", "600", "-", "TCP:%s:5001" % GUEST],
        b"send %d\n" % size, 900)
    same = hashlib.sha256(out).digest() == hashlib.sha256(
        pattern(size)).digest()
    return (0 if status == 0 and same else 1), "%d of %d bytes, %s, %s" % (
        len(out), size, "sha256 matches" if same else "different",
        _rate(len(out), took))


def _scratch(wire, name):
    """A path for a scenario's file, removed with the wire."""
    if not getattr(wire, "scratch", None):
        wire.scratch = tempfile.mkdtemp(prefix="dfly-net-")
    return os.path.join(wire.scratch, name)


def _listen(wire, argv, port):
    """Start argv (a server on port) in the background; (status, detail)
    once it listens."""
    process = subprocess.Popen(wire.wrap(argv), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    wire.background.append(process)
    for _ in range(100):
        status, out = _run(wire, ["ss", "-ltn"], 10)
        if ":%s " % port in out:
            return 0, "listening on %s:%s" % (HOST, port)
        time.sleep(0.1)
    return 1, "%s did not start listening" % argv[0]


def serve_sink(wire, args):
    """serve_sink PORT: socat takes one connection on PORT and keeps what
    arrives in a file (check_sink reads it)."""
    port = args[0]
    return _listen(wire, ["socat", "-u", "TCP-LISTEN:%s,reuseaddr" % port,
                          "CREATE:%s" % _scratch(wire, "sink-" + port)],
                   port)


def check_sink(wire, args):
    """check_sink PORT SIZE: once serve_sink's socat has seen the close,
    its file must be the pattern of SIZE bytes."""
    port, size = args[0], int(args[1])
    path = _scratch(wire, "sink-" + port)
    for process in wire.background:
        if "TCP-LISTEN:%s," % port in " ".join(process.args):
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                return 124, "socat on %s still running" % port
    with open(path, "rb") as kept:
        data = kept.read()
    same = hashlib.sha256(data).digest() == hashlib.sha256(
        pattern(size)).digest()
    return (0 if same else 1), "%d of %d bytes, %s" % (
        len(data), size, "sha256 matches" if same else "different")


def serve_source(wire, args):
    """serve_source PORT SIZE: socat sends the pattern of SIZE bytes to
    the first connection on PORT, then closes."""
    port, size = args[0], int(args[1])
    path = _scratch(wire, "source-" + port)
    with open(path, "wb") as out:
        out.write(pattern(size))
    return _listen(wire, ["socat", "-u", "OPEN:%s" % path,
                          "TCP-LISTEN:%s,reuseaddr" % port], port)


def _pcap_tcp(path):
    """(time, src port, seq, ack, flags, payload length) of each TCP/IPv4
    frame in a pcap file (Ethernet link type)."""
    import struct
    with open(path, "rb") as capture:
        raw = capture.read()
    frames, off = [], 24
    while off + 16 <= len(raw):
        sec, usec, incl, _ = struct.unpack_from("<IIII", raw, off)
        frame = raw[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 54 or frame[12:14] != b"\x08\x00" or \
                frame[23] != 6:
            continue
        ihl = (frame[14] & 15) * 4
        total = struct.unpack_from(">H", frame, 16)[0]
        tcp = 14 + ihl
        sport, _, seq, ack, offflags = struct.unpack_from(">HHIIH", frame,
                                                          tcp)
        length = total - ihl - (offflags >> 12) * 4
        frames.append((sec + usec / 1e6, sport, seq, ack, offflags & 0x3f,
                       length))
    return frames


def delack_judge(frames, port=5001):
    """What a capture of a transfer to the guest's port says about its
    delayed ACKs: (the data in full segments, the ACKs that moved the
    acknowledgment forward, the longest a segment waited for an ACK in
    seconds).  Window updates (same ACK, larger window) do not count."""
    data = [f for f in frames if f[1] != port and f[5] > 0]
    ours = [f for f in frames if f[1] == port and f[4] & 0x10]
    if not data or not ours:
        return 0, 0, float("inf")
    mss = max(f[5] for f in data)
    first = data[0][2]
    sent = max((f[2] - first + f[5]) & 0xffffffff for f in data)
    advancing, highest = 0, None
    for f in ours:
        if f[5] == 0 and not f[4] & 0x07 and (
                highest is None or 0 < (f[3] - highest) & 0xffffffff <
                0x80000000):
            advancing += 1
        if highest is None or (f[3] - highest) & 0xffffffff < 0x80000000:
            highest = f[3]
    worst = 0.0
    for when, _, seq, _, _, length in data:
        end = (seq + length) & 0xffffffff
        acked = [a[0] for a in ours if a[0] >= when and
                 ((a[3] - end) & 0xffffffff) < 0x80000000]
        worst = max(worst, (acked[0] if acked else float("inf")) - when)
    return sent / mss, advancing, worst


def _settled(path, quiet=1.0, limit=30.0):
    """Wait until the file at path has not grown for quiet seconds: a
    loaded tcpdump writes the capture well after the frames passed, and
    what it has not written when it is stopped is lost."""
    size, still, waited = -1, 0.0, 0.0
    while still < quiet and waited < limit:
        time.sleep(0.2)
        waited += 0.2
        now = os.path.getsize(path) if os.path.exists(path) else 0
        still = still + 0.2 if now == size else 0.0
        size = now


def delack_capture(wire, args):
    """delack_capture SIZE: tcpdump records bulk_to_guest SIZE on the tap;
    the guest must send about one pure ACK for two full segments (between
    2/3 and 4/3 of an ACK per two) and acknowledge every segment within
    200 ms."""
    path = _scratch(wire, "delack.pcap")
    dump = subprocess.Popen(wire.wrap(["tcpdump", "-i", wire.tap, "-n",
                                       "-B", "32768", "-U", "-s", "128",
                                       "-w", path,
                                       "tcp port 5001"]),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    wire.background.append(dump)
    if b"listening" not in dump.stderr.readline():
        return 1, "tcpdump did not start"
    status, detail = bulk_to_guest(wire, args)
    _settled(path)
    dump.terminate()
    dump.wait(timeout=10)
    if status != 0:
        return status, detail
    full, acks, worst = delack_judge(_pcap_tcp(path))
    per_two = 2.0 * acks / max(full, 1)
    good = full > 100 and 2 / 3 <= per_two <= 4 / 3 and worst <= 0.2
    return (0 if good else 1), "%.0f full segments, %d acks: %.2f acks " \
        "per 2 segments, slowest %.0f ms" % (full, acks, per_two,
                                             worst * 1e3)


def shell_type(wire, args):
    """shell_type WORDS...: after the reply, type WORDS and Enter on the
    guest's serial port (its test then runs one round of the shell) and
    keep what the guest prints, for shell_check."""
    wire.peer_agent.record()
    wire.shell_line = " ".join(args)
    return 0, "typing %s" % wire.shell_line, wire.shell_line + "\r"


def _tap_mac(wire):
    status, out = _run(wire, ["ip", "-o", "link", "show", wire.tap], 10)
    match = re.search(r"link/ether ([0-9a-f:]{17})", out)
    return match.group(1) if match else "?"


def _shell_wants(wire, command, options):
    """The regular expressions a command's output must match."""
    if command == "ifconfig":
        return [r"vnet0: ether 52:54:00:12:34:56 mtu 1500 link up",
                r"\sinet %s netmask 255\.255\.255\.0 gateway %s$" % (
                    re.escape(GUEST), re.escape(HOST))]
    if command == "arp":
        return [r"\s%s\s+%s" % (re.escape(HOST), _tap_mac(wire))]
    if command == "netstat":
        cpus = int(options["cpus"])
        return [r"\snetisr %d: \d+ messages$" % i for i in range(cpus)] + \
            [r"\scpu %d: \d+ connections$" % i for i in range(cpus)] + \
            [r"\scpu %s: tcp %s:\d+ %s:%s ESTABLISHED$" % (
                options["cpu"], re.escape(GUEST), re.escape(HOST),
                options["port"]),
             r"tcp_established\s+\d+", r"ip_in\s+\d+"]
    if command == "ping":
        return [r"\sseq 0: reply$",
                r"\s%s sent, %s received$" % (options["count"],
                                                options["count"])]
    return [r"^$(?!)"]  # an unknown command matches nothing


def shell_check(wire, args):
    """shell_check COMMAND [KEY=VALUE...]: what the guest printed for the
    line shell_type typed must show the command's prompt echo and match
    every expression _shell_wants lists (KEY=VALUE: what to expect, e.g.
    cpus=2 for netstat)."""
    lines = wire.peer_agent.recorded_lines()
    options = dict(arg.split("=", 1) for arg in args[1:])
    typed = getattr(wire, "shell_line", "")
    if not any(line.endswith("damselfly> " + typed) for line in lines):
        return 1, "no prompt with %r in %d lines" % (typed, len(lines))
    missing = [want for want in _shell_wants(wire, args[0], options)
               if not any(re.search(want, line) for line in lines)]
    return (0 if not missing else 1), "%s: %d lines, %s" % (
        typed, len(lines), "all expected" if not missing else
        "missing " + missing[0])


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


def iperf3(wire, args):
    """iperf3 SECONDS MIN_BYTES [OPTIONS...]: Debian's iperf3 client
    against the kernel's iperf3 server (port 5201, net/iperf.c) for
    SECONDS with -J; OPTIONS such as -R or -P 4 pass through.  Success:
    the JSON has no error and both its sent and received sums exceed
    MIN_BYTES."""
    import json
    seconds, least = args[0], int(args[1])
    status, out = _run(wire, ["iperf3", "-c", GUEST, "-J", "-t", seconds,
                              "--connect-timeout", "10000"] + list(args[2:]),
                       120 + 4 * int(seconds))
    try:
        end = json.loads(out[out.index("{"):])
    except ValueError:
        return 1, "iperf3 exit %d, no JSON: %s" % (
            status, " ".join(out.split())[:60])
    error = end.get("error", "none")
    sent = end.get("end", {}).get("sum_sent", {}).get("bytes", 0)
    got = end.get("end", {}).get("sum_received", {}).get("bytes", 0)
    streams = len(end.get("end", {}).get("streams", []))
    good = status == 0 and error == "none" and min(sent, got) > least
    return (0 if good else 1), "sent %d received %d bytes, %d streams, " \
        "error %s" % (sent, got, streams, error[:30])


IPERF_BAD = r"""
import json, socket, struct, sys
host = sys.argv[1]
COOKIE = b"damselflytestcookie0123456789abcdef0\0"
def control():
    s = socket.create_connection((host, 5201), timeout=20)
    s.sendall(COOKIE)
    return s
def expect(s, want, what):
    got = s.recv(1)
    if got != want:
        sys.exit("%s: got %r, wanted %r" % (what, got, want))
def closed(s, what):
    s.settimeout(20)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    s.close()
def params(**extra):
    p = dict(tcp=True, omit=0, time=1, num=0, blockcount=0, parallel=1,
             len=131072, client_version="3.12")
    p.update(extra)
    return json.dumps(p).encode()
# 1. a cookie cut short, then the close
s = socket.create_connection((host, 5201), timeout=20)
s.sendall(b"short")
s.shutdown(socket.SHUT_WR)
closed(s, "short cookie")
# 2. a length no parameters need
s = control(); expect(s, b"\x09", "param exchange")
s.sendall(struct.pack(">I", 0xffffffff)); closed(s, "huge length")
# 3. a length, then something that is not JSON
s = control(); expect(s, b"\x09", "param exchange")
body = b'{"tcp":true,"time":1,}'
s.sendall(struct.pack(">I", len(body)) + body); closed(s, "bad json")
# 4. UDP, which the server refuses with SERVER_ERROR
s = control(); expect(s, b"\x09", "param exchange")
body = params(tcp=False, udp=True)
s.sendall(struct.pack(">I", len(body)) + body)
expect(s, b"\xfe", "server error"); closed(s, "udp refused")
# 5. a stream with the wrong cookie is denied; the right one runs; then
#    the control connection says nonsense instead of TEST_END
s = control(); expect(s, b"\x09", "param exchange")
body = params()
s.sendall(struct.pack(">I", len(body)) + body)
expect(s, b"\x0a", "create streams")
w = socket.create_connection((host, 5201), timeout=20)
w.sendall(COOKIE[:-2] + b"X\0"); expect(w, b"\xff", "access denied")
closed(w, "wrong cookie")
d = socket.create_connection((host, 5201), timeout=20)
d.sendall(COOKIE)
expect(s, b"\x01", "test start"); expect(s, b"\x02", "test running")
d.sendall(b"x" * 65536)
s.sendall(b"\x63"); closed(s, "nonsense state")
closed(d, "stream")
print("5 malformed sessions ended as expected")
"""


def iperf3_bad(wire, args):
    """iperf3_bad: five control sessions that go wrong (a short cookie, a
    huge JSON length, JSON that does not parse, UDP refused, a stream with
    a wrong cookie and a nonsense state byte): each must end with the
    server closing (or refusing) as iperf3's protocol says."""
    status, out = _run(wire, ["/usr/bin/python3", "-c", IPERF_BAD, GUEST],
                       120)
    lines = out.strip().splitlines()
    return status, lines[-1][:90] if lines else "no output"


UDP_FROM = r"""
import socket, sys, time
host, guest = sys.argv[1], sys.argv[2]
dport, dstep, sport, count, each = (int(a) for a in sys.argv[3:8])
sent = 0
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, sport + i))
    for k in range(each):
        s.sendto(b"datagram %d.%d" % (i, k), (guest, dport + i * dstep))
        sent += 1
        time.sleep(0.002)
    s.close()
print("%d datagrams sent from %d ports" % (sent, count))
"""


def udp_from(wire, args):
    """udp_from DPORT DSTEP SPORT COUNT EACH: from each of COUNT source
    ports SPORT, SPORT+1, ... send EACH datagrams, the i-th port's to
    the guest's port DPORT + i * DSTEP (DSTEP 0: all to DPORT)."""
    status, out = _run(wire, ["/usr/bin/python3", "-c", UDP_FROM, HOST,
                              GUEST] + list(args[:5]), 60)
    lines = out.strip().splitlines()
    return status, lines[-1][:90] if lines else "no output"


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
    "bulk_to_guest": bulk_to_guest,
    "bulk_from_guest": bulk_from_guest,
    "serve_sink": serve_sink,
    "check_sink": check_sink,
    "serve_source": serve_source,
    "delack_capture": delack_capture,
    "shell_type": shell_type,
    "shell_check": shell_check,
    "iperf3": iperf3,
    "iperf3_bad": iperf3_bad,
    "udp_from": udp_from,
}
