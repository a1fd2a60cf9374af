// Packets output: checksums judged by tshark. A checksum valid on input is valid on
// output, a wrong one stays wrong, and with the payload dropped the updated checksums
// still hold over the original payload (checked by putting the payload back).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LinkType } from '../../firmware/decode';
import { build, eth, gre, icmp, icmpv6, ip6, ipv4, ipv6, raw, tcp, udp, writePcap } from '../lib/craft';
import { TestRewriter } from '../lib/packets-rewrite';
import { CHECKSUM_PREFS, badPackets, tshark } from '../lib/tshark';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-packets-'));
const STATUS = ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status', 'gre.checksum.status'];
const mss = Buffer.from([2, 4, 5, 0xb4, 1, 3, 3, 7, 8, 10, 0, 1, 2, 3, 0, 0, 0, 0, 1, 1]);

function samples(): Buffer[] {
  const quoted = build(ipv4({ src: '10.0.0.1', dst: '192.0.2.80' }), udp({ sport: 4000, dport: 53 }), raw('q'));
  const ns = Buffer.alloc(20);
  ip6('2001:db8::99').copy(ns, 4);
  return [
    build(eth(), ipv4({ src: '10.0.0.1', dst: '192.0.2.80', options: Buffer.from([7, 7, 4, 10, 0, 0, 9, 0]) }), tcp({ sport: 5000, dport: 80, flags: 'S', options: mss }), raw('payload bytes here')),
    build(eth(), ipv4({ src: '10.0.0.1', dst: '192.0.2.80' }), udp({ sport: 4000, dport: 53 }), raw('odd-length payload')),
    build(eth(), ipv4({ src: '10.0.0.1', dst: '192.0.2.80' }), icmp({ type: 8, id: 9, seq: 1 }), raw('ping data')),
    build(eth(), ipv4({ src: '203.0.113.1', dst: '10.0.0.1' }), icmp({ type: 3, code: 3 }), raw(quoted)),
    build(eth(), ipv6({ src: '2001:db8::1', dst: '2001:db8:1::2' }), tcp({ sport: 1, dport: 2, flags: 'PA', seq: 77, ack: 99, options: mss }), raw('v6 data')),
    build(eth(), ipv6({ src: '2001:db8::1', dst: '2001:db8:1::2', ext: [{ type: 'hop', len: 1 }, { type: 'dst' }] }), udp({ sport: 7, dport: 9 }), raw('v6 options')),
    build(eth(), ipv6({ src: '2001:db8::1', dst: '2001:db8:1::2' }), icmpv6({ type: 128, body: Buffer.from([0, 5, 0, 1]) }), raw('echo')),
    build(eth(), ipv6({ src: 'fe80::1', dst: 'ff02::1:ff00:99' }), icmpv6({ type: 135, body: Buffer.concat([ns, Buffer.from([1, 1, 0, 0x11, 0x22, 0x33, 0x44, 0x55])]) })),
    build(eth(), ipv4({ src: '198.51.100.1', dst: '198.51.100.2' }), ipv4({ src: '10.7.0.1', dst: '10.7.0.2' }), udp({ sport: 1, dport: 2 }), raw('inner')),
    build(eth(), ipv4({ src: '198.51.100.1', dst: '198.51.100.2' }), ipv4({ src: '10.7.0.1', dst: '10.7.0.2', options: Buffer.from([148, 4, 0, 0]) }), tcp({ sport: 3, dport: 4, flags: 'A' }), raw('inner with options')),
    build(eth(), ipv4({ src: '198.51.100.1', dst: '198.51.100.2' }), gre({ key: 5, checksum: true }), ipv4({ src: '10.7.0.1', dst: '10.7.0.2' }), tcp({ sport: 3, dport: 4, seq: 5, ack: 6 }), raw('tunnelled')),
  ];
}

/** Every action that moves bytes or changes lengths, plus hashed ids. */
const DROPPING = { 'ip4.options': 'drop', 'ip6.options': 'drop', 'tcp.options.timestamp': 'drop', 'tcp.options.unknown': 'drop', 'ip4.id': 'hash', 'ip6.flowlabel': 'hash' };
const DROPPING_ALL = { ...DROPPING, payload: 'zero' };

function rewriteAll(pkts: Buffer[], overrides: Record<string, unknown>): { data: Buffer; origLen: number }[] {
  const t = new TestRewriter(overrides);
  return pkts.map((p) => {
    const r = t.run(p);
    return { data: r.data, origLen: r.origLen };
  });
}

function statuses(pkts: { data: Buffer; origLen?: number }[], name: string): string[] {
  const file = path.join(dir, name);
  writePcap(file, LinkType.EN10MB, pkts.map((p) => ({ tsUs: 1.6e15, data: p.data, origLen: p.origLen })));
  // Checksum validation is off by default in tshark: CHECKSUM_PREFS turns it on.
  const args = [...CHECKSUM_PREFS, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of STATUS) args.push('-e', f);
  return tshark(file, args).map((l) => l.split('\t').join(' ').trim());
}

test('inputs are valid to begin with (the judge agrees with the builder)', () => {
  const s = statuses(samples().map((data) => ({ data })), 'input.pcap');
  for (const line of s) assert.not.match(line, /0/, line);
});

test('valid checksums stay valid when the payload is kept zeroed', () => {
  const s = statuses(rewriteAll(samples(), DROPPING_ALL), 'zeroed.pcap');
  assert.is(s.length, samples().length);
  for (const line of s) {
    assert.not.match(line, /0|2/, `every checksum Good: ${line}`);
    assert.match(line, /1/);
  }
});

for (const [name, overrides] of [['default policy', {}], ['options dropped', DROPPING]] as const) {
  test(`checksums updated over dropped payload verify when the payload is put back (${name})`, () => {
    const pkts = samples();
    const out = rewriteAll(pkts, overrides);
    // The dropped payload is the input's tail: origLen - caplen bytes of it.
    const whole = out.map((o, i) => ({ data: Buffer.concat([o.data, pkts[i].subarray(pkts[i].length - (o.origLen - o.data.length))]) }));
    for (let i = 0; i < pkts.length; i++) assert.ok(out[i].data.length < pkts[i].length || i === 7, `packet ${i} lost its payload`);
    for (const line of statuses(whole, 'restored.pcap')) assert.not.match(line, /0|2/, line);
  });
}

test('rewritten headers with dropped payload read as a cut capture, not as malformed packets', () => {
  const file = path.join(dir, 'dropped.pcap');
  writePcap(file, LinkType.EN10MB, rewriteAll(samples(), {}).map((o) => ({ tsUs: 1.6e15, data: o.data, origLen: o.origLen })));
  assert.equal(badPackets(file), []);
});

test('a packet with a wrong checksum in stays wrong out', () => {
  const bad = samples().map((p) => Buffer.from(p));
  bad[0][14 + 10] ^= 0x40; // IPv4 header checksum
  bad[1][34 + 6] ^= 0x01; // UDP
  bad[2][34 + 2] ^= 0x10; // ICMP
  bad[4][54 + 16] ^= 0x01; // TCP over IPv6
  bad[6][54 + 2] ^= 0x01; // ICMPv6
  const s = statuses(rewriteAll(bad, { payload: 'zero' }), 'bad.pcap');
  assert.match(s[0].split(' ')[0], /^0$/);
  assert.match(s[1], /0/);
  assert.match(s[2], /0/);
  assert.match(s[4], /0/);
  assert.match(s[6], /0/);
  assert.not.match(s[3], /0/, 'untouched packets stay Good');
});

test('a zero UDP checksum (none) stays zero', () => {
  const p = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: 1, dport: 2 }), raw('x'));
  p.writeUInt16BE(0, 40);
  const r = new TestRewriter().run(p);
  assert.is(r.data.readUInt16BE(40), 0);
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
test.run();
