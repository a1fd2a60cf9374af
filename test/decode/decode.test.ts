// Decoding of crafted packets: every header lands at the right offset with the right fields.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePacket, DecodeCounter, Layer, LayerFlag, LinkType, PacketView } from '../../firmware/decode';
import { arp, build, eth, gre, icmp, icmpv6, ip4, ip6, ipv4, ipv6, loopback, mpls, pppoe, raw, sll, sll2, tcp, udp, vlan, erspan2, vxlan, geneve } from '../lib/craft';

function decode(linkType: number, pkt: Buffer, off = 0): PacketView {
  const v = new PacketView();
  decodePacket(linkType, pkt, off, pkt.length - off, pkt.length - off, v);
  return v;
}

function kinds(v: PacketView): number[] {
  return Array.from(v.kind.subarray(0, v.depth));
}

function at(buf: Buffer, off: number, len: number): Buffer {
  return buf.subarray(off, off + len);
}

test('Ethernet/IPv4/TCP: offsets, ports, flags, options, payload', () => {
  const opts = Buffer.from([2, 4, 0x05, 0xb4, 1, 1, 4, 2]); // MSS, NOP, NOP, SACK permitted
  const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), tcp({ sport: 1234, dport: 80, flags: 'SA', seq: 7, ack: 9, options: opts }), raw('hello'));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV4, Layer.TCP]);
  assert.is(v.problem, 0);
  assert.is(v.ipVersion, 4);
  assert.is(v.ipOff, 14);
  assert.equal(at(pkt, v.ipSrcOff, 4), ip4('10.0.0.1'));
  assert.equal(at(pkt, v.ipDstOff, 4), ip4('10.0.0.2'));
  assert.is(v.ipProto, 6);
  assert.is(v.ipTotalLen, 20 + 28 + 5);
  assert.is(v.l4Off, 34);
  assert.is(v.srcPort, 1234);
  assert.is(v.dstPort, 80);
  assert.is(v.tcpFlags, 0x12);
  assert.is(pkt.readUInt32BE(v.tcpSeqOff), 7);
  assert.is(pkt.readUInt32BE(v.tcpSeqOff + 4), 9);
  assert.is(v.tcpOptOff, 54);
  assert.is(v.tcpOptLen, 8);
  assert.is(v.payloadOff, 62);
  assert.is(v.payloadLen, 5);
  assert.is(v.lastParsedEnd, 62);
  assert.is(v.linkHeaderLen, 14);
});

test('decodes a packet that starts at an offset inside a larger buffer', () => {
  const pkt = build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), udp({ sport: 5, dport: 6 }));
  const big = Buffer.concat([Buffer.alloc(16, 0xee), pkt, Buffer.alloc(10, 0xee)]);
  const v = new PacketView();
  decodePacket(LinkType.EN10MB, big, 16, pkt.length, pkt.length, v);
  assert.is(v.ipOff, 30);
  assert.is(v.srcPort, 5);
  assert.is(v.payloadLen, 0);
});

test('Ethernet padding after a short IP datagram is not payload', () => {
  const pkt = Buffer.concat([build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), udp({ sport: 5, dport: 6 }), raw('ab')), Buffer.alloc(16)]);
  const v = decode(LinkType.EN10MB, pkt);
  assert.is(v.payloadLen, 2);
});

test('IPv4 options: header length and transport offset follow IHL', () => {
  const pkt = build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', options: Buffer.from([0x94, 4, 0, 0]) }), udp({ sport: 53, dport: 53 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.is(v.ipHeaderLen, 24);
  assert.is(v.l4Off, 38);
  assert.is(v.dstPort, 53);
});

test('802.1Q and QinQ tags are recorded outermost first', () => {
  const pkt = build(eth(), vlan({ vid: 100, tpid: 0x88a8, pcp: 3 }), vlan({ vid: 200 }), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), udp({ sport: 1, dport: 2 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.VLAN, Layer.VLAN, Layer.IPV4, Layer.UDP]);
  assert.is(v.vlanCount, 2);
  assert.is(v.vlanTci[0] & 0xfff, 100);
  assert.is(v.vlanTci[0] >> 13, 3);
  assert.is(v.vlanTci[1] & 0xfff, 200);
  assert.is(v.ipOff, 22);
  assert.is(v.linkHeaderLen, 22);
});

test('ARP: addresses of sender and target', () => {
  const pkt = build(eth(), arp({ op: 1, sha: '02:00:00:00:00:01', spa: '192.168.1.1', tha: '00:00:00:00:00:00', tpa: '192.168.1.2' }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.ARP]);
  assert.is(v.arpOp, 1);
  assert.is(v.arpHln, 6);
  assert.is(v.arpPln, 4);
  assert.equal(at(pkt, v.arpSpaOff, 4), ip4('192.168.1.1'));
  assert.equal(at(pkt, v.arpTpaOff, 4), ip4('192.168.1.2'));
  assert.is(v.arpShaOff, 22);
  assert.is(v.arpThaOff, 32);
  assert.is(v.ipOff, -1);
});

test('IPv6/UDP: addresses and ports', () => {
  const pkt = build(eth(), ipv6({ src: '2001:db8::1', dst: '2001:db8::2' }), udp({ sport: 4000, dport: 53 }), raw('xyz'));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV6, Layer.UDP]);
  assert.is(v.ipVersion, 6);
  assert.is(v.ipAddrLen, 16);
  assert.equal(at(pkt, v.ipSrcOff, 16), ip6('2001:db8::1'));
  assert.equal(at(pkt, v.ipDstOff, 16), ip6('2001:db8::2'));
  assert.is(v.ipTotalLen, 40 + 11);
  assert.is(v.payloadLen, 3);
});

test('IPv6 extension headers: hop-by-hop, routing, destination options, AH, then TCP', () => {
  const pkt = build(eth(), ipv6({ src: '::1', dst: '::2', ext: [{ type: 'hop' }, { type: 'routing', len: 2 }, { type: 'dst', len: 1 }, { type: 'ah' }] }), tcp({ sport: 22, dport: 2222 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV6, Layer.IPV6_HOPOPTS, Layer.IPV6_ROUTING, Layer.IPV6_DSTOPTS, Layer.AH, Layer.TCP]);
  assert.equal(Array.from(v.len.subarray(2, 6)), [8, 24, 16, 24]);
  assert.is(v.ipProto, 6);
  assert.is(v.l4Off, 14 + 40 + 8 + 24 + 16 + 24);
  assert.is(v.srcPort, 22);
});

test('IPv6 first fragment is decoded to the transport header', () => {
  const pkt = build(eth(), ipv6({ src: '::1', dst: '::2', ext: [{ type: 'frag', more: true, id: 77 }] }), udp({ sport: 1, dport: 2 }), raw(Buffer.alloc(32)));
  const v = decode(LinkType.EN10MB, pkt);
  assert.is(v.isFragment, 1);
  assert.is(v.moreFragments, 1);
  assert.is(v.fragOffset, 0);
  assert.is(v.fragId, 77);
  assert.is(v.dstPort, 2);
});

test('IPv6 later fragment stops after the fragment header and is counted', () => {
  const pkt = build(eth(), ipv6({ src: '::1', dst: '::2', ext: [{ type: 'frag', offset: 1448, id: 77 }] }), udp({ sport: 1, dport: 2 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV6, Layer.IPV6_FRAGMENT]);
  assert.is(v.fragOffset, 1448);
  assert.is(v.srcPort, -1);
  assert.is(v.problem, DecodeCounter.laterFragment);
  assert.is(v.counters[DecodeCounter.laterFragment], 1);
});

test('IPv4 fragments: first decoded, later ones stop at the IP header', () => {
  const first = build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', mf: true, id: 5 }), udp({ sport: 9, dport: 10 }), raw(Buffer.alloc(24)));
  const v = decode(LinkType.EN10MB, first);
  assert.is(v.isFragment, 1);
  assert.is(v.moreFragments, 1);
  assert.is(v.fragId, 5);
  assert.is(v.dstPort, 10);
  const later = build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', fragOffset: 32, id: 5, proto: 17 }), raw(Buffer.alloc(24)));
  const w = decode(LinkType.EN10MB, later);
  assert.equal(kinds(w), [Layer.ETHERNET, Layer.IPV4]);
  assert.is(w.fragOffset, 32);
  assert.is(w.dstPort, -1);
  assert.is(w.problem, DecodeCounter.laterFragment);
});

test('ESP ends decoding after SPI and sequence number', () => {
  const pkt = build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 50 }), raw(Buffer.alloc(40, 0xaa)));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV4, Layer.ESP]);
  assert.is(v.lastParsedEnd, 14 + 20 + 8);
  assert.is(v.problem, DecodeCounter.espEncrypted);
});

test('ICMP echo: type, code, identifier', () => {
  const pkt = build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), icmp({ type: 8, id: 0x4242, seq: 1 }), raw('ping'));
  const v = decode(LinkType.EN10MB, pkt);
  assert.is(v.icmpType, 8);
  assert.is(v.icmpCode, 0);
  assert.is(v.icmpId, 0x4242);
  assert.is(v.payloadLen, 4);
  assert.is(v.quotedOff, -1);
});

test('ICMP error: quoted IP header and ports are marked QUOTED, innermost IP stays the outer one', () => {
  const pkt = build(eth(), ipv4({ src: '9.9.9.9', dst: '1.1.1.1' }), icmp({ type: 3, code: 3 }), ipv4({ src: '1.1.1.1', dst: '8.8.8.8' }), udp({ sport: 3333, dport: 53 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV4, Layer.ICMP, Layer.IPV4, Layer.UDP]);
  assert.equal(Array.from(v.flags.subarray(0, 5)), [0, 0, 0, LayerFlag.QUOTED, LayerFlag.QUOTED]);
  assert.is(v.ipOff, 14);
  assert.equal(at(pkt, v.ipSrcOff, 4), ip4('9.9.9.9'));
  assert.is(v.quotedOff, 42);
  assert.is(v.quotedIpVersion, 4);
  assert.equal(at(pkt, v.quotedSrcOff, 4), ip4('1.1.1.1'));
  assert.equal(at(pkt, v.quotedDstOff, 4), ip4('8.8.8.8'));
  assert.is(v.quotedProto, 17);
  assert.is(v.quotedSrcPort, 3333);
  assert.is(v.quotedDstPort, 53);
  assert.is(v.srcPort, -1);
  assert.is(v.tunnelDepth, 0);
  assert.is(v.problem, 0);
});

test('ICMP error quoting only 8 bytes of a TCP header still yields the quoted ports', () => {
  const full = build(eth(), ipv4({ src: '9.9.9.9', dst: '1.1.1.1' }), icmp({ type: 11 }), ipv4({ src: '1.1.1.1', dst: '8.8.8.8' }), tcp({ sport: 40000, dport: 443 }));
  const pkt = full.subarray(0, 14 + 20 + 8 + 20 + 8);
  const v = decode(LinkType.EN10MB, pkt);
  assert.is(v.quotedSrcPort, 40000);
  assert.is(v.quotedDstPort, 443);
  assert.is(v.lastParsedEnd, pkt.length);
});

test('ICMPv6 error quotes an IPv6 packet', () => {
  const pkt = build(eth(), ipv6({ src: '2001:db8::9', dst: '2001:db8::1' }), icmpv6({ type: 1, code: 4 }), ipv6({ src: '2001:db8::1', dst: '2001:db8::8' }), tcp({ sport: 5555, dport: 80 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV6, Layer.ICMPV6, Layer.IPV6, Layer.TCP]);
  assert.is(v.icmpType, 1);
  assert.is(v.quotedIpVersion, 6);
  assert.equal(at(pkt, v.quotedDstOff, 16), ip6('2001:db8::8'));
  assert.is(v.quotedDstPort, 80);
});

test('ICMPv6 neighbour solicitation: target and options', () => {
  const body = Buffer.concat([Buffer.alloc(4), ip6('fe80::1'), Buffer.from([1, 1, 2, 0, 0, 0, 0, 1])]);
  const pkt = build(eth(), ipv6({ src: 'fe80::2', dst: 'ff02::1:ff00:1' }), icmpv6({ type: 135, body }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.is(v.icmpType, 135);
  assert.equal(at(pkt, v.ndTargetOff, 16), ip6('fe80::1'));
  assert.is(v.ndOptOff, 14 + 40 + 24);
  assert.is(v.ndOptLen, 8);
});

test('ICMPv6 redirect: target and destination', () => {
  const body = Buffer.concat([Buffer.alloc(4), ip6('fe80::1'), ip6('2001:db8::7')]);
  const pkt = build(eth(), ipv6({ src: 'fe80::2', dst: 'fe80::3' }), icmpv6({ type: 137, body }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(at(pkt, v.ndTargetOff, 16), ip6('fe80::1'));
  assert.equal(at(pkt, v.ndRedirectDstOff, 16), ip6('2001:db8::7'));
});

test('GRE carrying IPv4 carrying GRE carrying Ethernet/IPv6: decoded recursively', () => {
  const pkt = build(
    eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), gre({ key: 7, seq: 1, checksum: true }),
    ipv4({ src: '172.16.0.1', dst: '172.16.0.2' }), gre(), eth(), ipv6({ src: '2001:db8::a', dst: '2001:db8::b' }), udp({ sport: 1, dport: 2 }),
  );
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV4, Layer.GRE, Layer.IPV4, Layer.GRE, Layer.ETHERNET, Layer.IPV6, Layer.UDP]);
  assert.is(v.len[2], 16);
  assert.is(v.tunnelDepth, 2);
  assert.is(v.flags[1], LayerFlag.TUNNEL);
  assert.is(v.flags[3], LayerFlag.TUNNEL);
  assert.is(v.ipVersion, 6);
  assert.equal(at(pkt, v.ipSrcOff, 16), ip6('2001:db8::a'));
  assert.is(v.dstPort, 2);
});

test('IP-in-IP: 4in4, 6in4, 4in6, 6in6', () => {
  const cases: [ReturnType<typeof ipv4>, ReturnType<typeof ipv4>, number][] = [
    [ipv4({ src: '1.0.0.1', dst: '1.0.0.2' }), ipv4({ src: '2.0.0.1', dst: '2.0.0.2' }), 4],
    [ipv4({ src: '1.0.0.1', dst: '1.0.0.2' }), ipv6({ src: '::a', dst: '::b' }), 6],
    [ipv6({ src: '::1', dst: '::2' }), ipv4({ src: '2.0.0.1', dst: '2.0.0.2' }), 4],
    [ipv6({ src: '::1', dst: '::2' }), ipv6({ src: '::a', dst: '::b' }), 6],
  ];
  for (const [outer, inner, version] of cases) {
    const pkt = build(eth(), outer, inner, tcp({ sport: 11, dport: 12 }));
    const v = decode(LinkType.EN10MB, pkt);
    assert.is(v.depth, 4);
    assert.is(v.tunnelDepth, 1);
    assert.is(v.ipVersion, version);
    assert.is(v.ipLayer, 2);
    assert.is(v.dstPort, 12);
  }
});

test('ERSPAN type II inside GRE carries a mirrored Ethernet frame', () => {
  const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), gre({ seq: 1 }), erspan2({ session: 3 }), eth(), ipv4({ src: '5.5.5.5', dst: '6.6.6.6' }), udp({ sport: 7, dport: 8 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV4, Layer.GRE, Layer.ERSPAN, Layer.ETHERNET, Layer.IPV4, Layer.UDP]);
  assert.equal(at(pkt, v.ipSrcOff, 4), ip4('5.5.5.5'));
});

test('ERSPAN type I (GRE without sequence number) carries Ethernet directly', () => {
  const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), gre({ protocol: 0x88be }), eth(), ipv4({ src: '5.5.5.5', dst: '6.6.6.6' }), udp({ sport: 7, dport: 8 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV4, Layer.GRE, Layer.ETHERNET, Layer.IPV4, Layer.UDP]);
});

test('VXLAN: the inner flow replaces the outer UDP ports', () => {
  const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 33333, dport: 4789 }), vxlan({ vni: 42 }), eth(), ipv4({ src: '5.5.5.5', dst: '6.6.6.6' }), icmp({ type: 8, id: 3 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV4, Layer.UDP, Layer.VXLAN, Layer.ETHERNET, Layer.IPV4, Layer.ICMP]);
  assert.equal(at(pkt, v.ipSrcOff, 4), ip4('5.5.5.5'));
  assert.is(v.srcPort, -1);
  assert.is(v.icmpId, 3);
  assert.is(v.tunnelDepth, 1);
});

test('Geneve with options carries Ethernet/IPv6', () => {
  const pkt = build(eth(), ipv6({ src: '::1', dst: '::2' }), udp({ sport: 1, dport: 6081 }), geneve({ vni: 7, options: Buffer.alloc(8) }), eth(), ipv6({ src: '::a', dst: '::b' }), tcp({ sport: 9, dport: 10 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.equal(kinds(v), [Layer.ETHERNET, Layer.IPV6, Layer.UDP, Layer.GENEVE, Layer.ETHERNET, Layer.IPV6, Layer.TCP]);
  assert.is(v.len[3], 16);
  assert.is(v.dstPort, 10);
});

test('MPLS label stack and PPPoE sessions reach the IP header', () => {
  const m = decode(LinkType.EN10MB, build(eth(), mpls({ label: 16 }), mpls({ label: 17 }), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), udp({ sport: 1, dport: 2 })));
  assert.equal(kinds(m), [Layer.ETHERNET, Layer.MPLS, Layer.MPLS, Layer.IPV4, Layer.UDP]);
  const p = decode(LinkType.EN10MB, build(eth(), pppoe({ session: 9 }), ipv6({ src: '::1', dst: '::2' }), udp({ sport: 1, dport: 2 })));
  assert.equal(kinds(p), [Layer.ETHERNET, Layer.PPPOE, Layer.IPV6, Layer.UDP]);
});

test('Linux cooked v1 and v2 headers', () => {
  const a = decode(LinkType.LINUX_SLL, build(sll(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), udp({ sport: 1, dport: 2 })));
  assert.equal(kinds(a), [Layer.SLL, Layer.IPV4, Layer.UDP]);
  assert.is(a.ipOff, 16);
  const b = decode(LinkType.LINUX_SLL2, build(sll2(), ipv6({ src: '::1', dst: '::2' }), tcp({ sport: 1, dport: 2 })));
  assert.equal(kinds(b), [Layer.SLL2, Layer.IPV6, Layer.TCP]);
  assert.is(b.ipOff, 20);
});

test('raw IP link types pick the version from the first nibble', () => {
  for (const lt of [LinkType.RAW, LinkType.RAW_BSD12, LinkType.RAW_BSD14]) {
    assert.is(decode(lt, build(ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), udp({ sport: 1, dport: 2 }))).ipVersion, 4);
    assert.is(decode(lt, build(ipv6({ src: '::1', dst: '::2' }), udp({ sport: 1, dport: 2 }))).ipVersion, 6);
  }
  assert.is(decode(LinkType.IPV4, build(ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }))).ipOff, 0);
  assert.is(decode(LinkType.IPV6, build(ipv6({ src: '::1', dst: '::2' }))).ipOff, 0);
});

test('NULL and LOOP headers in both byte orders', () => {
  for (const lt of [LinkType.NULL, LinkType.LOOP]) {
    for (const bigEndian of [false, true]) {
      const v4 = decode(lt, build(loopback({ bigEndian }), ipv4({ src: '127.0.0.1', dst: '127.0.0.1' }), udp({ sport: 1, dport: 2 })));
      assert.equal(kinds(v4), [Layer.LOOPBACK, Layer.IPV4, Layer.UDP]);
      for (const family of [10, 24, 28, 30]) {
        const v6 = decode(lt, build(loopback({ bigEndian, family }), ipv6({ src: '::1', dst: '::1' }), udp({ sport: 1, dport: 2 })));
        assert.is(v6.ipVersion, 6, `family ${family} big-endian ${bigEndian}`);
      }
    }
  }
});

test.run();
