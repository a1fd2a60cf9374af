// Packets output: ICMP and ICMPv6 — the packet quoted by an error is rewritten like
// the packet it quotes, or zeroed or dropped as icmp.quoted says.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build, eth, icmp, icmpv6, ip4, ip6, ipv4, ipv6, raw, tcp, udp } from '../lib/craft';
import { TestRewriter, internetChecksum, testPrimitives } from '../lib/packets-rewrite';

const prim = testPrimitives();
const anon4 = (s: string): Buffer => { const b = ip4(s); prim.pan.anonymizeV4Into(b, 0); return b; };
const anon6 = (s: string): Buffer => { const b = ip6(s); prim.pan.anonymizeV6Into(b, 0); return b; };
const at = (b: Buffer, off: number, len: number): Buffer => b.subarray(off, off + len);

/** Router 203.0.113.1 tells 10.0.0.1 its TCP packet to 192.0.2.80 could not be delivered. */
function unreachable(): Buffer {
  const original = build(ipv4({ src: '10.0.0.1', dst: '192.0.2.80' }), tcp({ sport: 5000, dport: 80, seq: 1000 }));
  return build(eth(), ipv4({ src: '203.0.113.1', dst: '10.0.0.1' }), icmp({ type: 3, code: 1 }), raw(original.subarray(0, 28)));
}

test('anonymizes addresses inside an ICMP error\'s quoted packet', () => {
  const r = new TestRewriter().run(unreachable());
  assert.equal(at(r.data, 26, 4), anon4('203.0.113.1'));
  assert.equal(at(r.data, 42 + 12, 4), anon4('10.0.0.1'));
  assert.equal(at(r.data, 42 + 16, 4), anon4('192.0.2.80'));
  assert.is(r.caplen, 14 + 20 + 8 + 28);
});

test('rewrites the quoted TCP sequence number like the connection\'s own packets', () => {
  const t = new TestRewriter();
  const own = t.run(build(eth(), ipv4({ src: '10.0.0.1', dst: '192.0.2.80' }), tcp({ sport: 5000, dport: 80, seq: 1000 }))).data;
  const err = t.run(unreachable()).data;
  assert.is(err.readUInt16BE(62), 5000);
  assert.is(err.readUInt32BE(66), own.readUInt32BE(38));
});

test('zeroes the whole quoted packet when icmp.quoted is zero', () => {
  const r = new TestRewriter({ 'icmp.quoted': 'zero' }).run(unreachable());
  assert.is(r.caplen, 14 + 20 + 8 + 28);
  assert.equal(r.data.subarray(42), Buffer.alloc(28));
  assert.is(internetChecksum(r.data.subarray(34)), 0, 'ICMP checksum still valid over the zeroed quote');
  assert.equal(at(r.data, 26, 4), anon4('203.0.113.1'));
});

test('drops the quoted packet when icmp.quoted is drop, and counts it', () => {
  const t = new TestRewriter({ 'icmp.quoted': 'drop' });
  const r = t.run(unreachable());
  assert.is(r.caplen, 42);
  assert.is(t.rw.counters.quotesDropped, 1);
});

test('anonymizes the quoted UDP packet of an ICMPv6 error', () => {
  const original = build(ipv6({ src: '2001:db8::1', dst: '2001:db8:9::53' }), udp({ sport: 4000, dport: 53 }), raw('query'));
  const pkt = build(eth(), ipv6({ src: '2001:db8:ff::1', dst: '2001:db8::1' }), icmpv6({ type: 1, code: 4 }), raw(original));
  const r = new TestRewriter().run(pkt);
  assert.equal(at(r.data, 62 + 8, 16), anon6('2001:db8::1'));
  assert.equal(at(r.data, 62 + 24, 16), anon6('2001:db8:9::53'));
  assert.is(r.data.readUInt16BE(62 + 40 + 2), 53);
  assert.is(r.data.indexOf('query'), -1);
});

test('keeps the echo identifier by default and hashes it when asked', () => {
  const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), icmp({ type: 8, id: 0x3344, seq: 7 }), raw('ping'));
  assert.is(new TestRewriter().run(pkt).data.readUInt16BE(38), 0x3344);
  assert.is(new TestRewriter({ 'icmp.id': 'hash' }).run(pkt).data.readUInt16BE(38), prim.hash.hashNumber(0x3344, 16));
});

test('anonymizes the gateway of an ICMP redirect', () => {
  const original = build(ipv4({ src: '10.0.0.1', dst: '192.0.2.80' }), udp({ sport: 1, dport: 2 }));
  const pkt = build(eth(), ipv4({ src: '10.0.0.254', dst: '10.0.0.1' }), icmp({ type: 5, id: 0x0a00, seq: 0x00fe }), raw(original));
  const r = new TestRewriter().run(pkt);
  assert.equal(at(r.data, 38, 4), anon4('10.0.0.254'));
});

test.run();
