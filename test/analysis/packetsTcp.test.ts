// Packets output: TCP and UDP headers — ports, per-direction sequence offsets, SACK,
// and the TCP options' actions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build, eth, ipv4, ipv6, raw, tcp, udp } from '../lib/craft';
import { TestRewriter } from '../lib/packets-rewrite';

const A = '10.0.0.1';
const B = '172.16.5.9';
const seqOf = (d: Buffer): number => d.readUInt32BE(38);
const ackOf = (d: Buffer): number => d.readUInt32BE(42);
const opts = (d: Buffer, n: number): number[] => Array.from(d.subarray(54, 54 + n));

test('replaces TCP timestamp options by NOPs', () => {
  const ts = Buffer.from([8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78, 1, 1]);
  const r = new TestRewriter().run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 1, dport: 2, options: ts })));
  assert.equal(opts(r.data, 12), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
});

test('zeroes TCP timestamp values when the policy says zero', () => {
  const ts = Buffer.from([1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78]);
  const r = new TestRewriter({ 'tcp.options.timestamp': 'zero' }).run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 1, dport: 2, options: ts })));
  assert.equal(opts(r.data, 12), [1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test('keeps MSS and window scale, pads unknown options with NOPs', () => {
  const o = Buffer.from([2, 4, 0x05, 0xb4, 3, 3, 7, 30, 4, 0xde, 0xad, 0]); // MSS, wscale 7, kind 30 (MPTCP) len 4
  const r = new TestRewriter().run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 1, dport: 2, flags: 'S', options: o })));
  assert.equal(opts(r.data, 12), [2, 4, 0x05, 0xb4, 3, 3, 7, 1, 1, 1, 1, 0]);
});

test('drops options: takes them out and shortens the header and the IP length', () => {
  const o = Buffer.from([8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 2, 4, 0x05, 0xb4, 1, 0]);
  const pkt = build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 1, dport: 2, flags: 'S', options: o }));
  const t = new TestRewriter({ 'tcp.options.timestamp': 'drop' });
  const r = t.run(pkt);
  assert.equal(opts(r.data, 8), [2, 4, 0x05, 0xb4, 1, 0, 0, 0]);
  assert.is(r.data[46] >> 4, 7, 'data offset: 20 + 8 bytes');
  assert.is(r.data.readUInt16BE(16), 20 + 28);
  assert.is(r.caplen, pkt.length - 8);
  assert.is(r.origLen, pkt.length - 8);
  assert.is(t.rw.counters.optionsRemoved, 1);
});

test('keeps the header length when no option is dropped', () => {
  const o = Buffer.from([2, 4, 0x05, 0xb4, 0, 0, 0, 0]); // MSS, end of list, padding
  const r = new TestRewriter({ 'tcp.options.timestamp': 'drop' }).run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 1, dport: 2, flags: 'S', options: o })));
  assert.is(r.data[46] >> 4, 7);
});

test('pads the rest with NOPs after an option with a bad length', () => {
  const o = Buffer.from([2, 4, 0x05, 0xb4, 30, 40, 1, 2]);
  const r = new TestRewriter().run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 1, dport: 2, options: o })));
  assert.equal(opts(r.data, 8), [2, 4, 0x05, 0xb4, 1, 1, 1, 1]);
});

test('shifts seq and ack consistently in both directions', () => {
  const t = new TestRewriter();
  const syn = t.run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 5000, dport: 80, flags: 'S', seq: 1000, ack: 0 }))).data;
  const synack = t.run(build(eth(), ipv4({ src: B, dst: A }), tcp({ sport: 80, dport: 5000, flags: 'SA', seq: 9000, ack: 1001 }))).data;
  const ack = t.run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 5000, dport: 80, flags: 'A', seq: 1001, ack: 9001 }))).data;
  assert.is.not(seqOf(syn), 1000);
  assert.is.not(seqOf(synack), 9000);
  assert.is(ackOf(syn), 0, 'no ACK flag: the ack field does not reveal an offset');
  assert.is(ackOf(synack), (seqOf(syn) + 1) >>> 0);
  assert.is(seqOf(ack), (seqOf(syn) + 1) >>> 0);
  assert.is(ackOf(ack), (seqOf(synack) + 1) >>> 0);
});

test('uses different offsets for different connections', () => {
  const t = new TestRewriter();
  const a = t.run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 5000, dport: 80, seq: 1000 }))).data;
  const b = t.run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 5001, dport: 80, seq: 1000 }))).data;
  assert.is.not(seqOf(a), seqOf(b));
});

test('shifts IPv6 seq and ack consistently too', () => {
  const t = new TestRewriter();
  const x = t.run(build(eth(), ipv6({ src: '2001:db8::1', dst: '2001:db8::2' }), tcp({ sport: 1, dport: 2, flags: 'A', seq: 50, ack: 70 }))).data;
  const y = t.run(build(eth(), ipv6({ src: '2001:db8::2', dst: '2001:db8::1' }), tcp({ sport: 2, dport: 1, flags: 'A', seq: 70, ack: 50 }))).data;
  assert.is(x.readUInt32BE(58), y.readUInt32BE(62));
  assert.is(y.readUInt32BE(58), x.readUInt32BE(62));
});

test('shifts SACK edges by the acknowledged direction\'s offset', () => {
  const t = new TestRewriter();
  const data = t.run(build(eth(), ipv4({ src: B, dst: A }), tcp({ sport: 80, dport: 5000, seq: 20000 }))).data;
  const sack = Buffer.from([1, 1, 5, 10, 0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x84]); // block 20000..20100
  const r = t.run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 5000, dport: 80, seq: 1, ack: 19000, options: sack }))).data;
  assert.is(r.readUInt32BE(58), seqOf(data));
  assert.is(r.readUInt32BE(62), (seqOf(data) + 100) >>> 0);
  assert.is(ackOf(r), (seqOf(data) - 1000) >>> 0);
});

test('zeroes seq and ack when the policy says zero', () => {
  const r = new TestRewriter({ 'tcp.seq': 'zero', 'tcp.ack': 'zero' }).run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 1, dport: 2, seq: 5, ack: 6 })));
  assert.is(seqOf(r.data), 0);
  assert.is(ackOf(r.data), 0);
});

test('buckets ports and windows when asked', () => {
  const edges = [0, 1024, 49152, 65535];
  const r = new TestRewriter({ 'tcp.sport': { action: 'bucket', edges }, 'tcp.window': { action: 'bucket', edges } }).run(build(eth(), ipv4({ src: A, dst: B }), tcp({ sport: 50123, dport: 443, window: 2000 })));
  assert.is(r.data.readUInt16BE(34), 49152);
  assert.is(r.data.readUInt16BE(36), 443);
  assert.is(r.data.readUInt16BE(48), 1024);
});

test('zeroes UDP ports when asked, keeps the UDP length', () => {
  const r = new TestRewriter({ 'udp.sport': 'zero', 'udp.dport': 'zero' }).run(build(eth(), ipv4({ src: A, dst: B }), udp({ sport: 53, dport: 4444 }), raw('xxxx')));
  assert.is(r.data.readUInt32BE(34), 0);
  assert.is(r.data.readUInt16BE(38), 12);
});

test.run();
