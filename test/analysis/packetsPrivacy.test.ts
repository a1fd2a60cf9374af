// Packets output as a whole: prefixes are preserved across packets, no raw address or
// MAC of the input survives anywhere in the output bytes, and no input makes the
// rewriter throw.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { arp, build, eth, gre, icmp, icmpv6, ip4, ip6, ipv4, ipv6, mac, raw, tcp, udp, vlan } from '../lib/craft';
import { commonPrefixBits, seededRandom } from '../lib/anonymize-fixtures';
import { TestRewriter } from '../lib/packets-rewrite';
import { MAX_OUTPUT_BYTES } from '../../firmware/analysis/builtin/packets/rewriter';

const V4 = ['10.1.2.3', '10.1.2.77', '10.1.200.1', '10.9.0.1', '192.0.2.1', '192.0.2.130', '198.51.100.7'];
const V6 = ['2001:db8::1', '2001:db8::2', '2001:db8:0:1::1', '2001:db8:ffff::9', '2a00:1450:4001::5'];
const MACS = ['00:11:22:33:44:55', '00:11:22:33:44:56', 'a4:83:e7:01:02:03'];

test('preserves prefixes across a set of rewritten packets', () => {
  const t = new TestRewriter();
  const out4 = V4.map((a) => t.run(build(eth(), ipv4({ src: a, dst: '203.0.113.9' }), udp({ sport: 1, dport: 2 }))).data.subarray(26, 30));
  for (let i = 0; i < V4.length; i++) {
    for (let j = i + 1; j < V4.length; j++) assert.is(commonPrefixBits(out4[i], out4[j]), commonPrefixBits(ip4(V4[i]), ip4(V4[j])), `${V4[i]} ${V4[j]}`);
  }
  const out6 = V6.map((a) => t.run(build(eth(), ipv6({ src: '2001:db8:9::9', dst: a }), udp({ sport: 1, dport: 2 }))).data.subarray(38, 54));
  for (let i = 0; i < V6.length; i++) {
    for (let j = i + 1; j < V6.length; j++) assert.is(commonPrefixBits(out6[i], out6[j]), commonPrefixBits(ip6(V6[i]), ip6(V6[j])), `${V6[i]} ${V6[j]}`);
  }
});

/** One packet of every kind the rewriter knows, each carrying raw addresses in every place they can hide. */
function everyKind(): Buffer[] {
  const [a, b, c, d, e] = V4;
  const [x, y, z] = V6;
  const rr = Buffer.concat([Buffer.from([7, 11, 4]), ip4(c), ip4(d), Buffer.from([0])]);
  const quoted4 = build(ipv4({ src: a, dst: b, options: rr }), tcp({ sport: 1, dport: 2 }));
  const quoted6 = build(ipv6({ src: x, dst: y }), udp({ sport: 1, dport: 2 }), raw('abcd'));
  const ns = Buffer.alloc(20);
  ip6(z).copy(ns, 4);
  const nsOpts = Buffer.concat([Buffer.from([1, 1]), mac(MACS[2])]);
  const routing = build(eth(), ipv6({ src: x, dst: y, ext: [{ type: 'routing', len: 2 }] }), udp({ sport: 1, dport: 2 }));
  routing[56] = 0;
  ip6(z).copy(routing, 62);
  return [
    build(eth({ src: MACS[0], dst: MACS[1] }), vlan({ vid: 7 }), ipv4({ src: a, dst: b, options: rr }), tcp({ sport: 3, dport: 4 }), raw(ip4(e))),
    build(eth({ src: MACS[0], dst: MACS[1] }), arp({ op: 2, sha: MACS[0], spa: a, tha: MACS[1], tpa: b })),
    build(eth(), ipv4({ src: e, dst: a }), icmp({ type: 3, code: 1 }), raw(quoted4)),
    build(eth(), ipv4({ src: c, dst: a }), icmp({ type: 5 }), raw(quoted4)),
    build(eth(), ipv6({ src: z, dst: x }), icmpv6({ type: 1 }), raw(quoted6)),
    build(eth(), ipv6({ src: x, dst: y }), icmpv6({ type: 135, body: Buffer.concat([ns, nsOpts]) })),
    build(eth(), ipv4({ src: c, dst: d }), gre({ key: 1 }), eth({ src: MACS[2], dst: MACS[0] }), ipv6({ src: x, dst: y }), tcp({ sport: 1, dport: 2 })),
    build(eth(), ipv4({ src: c, dst: d }), ipv4({ src: a, dst: b }), udp({ sport: 1, dport: 2 })),
    routing,
  ];
}

function assertNoRawAddress(out: Buffer, what: string): void {
  for (const s of V4) assert.is(out.indexOf(ip4(s)), -1, `${s} in ${what}: ${out.toString('hex')}`);
  for (const s of V6) assert.is(out.indexOf(ip6(s)), -1, `${s} in ${what}`);
  for (const s of MACS) assert.is(out.indexOf(mac(s)), -1, `${s} in ${what}`);
}

for (const [name, overrides] of [
  ['default policy', {}],
  ['payload zeroed, options kept', { payload: 'zero', 'ip4.options': 'keep', 'ip6.options': 'keep' }],
  ['addresses truncated', { 'ip4.src': { action: 'truncate', prefixLen: 24 }, 'ip6.dst': { action: 'truncate', prefixLen: 48 } }],
] as const) {
  test(`no raw address or MAC of the input appears in the output (${name})`, () => {
    const t = new TestRewriter(overrides as Record<string, unknown>);
    const pkts = everyKind();
    for (let i = 0; i < pkts.length; i++) {
      const raw = pkts[i].toString('hex');
      assert.ok(V4.some((s) => raw.includes(ip4(s).toString('hex'))) || V6.some((s) => raw.includes(ip6(s).toString('hex'))), `packet ${i} carries raw addresses`);
      assertNoRawAddress(t.run(pkts[i]).data, `packet ${i}`);
    }
  });
}

test('random truncations and mutations of crafted packets never throw', () => {
  const next = seededRandom(20261123);
  const base = everyKind();
  const policies = [new TestRewriter(), new TestRewriter({ payload: 'zero', 'ip4.options': 'drop', 'tcp.options.sack': 'drop', 'icmp.quoted': 'drop' }), new TestRewriter({ 'ip4.options': 'keep', 'ip6.options': 'keep', 'tcp.options.unknown': 'keep' })];
  let runs = 0;
  for (let round = 0; round < 4000; round++) {
    const src = base[next() % base.length];
    const pkt = Buffer.from(src.subarray(0, 1 + (next() % src.length)));
    const flips = next() % 6;
    for (let k = 0; k < flips; k++) pkt[next() % pkt.length] = next() & 0xff;
    const t = policies[round % policies.length];
    const r = t.run(pkt, { origLen: src.length + (next() % 3) });
    assert.ok(r.caplen <= MAX_OUTPUT_BYTES && r.caplen === r.data.length, `round ${round}`);
    assert.ok(r.caplen <= Math.max(pkt.length, r.origLen), `round ${round}: caplen ${r.caplen} > origLen ${r.origLen}`);
    runs++;
  }
  assert.is(runs, 4000);
});

test.run();
