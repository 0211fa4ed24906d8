#!/usr/bin/env python3
"""Try to open a TCP connection to ADDR PORT the way an attacker with CAP_NET_RAW in a pod (or on
a node) would, to check that the STRICT guard sees through it (tests/lab/test_strict.sh).

usage: raw_syn.py ROUTE ADDR PORT [TIMEOUT_S]   (TIMEOUT_S defaults to 1.5)
ROUTE:
  plain       an ordinary connect(), IPv4 or IPv6 by ADDR (fe80::X%IFNAME for a link-local one)
  v6-dstopts  connect() on a socket whose packets carry a destination-options header
  v6-hopopts  the same with a hop-by-hop options header
  v4-frag     a hand-built IPv4 SYN sent as 8-byte fragments: the flags are in the second one
  v6-frag     a hand-built IPv6 SYN in two fragments; the first holds the 20-byte TCP header
              (Linux discards a first fragment that does not, RFC 8200 4.5), the second the rest
              of its options
  v6-chain    a hand-built IPv6 SYN behind V6_CHAIN destination-options headers, one more than
              the guard walks (PKT_MAX_EXT in bpf/lib/pkt.h)
  v4-qdisc-bypass
              a hand-built IPv4 SYN in an Ethernet frame that an AF_PACKET socket with
              PACKET_QDISC_BYPASS writes on IFNAME (ADDR is IP%IFNAME): the driver gets it
              directly, past the interface's qdisc and its TC egress hook
exit: 0 the listener accepted (a SYN-ACK came back, or connect() succeeded); 1 nothing came
back within the timeout (or the route failed on the way); 3 the target's kernel answered with a
RST (the SYN got there, no listener); 2 usage or setup error.
The hand-built routes listen for the SYN-ACK on a raw TCP socket; this host's kernel, which knows
nothing of the connection, answers it with a RST, which is fine.
"""
import os
import select
import socket
import struct
import sys
import time

ACCEPTED, NOTHING, SETUP, RESET = 0, 1, 2, 3
V6_CHAIN = 9

TCP_SYN, TCP_RST, TCP_ACK = 0x02, 0x04, 0x10
# one PadN option filling an 8-byte extension header: next header, length 0, PadN of 4 zeros
PADN_HEADER = bytes([0, 0, 1, 4, 0, 0, 0, 0])
IPV6_DSTOPTS = getattr(socket, "IPV6_DSTOPTS", 59)
IPV6_HOPOPTS = getattr(socket, "IPV6_HOPOPTS", 54)
IPPROTO_FRAGMENT, IPPROTO_DSTOPTS = 44, 60
SOL_PACKET, PACKET_QDISC_BYPASS = 263, 20
ETH_P_IP = 0x0800


class SetupError(Exception):
    pass


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_syn(src, dst, sport, dport, isn, options=b""):
    """A SYN with a correct checksum over the pseudo-header of `src`/`dst` (packed addresses)."""
    doff = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, isn, 0, doff << 4, TCP_SYN, 64240, 0, 0)
    seg = hdr + options
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(seg))
    else:
        pseudo = src + dst + struct.pack("!I3xB", len(seg), socket.IPPROTO_TCP)
    csum = checksum(pseudo + seg)
    return seg[:16] + struct.pack("!H", csum) + seg[18:]


def source_for(family, addr, port):
    """The address this host's kernel would send from to reach addr (a UDP connect sends
    nothing)."""
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((addr, port))
        return s.getsockname()[0]


def ipv4_header(src, dst, payload_len, ident, frag_off):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, frag_off, 64,
                      socket.IPPROTO_TCP, 0, src, dst)
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]


def ipv4_fragments(src, dst, seg, ident):
    """seg split into 8-byte fragments, each with its own IPv4 header."""
    out = []
    for off in range(0, len(seg), 8):
        part = seg[off:off + 8]
        more = 0x2000 if off + 8 < len(seg) else 0
        out.append(ipv4_header(src, dst, len(part), ident, more | (off // 8)) + part)
    return out


def ipv6_header(src, dst, nexthdr, payload_len):
    return struct.pack("!IHBB16s16s", 6 << 28, payload_len, nexthdr, 64, src, dst)


def ipv6_fragments(src, dst, seg, first_len, ident):
    """seg in two fragments: seg[:first_len] (a multiple of 8) and the rest."""
    out = []
    for off, part, more in ((0, seg[:first_len], 1), (first_len, seg[first_len:], 0)):
        frag = struct.pack("!BBHI", socket.IPPROTO_TCP, 0, off | more, ident)
        out.append(ipv6_header(src, dst, IPPROTO_FRAGMENT, len(frag) + len(part)) + frag + part)
    return out


def ipv6_chain(src, dst, seg, n):
    """seg behind n destination-options headers of one PadN each."""
    chain = b""
    for i in range(n):
        nexthdr = socket.IPPROTO_TCP if i == n - 1 else IPPROTO_DSTOPTS
        chain += bytes([nexthdr]) + PADN_HEADER[1:]
    return ipv6_header(src, dst, IPPROTO_DSTOPTS, len(chain) + len(seg)) + chain + seg


def neighbour_mac(addr, ifname):
    """addr's MAC on ifname, from this netns's ARP table; a datagram to addr (its discard port:
    at most an ICMP error comes back) makes the kernel resolve it first."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"", (addr, 9))
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        with open("/proc/net/arp") as f:  # columns: IP, type, flags, MAC, mask, device
            for line in f.readlines()[1:]:
                ip, _, flags, mac, _, dev = line.split()[:6]
                if ip == addr and dev == ifname and int(flags, 16) & 0x2:
                    return bytes.fromhex(mac.replace(":", ""))
        time.sleep(0.05)
    raise SetupError("no neighbour entry for %s on %s" % (addr, ifname))


def send_past_qdisc(ifname, addr, packet):
    """packet in an Ethernet frame to addr's MAC on ifname, past the qdisc and TC egress."""
    dmac = neighbour_mac(addr, ifname)
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((ifname, 0))
        s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    except OSError as e:
        raise SetupError("packet socket on %s: %s" % (ifname, e)) from e
    with s:
        s.send(dmac + s.getsockname()[4] + struct.pack("!H", ETH_P_IP) + packet)


def wait_answer(rx, family, addr, port, sport, isn, timeout):
    """ACCEPTED on the SYN-ACK to our SYN, RESET on its RST, NOTHING when timeout passes."""
    want = socket.inet_pton(family, addr)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([rx], [], [], left)[0]:
            return NOTHING
        pkt, peer = rx.recvfrom(65535)
        if family == socket.AF_INET:
            # an IPv4 raw socket hands over the IP header; an IPv6 one only what follows it
            if len(pkt) < 20 or pkt[12:16] != want:
                continue
            pkt = pkt[(pkt[0] & 0x0F) * 4:]
        elif socket.inet_pton(family, peer[0].split("%")[0]) != want:
            continue
        if len(pkt) < 20:
            continue
        src_port, dst_port, _, ack, _, flags = struct.unpack("!HHIIBB", pkt[:14])
        if src_port != port or dst_port != sport or ack != (isn + 1) & 0xFFFFFFFF:
            continue
        if flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK:
            return ACCEPTED
        if flags & TCP_RST:
            return RESET


def hand_built(route, addr, port, timeout):
    family = socket.AF_INET if route.startswith("v4-") else socket.AF_INET6
    addr, _, ifname = addr.partition("%")
    sport = 20000 + int.from_bytes(os.urandom(2), "big") % 40000
    isn = int.from_bytes(os.urandom(4), "big")
    ident = int.from_bytes(os.urandom(2), "big") | 1
    try:
        src = socket.inet_pton(family, source_for(family, addr, port))
        dst = socket.inet_pton(family, addr)
        rx = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_TCP)
        tx = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except OSError as e:
        raise SetupError("%s: raw sockets to %s: %s" % (route, addr, e)) from e
    with rx, tx:
        if route == "v4-frag":
            packets = ipv4_fragments(src, dst, tcp_syn(src, dst, sport, port, isn), ident)
        elif route == "v4-qdisc-bypass":
            seg = tcp_syn(src, dst, sport, port, isn)
            packets = [ipv4_header(src, dst, len(seg), ident, 0x4000) + seg]  # DF, as TCP sends
        else:
            # MSS, NOP, NOP, SACK permitted: a 28-byte header, so a 24-byte first fragment
            opts = struct.pack("!BBHBBBB", 2, 4, 1440, 1, 1, 4, 2)
            seg = tcp_syn(src, dst, sport, port, isn, opts)
            if route == "v6-frag":
                packets = ipv6_fragments(src, dst, seg, 24, ident)
            else:
                packets = [ipv6_chain(src, dst, seg, V6_CHAIN)]
        for p in packets:
            try:
                if ifname:
                    send_past_qdisc(ifname, addr, p)
                else:
                    tx.sendto(p, (addr, 0))
            except OSError as e:
                print("%s: send to %s: %s" % (route, addr, e), file=sys.stderr)
                return NOTHING
        return wait_answer(rx, family, addr, port, sport, isn, timeout)


def connects(route, addr, port, timeout):
    try:
        ai = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0]
        s = socket.socket(ai[0], ai[1], ai[2])
    except OSError as e:
        raise SetupError("%s: socket for %s: %s" % (route, addr, e)) from e
    with s:
        try:
            if route == "v6-dstopts":
                s.setsockopt(socket.IPPROTO_IPV6, IPV6_DSTOPTS, PADN_HEADER)
            elif route == "v6-hopopts":
                s.setsockopt(socket.IPPROTO_IPV6, IPV6_HOPOPTS, PADN_HEADER)
        except OSError as e:
            raise SetupError("%s: setsockopt: %s" % (route, e)) from e
        s.settimeout(timeout)
        try:
            s.connect(ai[4])
        except ConnectionRefusedError:
            return RESET
        except OSError as e:  # timeout, or an ICMP error on the way
            print("%s: connect to %s port %d: %s" % (route, addr, port, e), file=sys.stderr)
            return NOTHING
        return ACCEPTED


SOCKET_ROUTES = ("plain", "v6-dstopts", "v6-hopopts")
HAND_BUILT_ROUTES = ("v4-frag", "v6-frag", "v6-chain", "v4-qdisc-bypass")


def address_fits(route, addr):
    """A v6- route needs an IPv6 address, a v4- one an IPv4 one; %IFNAME goes with plain (a
    link-local address) and v4-qdisc-bypass (which needs it)."""
    if route == "plain":
        return True
    ip, scoped = addr.partition("%")[0], "%" in addr
    return scoped == (route == "v4-qdisc-bypass") and (":" in ip) == route.startswith("v6-")


def main(argv):
    if len(argv) not in (4, 5) or argv[1] not in SOCKET_ROUTES + HAND_BUILT_ROUTES:
        print(__doc__, file=sys.stderr)
        return SETUP
    route, addr = argv[1], argv[2]
    try:
        port = int(argv[3])
        timeout = float(argv[4]) if len(argv) == 5 else 1.5
    except ValueError:
        print(__doc__, file=sys.stderr)
        return SETUP
    if not address_fits(route, addr):
        print("raw_syn.py: route %s does not take the address %s (usage: no arguments)"
              % (route, addr), file=sys.stderr)
        return SETUP
    try:
        if route in HAND_BUILT_ROUTES:
            return hand_built(route, addr, port, timeout)
        return connects(route, addr, port, timeout)
    except SetupError as e:
        print("raw_syn.py: %s" % e, file=sys.stderr)
        return SETUP


if __name__ == "__main__":
    sys.exit(main(sys.argv))
