import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PROTOCOLS } from '../../tools/samplegen/ground-truth';
import { PcapRecord, readPcap, writePcap } from '../lib/pcapfile';
import { generated, tempDir } from '../lib/samplegen-files';
import { badPackets, tshark, tsharkFields } from '../lib/tshark';

const sample = generated({ packets: 2000, seed: 11 });
const sample6 = generated({ packets: 2000, seed: 12, ipv6: true });
const imix6 = generated({ kind: 'imix', packets: 6000, seed: 13, ipv6: true, flows: 300 });
const small = generated({ kind: 'small64', packets: 6000, seed: 14, flows: 300 });

test('tshark finds no malformed packet or bad checksum in the sample', () => {
  assert.equal(badPackets(sample.file), []);
});

test('tshark finds no malformed packet or bad checksum in the sample with IPv6 sessions', () => {
  assert.equal(badPackets(sample6.file), []);
});

test('tshark finds no malformed packet or bad checksum in imix with IPv6', () => {
  assert.equal(badPackets(imix6.file), []);
});

test('tshark finds no malformed packet or bad checksum in small64', () => {
  assert.equal(badPackets(small.file), []);
});

// The check above must be able to fail: each case breaks one packet of the sample.
const ipv4 = (d: Buffer): boolean => d.readUInt16BE(12) === 0x0800;
const ipv6 = (d: Buffer): boolean => d.readUInt16BE(12) === 0x86dd;
const broken: Array<[string, (d: Buffer) => boolean, (r: PcapRecord) => Buffer]> = [
  ['a bad TCP checksum', (d) => ipv4(d) && d[23] === 6, (r) => flip(r.data, 14 + 20 + 16)],
  ['a bad UDP checksum', (d) => ipv4(d) && d[23] === 17, (r) => flip(r.data, 14 + 20 + 6)],
  ['a bad IPv4 header checksum', (d) => ipv4(d), (r) => flip(r.data, 14 + 10)],
  ['a bad ICMP checksum', (d) => ipv4(d) && d[23] === 1, (r) => flip(r.data, 14 + 20 + 2)],
  ['a bad ICMPv6 checksum', (d) => ipv6(d) && d[20] === 58, (r) => flip(r.data, 14 + 40 + 2)],
  ['a packet shorter than its IPv4 length', (d) => ipv4(d) && d.readUInt16BE(16) > 200, (r) => r.data.subarray(0, 100)],
  ['a DNS message claiming more questions than it has', (d) => ipv4(d) && d[23] === 17 && d.readUInt16BE(36) === 53, (r) => dnsQuestions(r.data)],
];

function flip(d: Buffer, at: number): Buffer {
  const c = Buffer.from(d);
  c[at] ^= 0x01;
  return c;
}

function dnsQuestions(d: Buffer): Buffer {
  const c = Buffer.from(d);
  c.writeUInt16BE(5, 14 + 20 + 8 + 4);
  // Keep the UDP checksum right, so only the DNS content is wrong: 5 - 1 more in one word.
  const sum = (~c.readUInt16BE(14 + 20 + 6) & 0xffff) + 4;
  c.writeUInt16BE(~((sum & 0xffff) + (sum >>> 16)) & 0xffff, 14 + 20 + 6);
  return c;
}

broken.forEach(([what, pick, damage], k) => {
  test(`the tshark check catches ${what}`, () => {
    const recs = readPcap(sample.file).records;
    const i = recs.findIndex((r) => pick(r.data));
    assert.ok(i >= 0, `no packet to break for ${what}`);
    const out = path.join(tempDir(), `broken-${k}.pcap`);
    writePcap(out, recs.map((r, j) => ({ tsSec: r.tsSec, tsUsec: r.tsUsec, data: j === i ? damage(r) : r.data })));
    const bad = badPackets(out);
    assert.is(bad.length, 1, `expected exactly the broken packet, got ${bad.length}`);
    assert.match(bad[0], new RegExp(`^\\s*${i + 1}\\s`));
  });
});

function protocolCounts(file: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of tshark(file, ['-T', 'fields', '-e', 'frame.protocols'])) {
    for (const p of new Set(line.split(':'))) counts[p] = (counts[p] ?? 0) + 1;
  }
  return counts;
}

for (const [name, g] of [['sample', sample], ['sample with IPv6 sessions', sample6], ['imix with IPv6', imix6]] as const) {
  test(`per-protocol counts of the ${name} match tshark`, () => {
    const seen = protocolCounts(g.file);
    for (const p of PROTOCOLS) assert.is(g.truth.protocols[p], seen[p] ?? 0, `${p}: ground truth ${g.truth.protocols[p]}, tshark ${seen[p] ?? 0}`);
    assert.is(g.truth.packets, seen.eth);
  });

  test(`bidirectional flow counts of the ${name} match tshark's 5-tuples`, () => {
    const rows = tsharkFields(g.file, ['ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'ip.proto', 'ipv6.nxt', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport']);
    const flows = new Map<string, string>();
    for (const r of rows) {
      const first = r.map((v) => v.split(',')[0]);
      const [s4, d4, s6, d6, p4, p6, ts, td, us, ud] = first;
      const proto = p4 || p6;
      if (!proto) continue;
      const name = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6' }[proto] ?? proto;
      const ports = name === 'tcp' ? [ts, td] : name === 'udp' ? [us, ud] : ['0', '0'];
      const a = `${s4 || s6}/${ports[0]}`;
      const b = `${d4 || d6}/${ports[1]}`;
      flows.set(`${name} ${[a, b].sort().join(' ')}`, name);
    }
    const per = { total: flows.size, tcp: 0, udp: 0, icmp: 0, icmpv6: 0 } as Record<string, number>;
    for (const n of flows.values()) per[n]++;
    assert.equal(g.truth.flows, per);
  });
}

test('the address set of the sample is exactly what tshark sees in the headers', () => {
  const fields = ['eth.src', 'eth.dst', 'arp.src.hw_mac', 'arp.dst.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'icmpv6.nd.ns.target_address', 'icmpv6.nd.na.target_address'];
  const seen = new Set<string>();
  for (const r of tsharkFields(sample6.file, fields)) for (const v of r) for (const a of v.split(',')) if (a) seen.add(a);
  const a = sample6.truth.addresses;
  const truth = new Set([...a.ipv4, ...a.ipv6, ...a.mac, ...a.special]);
  assert.equal([...truth].sort(), [...seen].sort());
});

test.run();
