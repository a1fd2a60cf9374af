// Packets output: each header field gets its policy action (link layer, IP, ARP, ND,
// tunnels), the payload is dropped, lengths and the record header are right.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LinkType } from '../../firmware/decode';
import { arp, build, eth, gre, icmpv6, ip4, ip6, ipv4, ipv6, mac, mpls, pppoe, raw, sll, tcp, udp, vlan } from '../lib/craft';
import { TestRewriter, testPrimitives } from '../lib/packets-rewrite';
import { MAX_OUTPUT_BYTES } from '../../firmware/analysis/builtin/packets/rewriter';

const prim = testPrimitives();
const anon4 = (s: string): Buffer => { const b = ip4(s); prim.pan.anonymizeV4Into(b, 0); return b; };
const anon6 = (s: string): Buffer => { const b = ip6(s); prim.pan.anonymizeV6Into(b, 0); return b; };
const anonMac = (s: string): Buffer => { const b = mac(s); prim.mac.anonymizeMacInto(b, 0); return b; };
const at = (b: Buffer, off: number, len: number): Buffer => b.subarray(off, off + len);

const basic = (): Buffer => build(eth({ src: '00:11:22:33:44:55', dst: '66:77:88:99:aa:bb' }), ipv4({ src: '10.1.2.3', dst: '192.0.2.7', ttl: 57, id: 0x4242, tos: 0x28 }), tcp({ sport: 40000, dport: 443, flags: 'PA' }), raw('secret payload'));

test('permutes Ethernet MACs with the keyed MAC permutation', () => {
  const r = new TestRewriter().run(basic());
  assert.equal(at(r.data, 0, 6), anonMac('66:77:88:99:aa:bb'));
  assert.equal(at(r.data, 6, 6), anonMac('00:11:22:33:44:55'));
  assert.not.equal(at(r.data, 6, 6), mac('00:11:22:33:44:55'));
});

test('zeroes MACs when the policy says zero', () => {
  const r = new TestRewriter({ 'eth.src': 'zero', 'eth.dst': 'zero' }).run(basic());
  assert.equal(at(r.data, 0, 12), Buffer.alloc(12));
});

test('anonymizes IPv4 addresses with Crypto-PAn', () => {
  const r = new TestRewriter().run(basic());
  assert.equal(at(r.data, 26, 4), anon4('10.1.2.3'));
  assert.equal(at(r.data, 30, 4), anon4('192.0.2.7'));
});

test('truncates IPv4 addresses to the policy prefix after anonymizing them', () => {
  const r = new TestRewriter({ 'ip4.src': { action: 'truncate', prefixLen: 16 } }).run(basic());
  const want = anon4('10.1.2.3');
  want[2] = 0; want[3] = 0;
  assert.equal(at(r.data, 26, 4), want);
});

test('zeroes the IPv4 id, buckets the TTL and keeps the TOS by default', () => {
  const r = new TestRewriter().run(basic());
  assert.is(r.data.readUInt16BE(18), 0);
  assert.is(r.data[22], 32);
  assert.is(r.data[15], 0x28);
});

test('hashes the IPv4 id and zeroes TOS when asked', () => {
  const r = new TestRewriter({ 'ip4.id': 'hash', 'ip4.tos': 'zero' }).run(basic());
  assert.is(r.data.readUInt16BE(18), prim.hash.hashNumber(0x4242, 16));
  assert.is(r.data[15], 0);
});

test('drops payload and keeps the wire length in the record and IP header', () => {
  const pkt = basic();
  const r = new TestRewriter().run(pkt);
  assert.is(r.caplen, 14 + 20 + 20);
  assert.is(r.data.length, 54);
  assert.is(r.origLen, pkt.length);
  assert.is(r.data.readUInt16BE(16), pkt.length - 14);
  assert.is(r.data.indexOf('secret'), -1);
});

test('zeroes payload in place when the policy says payload zero', () => {
  const pkt = basic();
  const r = new TestRewriter({ payload: 'zero' }).run(pkt);
  assert.is(r.caplen, pkt.length);
  assert.equal(r.data.subarray(54), Buffer.alloc(pkt.length - 54));
});

test('cuts what the decoder did not understand after the last parsed header, and counts it', () => {
  const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 132 }), raw('SCTP-ish bytes'));
  const t = new TestRewriter();
  const r = t.run(pkt);
  assert.is(r.caplen, 34);
  assert.is(t.rw.counters.undecodedTail, 1);
});

test('cuts a packet longer than the output buffer there, and counts it', () => {
  const pkt = Buffer.concat([build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 253, totalLength: 0 })), Buffer.alloc(300000, 0x41)]);
  const t = new TestRewriter({ payload: 'zero' });
  const r = t.run(pkt);
  assert.is(r.caplen, MAX_OUTPUT_BYTES);
  assert.is(r.origLen, pkt.length);
  assert.is(t.rw.counters.oversize, 1);
  assert.is(r.data.indexOf(0x41), -1);
});

test('drops Ethernet padding after the IP datagram', () => {
  const pkt = Buffer.concat([build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 1, dport: 2 })), Buffer.from('PADDINGPADDINGPADDING')]);
  const r = new TestRewriter({ payload: 'zero' }).run(pkt);
  assert.equal(r.data.subarray(42), Buffer.alloc(pkt.length - 42));
});

test('coarsens and shifts time, never below the epoch', () => {
  const ts = 1_700_000_123_456_789;
  const r = new TestRewriter().run(basic(), { tsUs: ts });
  const want = Math.floor((ts + prim.timeShiftUs) / 1000) * 1000;
  assert.is(r.tsSec * 1e6 + r.tsUsec, want);
  const t = new TestRewriter();
  const early = t.run(basic(), { tsUs: 5_000_000 });
  assert.is(early.tsSec, 0);
  assert.is(early.tsUsec, 0);
  assert.is(t.rw.counters.timeClamped, 1);
});

test('keeps time exactly when the policy keeps it', () => {
  const r = new TestRewriter({ time: 'keep' }).run(basic(), { tsUs: 1_700_000_123_456_789 });
  assert.is(r.tsSec, 1_700_000_123);
  assert.is(r.tsUsec, 456_789);
});

test('hashes VLAN ids to a usable id and keeps the priority', () => {
  const pkt = build(eth(), vlan({ vid: 100, pcp: 5 }), vlan({ vid: 0, pcp: 3 }), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 1, dport: 2 }));
  const r = new TestRewriter().run(pkt);
  const tci = r.data.readUInt16BE(14);
  assert.is(tci >>> 13, 5);
  assert.is(tci & 0xfff, 1 + (prim.hash.hashNumber(100, 32) % 4094));
  assert.is(r.data.readUInt16BE(18), 3 << 13, 'priority tag (VLAN 0) stays VLAN 0');
});

test('hashes MPLS labels above the reserved range', () => {
  const pkt = build(eth(), mpls({ label: 1000 }), mpls({ label: 3 }), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 1, dport: 2 }));
  const r = new TestRewriter().run(pkt);
  const l1 = r.data.readUInt32BE(14) >>> 12;
  assert.is(l1, 16 + (prim.hash.hashNumber(1000, 32) % ((1 << 20) - 16)));
  assert.is(r.data.readUInt32BE(18) >>> 12, 3);
});

test('hashes the PPPoE session id', () => {
  const pkt = build(eth(), pppoe({ session: 0x1234 }), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 1, dport: 2 }));
  const r = new TestRewriter().run(pkt);
  assert.is(r.data.readUInt16BE(16), prim.hash.hashNumber(0x1234, 16));
});

test('permutes the Linux cooked header address', () => {
  const pkt = build(sll(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 1, dport: 2 }));
  const r = new TestRewriter().run(pkt, { linkType: LinkType.LINUX_SLL });
  assert.equal(at(r.data, 6, 6), anonMac('02:00:00:00:00:01'));
});

test('ARP addresses anonymized', () => {
  const pkt = build(eth(), arp({ op: 1, sha: '00:11:22:33:44:55', spa: '10.9.8.7', tha: '00:00:00:00:00:00', tpa: '10.9.8.1' }));
  const r = new TestRewriter().run(pkt);
  assert.equal(at(r.data, 22, 6), anonMac('00:11:22:33:44:55'));
  assert.equal(at(r.data, 28, 4), anon4('10.9.8.7'));
  assert.equal(at(r.data, 38, 4), anon4('10.9.8.1'));
});

test('replaces IPv4 options by NOPs and keeps end-of-list', () => {
  const rr = Buffer.from([7, 11, 4, 10, 0, 0, 9, 10, 0, 0, 8, 0]); // record route with two addresses, EOL
  const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2', options: rr }), udp({ sport: 1, dport: 2 }));
  const r = new TestRewriter().run(pkt);
  assert.equal(at(r.data, 34, 12), Buffer.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]));
});

test('drops IPv4 options: removes them and fixes IHL and total length', () => {
  const rr = Buffer.from([7, 7, 4, 10, 0, 0, 9, 0]);
  const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2', options: rr }), udp({ sport: 1234, dport: 53 }), raw('abcd'));
  const t = new TestRewriter({ 'ip4.options': 'drop' });
  const r = t.run(pkt);
  assert.is(r.data[14], 0x45);
  assert.is(r.data.readUInt16BE(16), 20 + 8 + 4);
  assert.is(r.data.readUInt16BE(34), 1234, 'UDP follows the shortened header');
  assert.is(r.origLen, pkt.length - 8);
  assert.is(t.rw.counters.optionsRemoved, 1);
});

test('dropping a tunnelled header\'s options shortens the outer header\'s length too', () => {
  const pkt = build(eth(), ipv4({ src: '198.51.100.1', dst: '198.51.100.2' }), ipv4({ src: '10.0.0.1', dst: '10.0.0.2', options: Buffer.from([148, 4, 0, 0]) }), udp({ sport: 1, dport: 2 }), raw('abcd'));
  const r = new TestRewriter({ 'ip4.options': 'drop' }).run(pkt);
  assert.is(r.data.readUInt16BE(16), 20 + 20 + 8 + 4);
  assert.is(r.data.readUInt16BE(36), 20 + 8 + 4);
  assert.is(r.origLen, pkt.length - 4);
});

test('keeps IPv4 options but anonymizes the addresses they record', () => {
  const rr = Buffer.from([7, 7, 4, 10, 0, 0, 9, 0]);
  const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2', options: rr }), udp({ sport: 1, dport: 2 }));
  const r = new TestRewriter({ 'ip4.options': 'keep' }).run(pkt);
  assert.equal(at(r.data, 34, 3), Buffer.from([7, 7, 4]));
  assert.equal(at(r.data, 37, 4), anon4('10.0.0.9'));
});

test('anonymizes IPv6 addresses, zeroes the flow label and buckets the hop limit', () => {
  const pkt = build(eth(), ipv6({ src: '2001:db8::1', dst: '2001:db8:1::2', hopLimit: 64 }), udp({ sport: 1, dport: 2 }));
  pkt.writeUInt32BE((6 << 28) | (0x2e << 20) | 0x12345, 14);
  const r = new TestRewriter().run(pkt);
  assert.equal(at(r.data, 22, 16), anon6('2001:db8::1'));
  assert.equal(at(r.data, 38, 16), anon6('2001:db8:1::2'));
  assert.is(r.data.readUInt32BE(14), ((6 << 28) | (0x2e << 20)) >>> 0);
  assert.is(r.data[21], 64);
});

test('pads IPv6 hop-by-hop options by default', () => {
  const pkt = build(eth(), ipv6({ src: '2001:db8::1', dst: '2001:db8::2', ext: [{ type: 'hop' }] }), udp({ sport: 1, dport: 2 }));
  pkt[54 + 2] = 5; pkt[54 + 3] = 2; pkt[54 + 4] = 0; pkt[54 + 5] = 0; pkt[54 + 6] = 1; pkt[54 + 7] = 0; // router alert, PadN
  const r = new TestRewriter().run(pkt);
  assert.equal(at(r.data, 56, 6), Buffer.from([1, 2, 0, 0, 1, 0]));
});

test('anonymizes the addresses of an IPv6 routing header', () => {
  const pkt = build(eth(), ipv6({ src: '2001:db8::1', dst: '2001:db8::2', ext: [{ type: 'routing', len: 2 }] }), udp({ sport: 1, dport: 2 }));
  const seg = ip6('2001:db8:5::5');
  pkt[56] = 0; // type 0 source route, 0 segments left
  seg.copy(pkt, 62);
  const r = new TestRewriter().run(pkt);
  assert.equal(at(r.data, 62, 16), anon6('2001:db8:5::5'));
});

test('ND target anonymized', () => {
  const body = Buffer.alloc(20);
  ip6('2001:db8::99').copy(body, 4);
  const pkt = build(eth(), ipv6({ src: '2001:db8::1', dst: 'ff02::1:ff00:99' }), icmpv6({ type: 135, body: Buffer.concat([body, Buffer.from([1, 1, 0, 0x11, 0x22, 0x33, 0x44, 0x55])]) }));
  const r = new TestRewriter().run(pkt);
  assert.equal(at(r.data, 62, 16), anon6('2001:db8::99'));
  assert.equal(at(r.data, 80, 6), anonMac('00:11:22:33:44:55'), 'source link-layer address option');
  assert.is(r.caplen, pkt.length, 'ND options are kept as headers');
});

test('rewrites both headers of an IP-in-IP tunnel', () => {
  const pkt = build(eth(), ipv4({ src: '198.51.100.1', dst: '198.51.100.2' }), ipv4({ src: '10.7.0.1', dst: '10.7.0.2', ttl: 200 }), tcp({ sport: 1, dport: 2 }));
  const r = new TestRewriter().run(pkt);
  assert.equal(at(r.data, 26, 4), anon4('198.51.100.1'));
  assert.equal(at(r.data, 30, 4), anon4('198.51.100.2'));
  assert.equal(at(r.data, 46, 4), anon4('10.7.0.1'));
  assert.equal(at(r.data, 50, 4), anon4('10.7.0.2'));
  assert.is(r.data[42], 128);
});

test('rewrites IPv6 in IPv4 and the GRE key of a GRE tunnel', () => {
  const pkt = build(eth(), ipv4({ src: '198.51.100.1', dst: '198.51.100.2' }), gre({ key: 77, checksum: true }), ipv6({ src: '2001:db8::1', dst: '2001:db8::2' }), udp({ sport: 1, dport: 2 }));
  const r = new TestRewriter().run(pkt);
  assert.is(r.data.readUInt32BE(42), prim.hash.hashNumber(77, 32));
  assert.equal(at(r.data, 54, 16), anon6('2001:db8::1'));
  assert.equal(at(r.data, 70, 16), anon6('2001:db8::2'));
});

test.run();
