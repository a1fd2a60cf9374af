// Malformed and truncated packets: never an exception, always a counted reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeCounterNames, DecodeCounter, decodePacket, Layer, LinkType, MAX_LAYERS, PacketView, TRUNCATED_BASE } from '../../firmware/decode';
import { build, eth, gre, icmp, icmpv6, ipv4, ipv6, raw, tcp, udp, vlan, arp, erspan2, mpls, pppoe } from '../lib/craft';

function decode(linkType: number, pkt: Buffer): PacketView {
  const v = new PacketView();
  decodePacket(linkType, pkt, 0, pkt.length, pkt.length, v);
  return v;
}

const samples: [string, Buffer][] = [
  ['tcp', build(eth(), vlan({ vid: 1 }), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', options: Buffer.from([1, 1, 1, 1]) }), tcp({ sport: 1, dport: 2, options: Buffer.from([2, 4, 5, 0xb4]) }), raw('data'))],
  ['ipv6 ext', build(eth(), ipv6({ src: '::1', dst: '::2', ext: [{ type: 'hop' }, { type: 'frag', more: true }, { type: 'ah' }] }), udp({ sport: 1, dport: 2 }), raw('x'))],
  ['icmp error', build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), icmp({ type: 3 }), ipv4({ src: '2.2.2.2', dst: '3.3.3.3' }), tcp({ sport: 1, dport: 2 }))],
  ['icmpv6 nd', build(eth(), ipv6({ src: '::1', dst: '::2' }), icmpv6({ type: 136, body: Buffer.alloc(28) }))],
  ['gre erspan', build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), gre({ seq: 1 }), erspan2({ session: 1 }), eth(), ipv6({ src: '::1', dst: '::2' }), udp({ sport: 1, dport: 2 }))],
  ['arp', build(eth(), arp({ op: 2, sha: '02:00:00:00:00:01', spa: '1.1.1.1', tha: '02:00:00:00:00:02', tpa: '1.1.1.2' }))],
  ['mpls pppoe', build(eth(), mpls({ label: 3 }), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), gre(), eth(), pppoe({ session: 2 }), ipv4({ src: '3.3.3.3', dst: '4.4.4.4' }), icmp({ type: 8 }))],
];

test('truncation at every byte of every sample never throws and stays inside the capture', () => {
  const v = new PacketView();
  for (const [name, pkt] of samples) {
    for (let cut = 0; cut <= pkt.length; cut++) {
      decodePacket(LinkType.EN10MB, pkt, 0, cut, pkt.length, v);
      assert.ok(v.lastParsedEnd <= cut, `${name} cut at ${cut}: lastParsedEnd ${v.lastParsedEnd}`);
      assert.ok(v.depth <= MAX_LAYERS);
      if (cut < pkt.length && v.problem === 0) {
        // A cut inside a header must be reported; a cut inside payload need not be, nor
        // an ICMP error quote that holds nothing or at least the ports.
        const inPayload = v.payloadOff >= 0 && v.payloadOff <= cut;
        const afterArp = v.kind[v.depth - 1] === Layer.ARP;
        assert.ok(inPayload || afterArp || v.quotedOff === cut || v.quotedSrcPort >= 0, `${name} cut at ${cut} not reported`);
      }
    }
  }
});

test('a cut inside the IPv4 header counts truncated.ipv4', () => {
  const pkt = samples[0][1];
  const v = new PacketView();
  decodePacket(LinkType.EN10MB, pkt, 0, 14 + 4 + 10, pkt.length, v);
  assert.is(decodeCounterNames[v.problem], 'truncated.ipv4');
  assert.is(v.counters[DecodeCounter.truncated], 1);
  assert.is(v.lastParsedEnd, 18);
});

test('a TCP header cut inside its options keeps ports and flags but is not a parsed layer', () => {
  const pkt = samples[0][1];
  const tcpOff = 14 + 4 + 24;
  const v = new PacketView();
  decodePacket(LinkType.EN10MB, pkt, 0, tcpOff + 22, pkt.length, v);
  assert.is(v.problem, TRUNCATED_BASE + Layer.TCP);
  assert.is(v.srcPort, 1);
  assert.is(v.dstPort, 2);
  assert.is(v.l4Layer, -1);
  assert.is(v.lastParsedEnd, tcpOff);
});

test('caplen beyond the buffer and a negative offset are clamped', () => {
  const pkt = samples[0][1];
  const v = new PacketView();
  decodePacket(LinkType.EN10MB, pkt, 0, pkt.length + 1000, pkt.length, v);
  assert.is(v.end, pkt.length);
  assert.is(v.problem, 0);
  decodePacket(LinkType.EN10MB, pkt, -5, 20, 20, v);
  assert.is(v.depth, 0);
  decodePacket(LinkType.EN10MB, pkt, pkt.length + 5, 20, 20, v);
  assert.is(v.depth, 0);
});

test('counts an unknown link type', () => {
  const v = decode(147, Buffer.alloc(60));
  assert.is(v.problem, DecodeCounter.unknownLinkType);
  assert.is(v.depth, 0);
});

test('counts an unknown ethertype', () => {
  const v = decode(LinkType.EN10MB, build(eth({ type: 0x88cc }), raw(Buffer.alloc(30))));
  assert.is(v.problem, DecodeCounter.unknownEthertype);
  assert.is(v.lastParsedEnd, 14);
});

test('counts an 802.3 LLC frame separately from unknown ethertypes', () => {
  const v = decode(LinkType.EN10MB, build(eth({ type: 38 }), raw(Buffer.alloc(38))));
  assert.is(v.problem, DecodeCounter.llcFrame);
});

test('counts an unknown IP protocol and stops after the IP header', () => {
  const v = decode(LinkType.EN10MB, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 89 }), raw(Buffer.alloc(20))));
  assert.is(v.problem, DecodeCounter.unknownIpProtocol);
  assert.is(v.lastParsedEnd, 34);
  assert.is(v.ipProto, 89);
});

test('refuses IPv6 extension header numbers after IPv4', () => {
  const v = decode(LinkType.EN10MB, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 44 }), raw(Buffer.alloc(20))));
  assert.is(v.problem, DecodeCounter.unknownIpProtocol);
});

test('counts an IPv4 header length below 20 bytes', () => {
  const v = decode(LinkType.EN10MB, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', ihl: 3 }), udp({ sport: 1, dport: 2 })));
  assert.is(v.problem, DecodeCounter.badIpv4HeaderLength);
  assert.is(v.ipOff, -1);
});

test('counts an IPv4 total length shorter than its header', () => {
  const v = decode(LinkType.EN10MB, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', totalLength: 12 }), udp({ sport: 1, dport: 2 })));
  assert.is(v.problem, DecodeCounter.badIpv4TotalLength);
});

test('IPv4 total length 0 (segmentation offload) uses the captured length', () => {
  const v = decode(LinkType.EN10MB, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', totalLength: 0 }), udp({ sport: 1, dport: 2 }), raw('abc')));
  assert.is(v.problem, 0);
  assert.is(v.ipTotalLen, 0);
  assert.is(v.payloadLen, 3);
});

test('counts a wrong IP version behind an IPv4 ethertype', () => {
  const v = decode(LinkType.EN10MB, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', version: 6 })));
  assert.is(v.problem, DecodeCounter.badIpVersion);
});

test('counts a TCP data offset below 5 words', () => {
  const v = decode(LinkType.EN10MB, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), tcp({ sport: 1, dport: 2, dataOffset: 2 })));
  assert.is(v.problem, DecodeCounter.badTcpHeaderLength);
});

test('counts GRE with source routing as an unsupported tunnel', () => {
  const v = decode(LinkType.EN10MB, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), gre({ flags: 0x4000 }), ipv4({ src: '3.3.3.3', dst: '4.4.4.4' })));
  assert.is(v.problem, DecodeCounter.unsupportedTunnel);
});

test('counts a VXLAN header without the I flag as an unsupported tunnel, keeping the UDP ports', () => {
  const v = decode(LinkType.EN10MB, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), udp({ sport: 5, dport: 4789 }), raw(Buffer.alloc(30))));
  assert.is(v.problem, DecodeCounter.unsupportedTunnel);
  assert.is(v.srcPort, 5);
  assert.is(v.lastParsedEnd, 14 + 20 + 8);
});

test('counts an IPv6 extension header longer than the packet', () => {
  const pkt = build(eth(), ipv6({ src: '::1', dst: '::2', ext: [{ type: 'dst', len: 200 }] }));
  const v = decode(LinkType.EN10MB, pkt.subarray(0, 14 + 40 + 64));
  assert.is(decodeCounterNames[v.problem], 'truncated.ipv6-dstopts');
});

test('counts tunnels nested deeper than the layer stack', () => {
  const layers = [eth()];
  for (let i = 0; i < 20; i++) layers.push(ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }));
  const v = decode(LinkType.EN10MB, build(...layers, udp({ sport: 1, dport: 2 })));
  assert.is(v.depth, MAX_LAYERS);
  assert.is(v.problem, DecodeCounter.tooManyLayers);
});

test('an ICMP error inside a quote is not decoded again', () => {
  const pkt = build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), icmp({ type: 3 }), ipv4({ src: '2.2.2.2', dst: '1.1.1.1' }), icmp({ type: 11 }), ipv4({ src: '5.5.5.5', dst: '6.6.6.6' }), udp({ sport: 1, dport: 2 }));
  const v = decode(LinkType.EN10MB, pkt);
  assert.is(v.depth, 5);
  assert.is(v.quotedSrcPort, -1);
});

test('counters accumulate across packets decoded with one view', () => {
  const v = new PacketView();
  const bad = build(eth({ type: 0x1234 }));
  for (let i = 0; i < 3; i++) decodePacket(LinkType.EN10MB, bad, 0, bad.length, bad.length, v);
  assert.is(v.counters[DecodeCounter.unknownEthertype], 3);
  assert.is(v.counters[DecodeCounter.packets], 3);
});

test.run();
