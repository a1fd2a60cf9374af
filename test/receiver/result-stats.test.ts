// The report's distributions and time series from values off the line: what does not
// check out is left out and counted, never drawn; the series stays bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { prefixOf, ResultStats } from '../../firmware/receiver/result-stats';
import { MAX_SAMPLES, RunTimeline } from '../../firmware/receiver/run-timeline';
import { SessionState } from '../../firmware/receiver/session';
import type { StatusRecord } from '../../firmware/channel/records';

const flow = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  ipVersion: 4, protocol: 6, srcAddr: '10.1.2.3', dstAddr: '2001:db8:1:2::9', srcPort: 40000, dstPort: 443,
  firstUs: 1_000_000, lastUs: 1_500_000, packets: 3, bytes: 300, revPackets: 2, revBytes: 200, ...over,
});

test('prefixOf: /24 of an IPv4 address, /48 of an IPv6 one (embedded IPv4 too), null for anything else', () => {
  assert.is(prefixOf('192.0.2.77'), '192.0.2.0/24');
  assert.is(prefixOf('2001:db8:abcd:12::1'), '2001:db8:abcd::/48');
  assert.is(prefixOf('::ffff:192.0.2.1'), '0:0:0::/48');
  assert.is(prefixOf('fe80::1'), 'fe80:0:0::/48');
  for (const bad of ['<script>', '999.1.1.1', '', '1.2.3', { toString: 1 }, 42, null]) assert.is(prefixOf(bad), null, JSON.stringify(bad));
});

test('counts a flow in each distribution: size, duration, protocol, port, both prefixes by bytes', () => {
  const r = new ResultStats();
  r.flow(flow());
  const d = r.snapshot();
  assert.is(d.flows, 1);
  assert.is(d.flowBytes.indexOf(1), 2, '500 bytes: the ≤1k bucket');
  assert.is(d.flowDurations.indexOf(1), 3, '0.5 s: the <1s bucket');
  assert.equal(d.protocols, { 6: 1 });
  assert.equal(d.topPorts, [[443, 1]]);
  assert.equal(d.topPrefixes, [['10.1.2.0/24', 500], ['2001:db8:1::/48', 500]]);
  assert.is(d.unreadable, 0);
});

test('leaves a field that is not a number or not an address out of its distribution, and counts the record unreadable', () => {
  const r = new ResultStats();
  r.flow(flow({ bytes: '300', lastUs: 10, protocol: 300, dstPort: -1, srcAddr: '__proto__' }));
  r.dnsRecord({ rcode: { toString: 1 }, latencyUs: 'fast' });
  const d = r.snapshot();
  assert.is(d.unreadable, 2);
  assert.is(d.flowBytes.reduce((a, b) => a + b, 0), 0);
  assert.is(d.flowDurations.reduce((a, b) => a + b, 0), 0);
  assert.equal(d.protocols, {});
  assert.equal(d.topPorts, []);
  assert.equal(d.topPrefixes, [], 'no bytes to count for the one good address');
  assert.equal(d.dnsRcodes, {});
  assert.is(d.dnsLatency.reduce((a, b) => a + b, 0), 0);
});

test('DNS: responses by rcode, transactions without one as "none", latency buckets', () => {
  const r = new ResultStats();
  r.dnsRecord({ rcode: 0, latencyUs: 3000 });
  r.dnsRecord({ rcode: 3, latencyUs: 30_000 });
  r.dnsRecord({ rcode: null, latencyUs: null });
  const d = r.snapshot();
  assert.equal(d.dnsRcodes, { 0: 1, 3: 1, none: 1 });
  assert.equal(d.dnsLatency.slice(0, 4), [0, 1, 0, 1]);
});

const st = (i: number, over: Partial<StatusRecord> = {}): StatusRecord => ({
  uptimeMs: i * 1000, state: 'capturing', cpuPercent: 1, memUsedBytes: 1, memTotalBytes: 2, spoolFill: 0,
  captured: i * 10, kernelDropped: 0, spoolDropped: 0, analysed: i * 8, quarantined: 0, channelBacklogBytes: 0, ...over,
});

test('a STATUS whose counters are not numbers is not a sample', () => {
  const t = new RunTimeline();
  const s = new SessionState('a'.repeat(16), Buffer.alloc(8));
  assert.is(t.add(s, st(1, { captured: 'many' as unknown as number }), 0), null);
  assert.is(t.add(s, st(1, { elapsedMs: 'x' as unknown as number }), 0), null);
  assert.is(t.samples.length, 0);
  assert.is(t.add(s, st(2), 100)!.analysisLag, 4);
});

test(`the series keeps at most ${MAX_SAMPLES} samples, the newest always, and the rates per session`, () => {
  const t = new RunTimeline();
  const a = new SessionState('a'.repeat(16), Buffer.alloc(8));
  const b = new SessionState('b'.repeat(16), Buffer.alloc(8));
  for (let i = 0; i < 3 * MAX_SAMPLES; i++) t.add(a, st(i), i);
  assert.ok(t.samples.length <= MAX_SAMPLES && t.samples.length > MAX_SAMPLES / 2, `${t.samples.length}`);
  assert.is(t.samples[t.samples.length - 1].uptimeMs, (3 * MAX_SAMPLES - 1) * 1000);
  t.add(b, st(1), 0);
  const [prevB, lastB] = t.lastTwo(b.id);
  assert.is(prevB, null, 'one sample of the new session: no rate yet');
  assert.is(lastB!.session, 1);
  const [prevA, lastA] = t.lastTwo(a.id);
  assert.ok(prevA!.uptimeMs < lastA!.uptimeMs);
});

test.run();
