#!/usr/bin/env python3
"""Writes the image test's traffic: a small Ethernet pcap whose every packet carries a
known payload marker between known MAC and IPv4 addresses, so the test can scan the
spool disk, the console and the results line for any of them afterwards.

usage: make-traffic.py OUT.pcap   (prints the facts the test greps for, as KEY=VALUE)
"""
import struct
import sys

MARKER = b"SEALTAP-IMAGE-MARKER-5e1f7a9c"
MACS = [bytes.fromhex("02a1b2c3d401"), bytes.fromhex("02a1b2c3d402")]
HOSTS = [bytes([198, 51, 100, 23]), bytes([203, 0, 113, 77]), bytes([192, 0, 2, 144])]
PACKETS = 240


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + payload


def l4(proto: int, src: bytes, dst: bytes, sport: int, dport: int, seq: int, body: bytes) -> bytes:
    if proto == 17:
        seg = struct.pack("!HHHH", sport, dport, 8 + len(body), 0) + body
        csum_at = 6
    else:
        seg = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 0x50, 0x18, 65535, 0, 0) + body
        csum_at = 16
    pseudo = src + dst + struct.pack("!BBH", 0, proto, len(seg))
    c = checksum(pseudo + seg) or 0xFFFF
    return seg[:csum_at] + struct.pack("!H", c) + seg[csum_at + 2:]


def main() -> None:
    out = sys.argv[1]
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(PACKETS):
            a, b = HOSTS[i % 3], HOSTS[(i + 1) % 3]
            proto = 17 if i % 2 else 6
            sport, dport = 40000 + (i % 7), 9  # discard: no dissector reads meaning into the payload
            body = MARKER + b" packet %05d " % i + MARKER
            frame = MACS[i % 2] + MACS[(i + 1) % 2] + b"\x08\x00" + ipv4(a, b, proto, l4(proto, a, b, sport, dport, 1000 + i * 100, body), i)
            ts = 1_700_000_000 + i // 100
            f.write(struct.pack("<IIII", ts, (i % 100) * 10000, len(frame), len(frame)))
            f.write(frame)
    print(f"PACKETS={PACKETS}")
    # Bidirectional 5-tuples, as the flows analysis keys them (no packet here answers another).
    flows = set()
    for i in range(PACKETS):
        a, b = HOSTS[i % 3], HOSTS[(i + 1) % 3]
        end1, end2 = (a, 40000 + (i % 7)), (b, 9)
        flows.add((17 if i % 2 else 6,) + tuple(sorted([end1, end2])))
    print(f"FLOWS={len(flows)}")
    print(f"MARKER={MARKER.decode()}")
    print('MACS="' + " ".join(m.hex() for m in MACS) + '"')
    # Source and destination as they sit side by side in every IPv4 header: 8 bytes
    # that random ciphertext practically never contains (a lone 4-byte address would).
    pairs = sorted({(HOSTS[i % 3] + HOSTS[(i + 1) % 3]).hex() for i in range(3)})
    print('IPPAIRS="' + " ".join(pairs) + '"')


if __name__ == "__main__":
    main()
