// Failing closed must not refuse what the box legitimately sends: every packet of
// tcpdump's test captures (malformed, truncated, tunnelled, exotic) goes the box's
// way — the collector notes its raw addresses and MACs, the packets output rewrites
// it — and the record must pass a guard that knows nothing (so no "cannot check"
// refusal) and a guard that learned every raw value of the whole corpus (so no raw
// value either), under policies that change what the rewriter keeps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { AddressCollector } from '../../firmware/analysis/addresses';
import { decodePacket, PacketView } from '../../firmware/decode';
import { PacketRewriter } from '../../firmware/analysis/builtin/packets/rewriter';
import { EgressGuard } from '../../firmware/egress/guard';
import { packetRefusalNames } from '../../firmware/egress/packet-record';
import { corpusFiles } from '../lib/corpusFiles';
import { fieldsWith, testPrimitives } from '../lib/packets-rewrite';
import { CaptureFile, readCaptureFile } from '../lib/readCaptureFile';
import { key } from './guardFixtures';

// Read once, by the first test: a missing corpus fails the tests, not the file's loading.
let loaded: [string, CaptureFile][] | null = null;
const captures = (): [string, CaptureFile][] => (loaded ??= corpusFiles().map((f) => [path.basename(f), readCaptureFile(f)]));

const policies: [string, Record<string, unknown>][] = [
  ['default policy', {}],
  ['payload zeroed, options kept', { payload: 'zero', 'ip4.options': 'keep', 'ip6.options': 'keep', 'tcp.options.unknown': 'keep' }],
  ['options removed, payload zeroed', { payload: 'zero', 'ip4.options': 'drop', 'ip6.options': 'drop', 'tcp.options.unknown': 'drop', 'tcp.options.timestamp': 'drop', 'tcp.options.sack': 'drop' }],
  ['ICMP quotes zeroed', { 'icmp.quoted': 'zero', payload: 'zero' }],
  ['ICMP quotes dropped', { 'icmp.quoted': 'drop' }],
  ['every address and MAC zeroed', Object.fromEntries(['eth.src', 'eth.dst', 'sll.src', 'arp.sha', 'arp.tha', 'nd.lladdr', 'arp.spa', 'arp.tpa', 'ip4.src', 'ip4.dst', 'ip6.src', 'ip6.dst', 'ip6.routing', 'nd.target', 'payload'].map((f) => [f, 'zero']))],
  ['ports zeroed: VXLAN and Geneve lose the port they are found by', { 'udp.sport': 'zero', 'udp.dport': 'zero', 'tcp.sport': 'zero', 'tcp.dport': 'zero', payload: 'zero' }],
];

for (const [name, overrides] of policies) {
  test(`every rewritten corpus packet passes (${name})`, () => {
    const k = key();
    const collector = new AddressCollector(k);
    const learned = new EgressGuard(k);
    const empty = new EgressGuard(k);
    const rw = new PacketRewriter(testPrimitives(), fieldsWith(overrides));
    const v = new PacketView();
    const records: { rec: Buffer; linkType: number; where: string }[] = [];
    for (const [file, cap] of captures()) {
      cap.packets.forEach((p, i) => {
        decodePacket(p.linkType, p.data, p.off, p.caplen, p.origLen, v);
        collector.note(v, p.data);
        const n = rw.rewrite(v, p.data, p.tsUs);
        records.push({ rec: Buffer.from(rw.out.subarray(0, n)), linkType: p.linkType, where: `${file} packet ${i + 1}` });
      });
      const h = collector.take();
      if (h) learned.learn(h);
    }
    const refused: string[] = [];
    let pastHeaders = 0;
    for (const r of records) {
      for (const [g, which] of [[empty, 'empty'], [learned, 'learned']] as const) {
        if (!g.passesPacket(r.rec, r.linkType)) refused.push(`${r.where}: ${which} guard, ${packetRefusalNames[g.lastRefusal]}`);
      }
      decodePacket(r.linkType, r.rec, 16, r.rec.length - 16, r.rec.readUInt32LE(12), v);
      if (v.end > v.lastParsedEnd) pastHeaders++;
    }
    assert.ok(records.length > 5000, `only ${records.length} packets`);
    assert.ok(learned.knownCount() > 1000, `the guard learned only ${learned.knownCount()} values`);
    if (overrides.payload === 'zero') assert.ok(pastHeaders > 1000, `only ${pastHeaders} records kept bytes past their headers`);
    assert.equal(refused.slice(0, 10), [], `${refused.length} of ${records.length * 2} checks refused`);
  });
}

test.run();
