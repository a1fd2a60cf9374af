// DNS transactions: queries paired with responses, latency, timeouts, TCP, mDNS, bounds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { DnsEntry, DnsTracker, DnsTrackerOptions, formatDns } from '../../firmware/analysis/builtin/dns';
import { DnsRecord } from '../../firmware/channel/records';
import { build, dnsMessage, dnsOverTcp, eth, ipv4, ipv6, raw, tcp, udp } from '../lib/craft';

const anon = {
  name: (labels: Buffer[] | string) => (typeof labels === 'string' ? labels : labels.map((l) => l.toString('latin1')).join('.')),
  time: (us: number) => us,
};

class Harness {
  readonly out: DnsRecord[] = [];
  readonly entries: DnsEntry[] = [];
  readonly tracker: DnsTracker;
  private readonly v = new PacketView();
  constructor(opts: DnsTrackerOptions = {}) {
    this.tracker = new DnsTracker(opts, (e) => {
      this.entries.push(e);
      this.out.push(formatDns(e, anon));
    });
  }
  feed(tsUs: number, pkt: Buffer): void {
    decodePacket(LinkType.EN10MB, pkt, 0, pkt.length, pkt.length, this.v);
    this.tracker.onPacket(this.v, pkt, tsUs);
  }
}

const CLIENT = '10.0.0.5';
const RESOLVER = '10.0.0.53';
const query = (id: number, name: string, sport = 40000, type = 1) =>
  build(eth(), ipv4({ src: CLIENT, dst: RESOLVER }), udp({ sport, dport: 53 }), raw(dnsMessage({ id, questions: [{ name, type }] })));
const response = (id: number, name: string, rcode = 0, answers = 1, dport = 40000) =>
  build(eth(), ipv4({ src: RESOLVER, dst: CLIENT }), udp({ sport: 53, dport }), raw(dnsMessage({ id, response: true, rcode, questions: [{ name }], answers: Array.from({ length: answers }, () => ({ data: Buffer.alloc(4) })) })));

test('pairs a response with its query and measures latency', () => {
  const h = new Harness();
  h.feed(1_000_000, query(7, 'Example.com', 40000, 28));
  assert.is(h.out.length, 0);
  h.feed(1_012_500, response(7, 'example.com', 0, 2));
  assert.equal(h.out, [{ tsUs: 1_000_000, qname: 'example.com', qtype: 28, rcode: 0, answers: 2, latencyUs: 12_500 }]);
  assert.is(h.tracker.pendingCount, 0);
  assert.is(h.tracker.counters.answered, 1);
});

test('queries with the same id from different client ports are told apart', () => {
  const h = new Harness();
  h.feed(0, query(9, 'a.test', 1111));
  h.feed(10, query(9, 'b.test', 2222));
  h.feed(30, response(9, 'b.test', 0, 1, 2222));
  h.feed(50, response(9, 'a.test', 3, 0, 1111));
  assert.equal(h.out.map((r) => [r.qname, r.latencyUs, r.rcode]), [['b.test', 20, 0], ['a.test', 50, 3]]);
});

test('an unanswered query is emitted at its timeout with null rcode and answers', () => {
  const h = new Harness({ timeoutUs: 5e6 });
  h.feed(0, query(1, 'lost.test'));
  h.tracker.expire(4e6);
  assert.is(h.out.length, 0);
  h.tracker.expire(5e6);
  assert.equal(h.out, [{ tsUs: 0, qname: 'lost.test', qtype: 1, rcode: null, answers: null, latencyUs: null }]);
  assert.is(h.tracker.counters.unanswered, 1);
});

test('timeouts are driven by later packets\' timestamps', () => {
  const h = new Harness({ timeoutUs: 5e6 });
  h.feed(0, query(1, 'lost.test'));
  h.feed(6e6, query(2, 'other.test'));
  assert.is(h.out.length, 1);
  assert.is(h.out[0].qname, 'lost.test');
});

test('a response after the timeout is an unmatched response', () => {
  const h = new Harness({ timeoutUs: 1e6 });
  h.feed(0, query(1, 'slow.test'));
  h.tracker.expire(2e6);
  h.feed(2e6, response(1, 'slow.test'));
  assert.equal(h.out.map((r) => [r.rcode, r.latencyUs]), [[null, null], [0, null]]);
  assert.is(h.tracker.counters.unmatchedResponses, 1);
});

test('a retransmitted query keeps the latency of the first', () => {
  const h = new Harness();
  h.feed(0, query(4, 'retry.test'));
  h.feed(1000, query(4, 'retry.test'));
  h.feed(1500, response(4, 'retry.test'));
  assert.is(h.out.length, 1);
  assert.is(h.out[0].latencyUs, 1500);
  assert.is(h.tracker.counters.duplicateQueries, 1);
});

test('the pending table is bounded: the oldest query is emitted unanswered and counted', () => {
  const h = new Harness({ maxPending: 2 });
  h.feed(0, query(1, 'one.test'));
  h.feed(1, query(2, 'two.test'));
  h.feed(2, query(3, 'three.test'));
  assert.equal(h.out.map((r) => [r.qname, r.rcode]), [['one.test', null]]);
  assert.is(h.tracker.counters.evicted, 1);
  assert.is(h.tracker.pendingCount, 2);
});

test('flushAll emits every pending query', () => {
  const h = new Harness();
  h.feed(0, query(1, 'a.test'));
  h.feed(1, query(2, 'b.test'));
  h.tracker.flushAll(2);
  assert.is(h.out.length, 2);
  assert.is(h.tracker.pendingCount, 0);
});

test('DNS over TCP: the message behind the length prefix', () => {
  const h = new Harness();
  h.feed(0, build(eth(), ipv6({ src: '2001:db8::5', dst: '2001:db8::53' }), tcp({ sport: 50000, dport: 53, flags: 'PA' }), raw(dnsOverTcp(dnsMessage({ id: 77, questions: [{ name: 'big.test', type: 255 }] })))));
  h.feed(300, build(eth(), ipv6({ src: '2001:db8::53', dst: '2001:db8::5' }), tcp({ sport: 53, dport: 50000, flags: 'PA' }), raw(dnsOverTcp(dnsMessage({ id: 77, response: true, questions: [{ name: 'big.test', type: 255 }], answers: [{ data: Buffer.alloc(4) }] })))));
  assert.equal(h.out, [{ tsUs: 0, qname: 'big.test', qtype: 255, rcode: 0, answers: 1, latencyUs: 300 }]);
});

test('TCP segments without payload are ignored', () => {
  const h = new Harness();
  h.feed(0, build(eth(), ipv4({ src: CLIENT, dst: RESOLVER }), tcp({ sport: 50000, dport: 53, flags: 'S' })));
  assert.is(h.tracker.counters.messages, 0);
});

test('mDNS messages are emitted as seen, not paired', () => {
  const h = new Harness();
  h.feed(0, build(eth(), ipv4({ src: '10.0.0.7', dst: '224.0.0.251' }), udp({ sport: 5353, dport: 5353 }), raw(dnsMessage({ id: 0, questions: [{ name: 'printer.local', type: 12 }] }))));
  h.feed(5, build(eth(), ipv4({ src: '10.0.0.8', dst: '224.0.0.251' }), udp({ sport: 5353, dport: 5353 }), raw(dnsMessage({ id: 0, response: true, questions: [{ name: 'printer.local', type: 12 }], answers: [{ data: Buffer.alloc(4) }] }))));
  assert.equal(h.out.map((r) => [r.qname, r.rcode, r.answers]), [['printer.local', null, null], ['printer.local', 0, 1]]);
  assert.is(h.tracker.pendingCount, 0);
  assert.is(h.tracker.counters.mdns, 2);
});

test('traffic on other ports is not DNS', () => {
  const h = new Harness();
  h.feed(0, build(eth(), ipv4({ src: CLIENT, dst: RESOLVER }), udp({ sport: 40000, dport: 5300 }), raw(dnsMessage({ id: 1, questions: [{ name: 'x.test' }] }))));
  assert.is(h.tracker.counters.messages, 0);
});

test('counts a message with a compression loop as refused, and goes on', () => {
  const h = new Harness();
  const loop = Buffer.concat([dnsMessage({ id: 1 }), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  loop.writeUInt16BE(1, 4);
  h.feed(0, build(eth(), ipv4({ src: CLIENT, dst: RESOLVER }), udp({ sport: 40000, dport: 53 }), raw(loop)));
  assert.equal(h.tracker.counters.refused, { badPointer: 1 });
  h.feed(1, query(2, 'fine.test'));
  assert.is(h.tracker.pendingCount, 1);
});

test('counts a message shorter than the DNS header as refused', () => {
  const h = new Harness();
  h.feed(0, build(eth(), ipv4({ src: CLIENT, dst: RESOLVER }), udp({ sport: 40000, dport: 53 }), raw(Buffer.alloc(5))));
  assert.equal(h.tracker.counters.refused, { shortHeader: 1 });
  assert.is(h.out.length, 0);
});

test('the DNS message inside a truncated capture is refused, not read past the end', () => {
  const h = new Harness();
  const pkt = query(3, 'a-rather-long-name.example.test');
  const v = new PacketView();
  decodePacket(LinkType.EN10MB, pkt, 0, pkt.length - 12, pkt.length, v);
  h.tracker.onPacket(v, pkt, 0);
  assert.equal(h.tracker.counters.refused, { truncatedName: 1 });
});

test('refuses a non-positive timeout', () => {
  assert.throws(() => new DnsTracker({ timeoutUs: 0 }, () => {}), /timeoutUs must be a positive/);
});

test.run();
