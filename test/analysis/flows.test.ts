// The flow table: bidirectional accounting, timeouts in packet time, TCP end, eviction.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build, eth, icmp, icmpv6, ipv4, ipv6, raw, tcp, udp, arp } from '../lib/craft';
import { FlowHarness } from '../lib/flowHarness';

const C = '10.0.0.1';
const S = '192.0.2.80';
const s2c = (flags: string, data = '') => build(eth(), ipv4({ src: S, dst: C }), tcp({ sport: 80, dport: 40000, flags }), raw(data));
const c2s = (flags: string, data = '') => build(eth(), ipv4({ src: C, dst: S }), tcp({ sport: 40000, dport: 80, flags }), raw(data));
const dgram = (src: string, dst: string, sport: number, dport: number) => build(eth(), ipv4({ src, dst }), udp({ sport, dport }), raw('x'));

test('a complete TCP session is one flow with per-direction packets, bytes and flags', () => {
  const h = new FlowHarness();
  const session: [number, Buffer][] = [
    [1_000_000, c2s('S')],
    [1_000_100, s2c('SA')],
    [1_000_200, c2s('A')],
    [1_000_300, c2s('PA', 'GET / HTTP/1.0\r\n\r\n')],
    [1_000_900, s2c('PA', 'HTTP/1.0 200 OK\r\n\r\nhello')],
    [1_001_000, c2s('FA')],
    [1_001_100, s2c('FA')],
    [1_001_200, c2s('A')],
  ];
  for (const [ts, p] of session) h.feed(ts, p);
  assert.is(h.out.length, 0, 'the last ACK must still count: the flow lingers after the FINs');
  h.table.expire(1_001_100 + 1_000_000);
  assert.is(h.out.length, 1);
  const f = h.out[0];
  assert.is(f.srcAddr, C);
  assert.is(f.dstAddr, S);
  assert.is(f.srcPort, 40000);
  assert.is(f.dstPort, 80);
  assert.is(f.protocol, 6);
  assert.is(f.ipVersion, 4);
  assert.is(f.packets, 5);
  assert.is(f.revPackets, 3);
  assert.is(f.bytes, 4 * 40 + 40 + 18);
  assert.is(f.revBytes, 2 * 40 + 40 + 24);
  assert.is(f.tcpFlags, 0x02 | 0x10 | 0x08 | 0x01);
  assert.is(f.revTcpFlags, 0x12 | 0x08 | 0x01);
  assert.is(f.firstUs, 1_000_000);
  assert.is(f.lastUs, 1_001_200);
  assert.is(f.endReason, 'end');
  assert.is(h.table.size, 0);
});

test('side "a" is the sender of the first packet seen, even a server', () => {
  const h = new FlowHarness();
  h.feed(10, s2c('SA'));
  h.feed(20, c2s('A'));
  h.table.flushAll(30);
  assert.is(h.out.length, 1);
  assert.is(h.out[0].srcAddr, S);
  assert.is(h.out[0].srcPort, 80);
  assert.is(h.out[0].packets, 1);
  assert.is(h.out[0].revPackets, 1);
  assert.is(h.out[0].endReason, 'runEnd');
});

test('an RST ends the flow', () => {
  const h = new FlowHarness({ endLingerUs: 500 });
  h.feed(0, c2s('S'));
  h.feed(100, s2c('RA'));
  h.feed(10_000, dgram('1.1.1.1', '2.2.2.2', 1, 2)); // time moves on: sweep runs
  h.table.expire(10_000);
  assert.is(h.out.length, 1);
  assert.is(h.out[0].endReason, 'end');
  assert.is(h.out[0].revTcpFlags, 0x14);
});

test('FIN in one direction only does not end the flow', () => {
  const h = new FlowHarness({ idleTimeoutUs: 60e6 });
  h.feed(0, c2s('FA'));
  h.table.expire(30e6);
  assert.is(h.out.length, 0);
  h.table.expire(61e6);
  assert.is(h.out[0].endReason, 'idle');
});

test('a SYN reusing the ports of a finished connection starts a new flow', () => {
  const h = new FlowHarness({ endLingerUs: 5e6 });
  h.feed(0, c2s('FA'));
  h.feed(10, s2c('FA'));
  h.feed(20, c2s('S'));
  assert.is(h.out.length, 1);
  assert.is(h.out[0].endReason, 'end');
  assert.is(h.table.size, 1);
});

test('idle timeout: a packet after the idle time starts a new flow', () => {
  const h = new FlowHarness({ idleTimeoutUs: 60e6 });
  h.feed(0, dgram(C, S, 5000, 53));
  h.feed(59e6, dgram(S, C, 53, 5000));
  assert.is(h.out.length, 0);
  h.feed(59e6 + 60e6 + 1, dgram(C, S, 5000, 53));
  assert.is(h.out.length, 1);
  assert.is(h.out[0].endReason, 'idle');
  assert.is(h.out[0].packets + h.out[0].revPackets, 2);
  h.table.flushAll(150e6);
  assert.is(h.out.length, 2);
  assert.is(h.out[1].endReason, 'runEnd');
});

test('idle timeout: expire() ends flows driven by other packets\' time, not the wall clock', () => {
  const h = new FlowHarness({ idleTimeoutUs: 10e6 });
  h.feed(1e6, dgram('10.1.0.1', '10.1.0.2', 1, 2));
  h.feed(5e6, dgram('10.2.0.1', '10.2.0.2', 1, 2));
  h.feed(12e6, dgram('10.3.0.1', '10.3.0.2', 1, 2));
  assert.is(h.out.length, 1);
  assert.is(h.out[0].srcAddr, '10.1.0.1');
  h.feed(15.5e6, dgram('10.3.0.1', '10.3.0.2', 1, 2));
  assert.is(h.out.length, 2);
  assert.is(h.out[1].srcAddr, '10.2.0.1');
});

test('active timeout splits a long flow', () => {
  const h = new FlowHarness({ idleTimeoutUs: 60e6, activeTimeoutUs: 300e6 });
  for (let t = 0; t <= 400e6; t += 10e6) h.feed(t, dgram(C, S, 7000, 7001));
  assert.is(h.out.length, 1);
  assert.is(h.out[0].endReason, 'active');
  assert.is(h.out[0].packets, 30);
  assert.is(h.out[0].firstUs, 0);
  assert.is(h.out[0].lastUs, 290e6);
  h.table.flushAll(401e6);
  assert.is(h.out[1].packets, 11);
});

test('eviction when full is counted and takes the least recently seen flow', () => {
  const h = new FlowHarness({ maxFlows: 4 });
  for (let i = 1; i <= 4; i++) h.feed(i, dgram(`10.0.0.${i}`, '10.9.9.9', 1000, 53));
  h.feed(5, dgram('10.0.0.1', '10.9.9.9', 1000, 53)); // 10.0.0.1 becomes most recent
  h.feed(6, dgram('10.0.0.5', '10.9.9.9', 1000, 53));
  h.feed(7, dgram('10.0.0.6', '10.9.9.9', 1000, 53));
  assert.equal(h.out.map((f) => [f.srcAddr, f.endReason]), [['10.0.0.2', 'evicted'], ['10.0.0.3', 'evicted']]);
  assert.is(h.table.counters.evicted, 2);
  assert.is(h.table.size, 4);
});

test('ICMP echo request and reply are one flow, reported with the request type', () => {
  const h = new FlowHarness();
  h.feed(0, build(eth(), ipv4({ src: C, dst: S }), icmp({ type: 8, id: 77, seq: 1 }), raw('abcd')));
  h.feed(50, build(eth(), ipv4({ src: S, dst: C }), icmp({ type: 0, id: 77, seq: 1 }), raw('abcd')));
  h.feed(60, build(eth(), ipv4({ src: C, dst: S }), icmp({ type: 8, id: 78, seq: 1 }), raw('abcd')));
  h.table.flushAll(100);
  assert.is(h.out.length, 2);
  assert.is(h.out[0].protocol, 1);
  assert.is(h.out[0].packets, 1);
  assert.is(h.out[0].revPackets, 1);
  assert.is(h.out[0].srcPort, 0);
  assert.is(h.out[0].dstPort, 8 << 8);
});

test('IPv6 flows carry 16-byte addresses to the anonymizer', () => {
  const h = new FlowHarness();
  h.feed(0, build(eth(), ipv6({ src: '2001:db8::1', dst: '2001:db8::2' }), icmpv6({ type: 128, body: Buffer.from([0, 9, 0, 1]) })));
  h.feed(1, build(eth(), ipv6({ src: '2001:db8::2', dst: '2001:db8::1' }), icmpv6({ type: 129, body: Buffer.from([0, 9, 0, 1]) })));
  h.table.flushAll(2);
  assert.is(h.out.length, 1);
  assert.is(h.out[0].ipVersion, 6);
  assert.is(h.out[0].srcAddr, '2001:db8:0:0:0:0:0:1');
  assert.is(h.out[0].dstAddr, '2001:db8:0:0:0:0:0:2');
  assert.is(h.out[0].revPackets, 1);
  assert.is(h.out[0].dstPort, 128 << 8);
});

test('tunnelled packets are keyed on the innermost IP header', () => {
  const h = new FlowHarness();
  h.feed(0, build(eth(), ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }), ipv6({ src: '::a', dst: '::b' }), udp({ sport: 1, dport: 2 })));
  h.table.flushAll(1);
  assert.is(h.out[0].ipVersion, 6);
  assert.is(h.out[0].bytes, 48);
});

test('packets without an IP header are counted, not tracked', () => {
  const h = new FlowHarness();
  h.feed(0, build(eth(), arp({ op: 1, sha: '02:00:00:00:00:01', spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' })));
  h.table.flushAll(1);
  assert.is(h.out.length, 0);
  assert.is(h.table.counters.notIp, 1);
});

test('later fragments without ports form a port-0 flow', () => {
  const h = new FlowHarness();
  h.feed(0, build(eth(), ipv4({ src: C, dst: S, fragOffset: 1480, proto: 17 }), raw(Buffer.alloc(100))));
  h.table.flushAll(1);
  assert.is(h.out[0].srcPort, 0);
  assert.is(h.out[0].dstPort, 0);
  assert.is(h.out[0].bytes, 120);
});

test('the emitted FlowEnd is a reused scratch object; formatFlow copies it', () => {
  const h = new FlowHarness();
  h.feed(0, dgram('10.0.0.1', '10.0.0.2', 1, 2));
  h.feed(1, dgram('10.0.0.3', '10.0.0.4', 1, 2));
  h.table.flushAll(2);
  assert.is(h.raw[0], h.raw[1]);
  assert.is.not(h.out[0].srcAddr, h.out[1].srcAddr);
});

test('refuses a maxFlows that is not a positive integer', () => {
  assert.throws(() => new FlowHarness({ maxFlows: 0 }), /maxFlows must be a positive integer/);
});

test('refuses a timeout that is not positive', () => {
  assert.throws(() => new FlowHarness({ idleTimeoutUs: -1 }), /idleTimeoutUs must be a positive/);
});

test.run();
