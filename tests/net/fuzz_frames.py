"""fuzz_frames.py - malformed frames for the guest, built with scapy.

Run by the `fuzz` scenario (tests/net/peers.py) inside the boot's network
namespace, with Debian's /usr/bin/python3 (python3-scapy):

    fuzz_frames.py TAP GUEST_IP GUEST_MAC COUNT SEED

Scapy builds well-formed frames for the guest -- a TCP SYN with options, a
TCP segment with data, a UDP datagram, an ICMP echo request, an ARP
request -- and each of the COUNT frames is one of them broken in a way a
receiver must notice: cut short, a byte of a checksummed header changed,
a length field that lies (with every checksum right, so the length check
is what catches it), TCP options that overrun, a fragment, an IP version
other than 4, a protocol nobody speaks, another host's address, an ARP
header for another hardware or protocol.  No frame is valid, so the guest
must count every one as dropped and answer none.

Every SYNC frames the script sends a UDP datagram to the guest's echo
port and waits for it to come back: the guest is alive, and has caught up
(the tap queue never overflows, so every frame reaches the guest).
Prints one line: `sent N frames, S syncs answered`; exits 1 if a sync
went unanswered.
"""

import random
import socket
import struct
import sys

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, conf, get_if_hwaddr

SYNC = 500
LIES = 2000


def templates(host_mac, host_ip, guest_mac, guest_ip, rng):
    """Well-formed frames to the guest (every one longer than 80 bytes,
    so the wire's padding of short frames never repairs a cut one)."""
    eth = Ether(src=host_mac, dst=guest_mac)
    ip = IP(src=host_ip, dst=guest_ip, id=rng.randrange(65536))
    data = Raw(bytes(rng.randrange(1, 256) for _ in range(48)))
    sport = rng.randrange(20000, 60000)
    return {
        "syn": eth / ip / TCP(sport=sport, dport=80, flags="S",
                              seq=rng.randrange(1 << 32),
                              options=[("MSS", 1460), ("WScale", 7),
                                       ("NOP", None), ("NOP", None)])
        / data,
        "tcp": eth / ip / TCP(sport=sport, dport=7, flags="PA",
                              seq=rng.randrange(1 << 32),
                              ack=rng.randrange(1 << 32)) / data,
        "udp": eth / ip / UDP(sport=sport, dport=7) / data,
        "icmp": eth / ip / ICMP(id=rng.randrange(65536)) / data,
    }


def arp_frame(host_mac, host_ip, guest_ip, rng):
    """An ARP request whose header names another hardware, protocol,
    address size or operation."""
    arp = ARP(op=1, hwsrc=host_mac, psrc=host_ip, pdst=guest_ip)
    which = rng.randrange(5)
    if which == 0:
        arp.hwtype = rng.choice([0, 6, 0x100])
    elif which == 1:
        arp.ptype = rng.choice([0, 0x86dd, 0x0806])
    elif which == 2:
        arp.hwlen = rng.choice([0, 5, 7, 16])
    elif which == 3:
        arp.plen = rng.choice([0, 3, 16])
    else:
        arp.op = rng.choice([0, 3, 4, 255])
    return bytes(Ether(src=host_mac, dst="ff:ff:ff:ff:ff:ff") / arp)


def flip(frame, lo, hi, rng, avoid=()):
    """frame with one byte in [lo, hi) changed (never at avoid)."""
    b = bytearray(frame)
    while True:
        i = rng.randrange(lo, hi)
        if i not in avoid:
            break
    b[i] ^= rng.randrange(1, 256)
    return bytes(b)


def lying(pkt, rng):
    """pkt (scapy) with a length, fragment or version field that lies;
    scapy recomputes every checksum, so only the lie is wrong."""
    p = pkt.copy()
    l4 = p[IP].payload
    which = rng.randrange(8)
    if which == 0:
        p[IP].len = len(p[IP]) + rng.randrange(1, 400)   # beyond the frame
    elif which == 1:
        p[IP].len = rng.randrange(0, 20)                 # below the header
    elif which == 2:
        p[IP].ihl = rng.randrange(0, 5)
    elif which == 3:
        p[IP].flags = "MF"                               # a first fragment
    elif which == 4:
        p[IP].frag = rng.randrange(1, 8192)              # a later one
    elif which == 5:
        p[IP].version = rng.choice([0, 5, 6, 15])
    elif which == 6:
        p[IP].dst = "192.0.2.%d" % rng.randrange(3, 255)  # not us
    elif isinstance(l4, UDP):
        l4.len = rng.choice([0, 4, 7, len(l4) + rng.randrange(1, 100)])
    elif isinstance(l4, TCP):
        if rng.randrange(2):
            l4.dataofs = rng.randrange(0, 5)
        else:
            # Four option bytes that overrun or name a size of 0 or 1,
            # put in front of the data and covered by the data offset.
            bad = rng.choice([b"\x02\x00\x05\xb4", b"\x03\x01\x07\x01",
                              b"\x01\x01\x02\x05", b"\x01\x01\x08\x0a"])
            l4.options = []
            l4.dataofs = 6
            l4.payload = Raw(bad + bytes(l4.payload))
    else:
        p[IP].proto = rng.choice([2, 41, 89, 132, 253])  # nobody's
    for layer in (p[IP], l4):
        if hasattr(layer, "chksum"):
            layer.chksum = None
    return bytes(p)


def broken(kind, pkt, raw, rng):
    """A template cut short, or with one byte of a checksummed header
    (or the data under the L4 checksum) changed."""
    ip_lo = 14
    l4_lo = 14 + 20
    how = rng.randrange(3)
    if how == 0:
        return raw[:rng.choice([rng.randrange(0, 14),
                                rng.randrange(61, len(raw))])]
    if how == 1:
        return flip(raw, ip_lo, l4_lo, rng)
    # A UDP checksum of zero means "none": never make one.
    avoid = (l4_lo + 6, l4_lo + 7) if kind == "udp" else ()
    return flip(raw, l4_lo, len(raw), rng, avoid)


def main():
    tap, guest_ip, guest_mac = sys.argv[1], sys.argv[2], sys.argv[3]
    count, seed = int(sys.argv[4]), int(sys.argv[5])
    rng = random.Random(seed)
    host_mac = get_if_hwaddr(tap)
    host_ip = "192.0.2.1"
    wire = conf.L2socket(iface=tap)
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.settimeout(5)
    pool = []
    for _ in range(16):
        for kind, pkt in templates(host_mac, host_ip, guest_mac, guest_ip,
                                   rng).items():
            pool.append((kind, pkt, bytes(pkt)))
    # Scapy is slow to build: the frames whose fields lie come from a
    # pool made once; cuts and flips are made afresh for every frame.
    lies = [lying(pkt, rng) for _ in range(LIES // len(pool))
            for _, pkt, _ in pool]
    arps = [arp_frame(host_mac, host_ip, guest_ip, rng) for _ in range(200)]
    syncs = 0
    for n in range(count):
        pick = rng.randrange(10)
        if pick == 0:
            frame = rng.choice(arps)
        elif pick < 4:
            frame = rng.choice(lies)
        else:
            frame = broken(*rng.choice(pool), rng)
        wire.send(frame)
        if (n + 1) % SYNC == 0 or n + 1 == count:
            if not sync(echo, guest_ip, n):
                print("sent %d frames, sync after frame %d unanswered"
                      % (n + 1, n + 1))
                return 1
            syncs += 1
    print("sent %d frames, %d syncs answered" % (count, syncs))
    return 0


def sync(echo, guest_ip, n):
    """A datagram to the guest's echo service comes back."""
    token = struct.pack("!I", n)
    for _ in range(3):
        echo.sendto(token, (guest_ip, 7))
        try:
            while True:
                got, _ = echo.recvfrom(64)
                if got == token:
                    return True
        except socket.timeout:
            continue
    return False


if __name__ == "__main__":
    sys.exit(main())
