// The built-in dns analysis with the run's real anonymizer bound: what the analysis
// process runs. Every DNS file of the corpus goes through it without a throw.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { dnsModule } from '../../firmware/analysis/builtin/dns/module';
import { bindAnonymizer } from '../../firmware/analysis/anonymizer';
import type { Emit, ModuleContext } from '../../firmware/analysis/builtin/api';
import type { DnsRecord } from '../../firmware/channel/records';
import { validatePolicy } from '../../firmware/anonymize/policy';
import { build, eth, ipv4, raw, udp } from '../lib/craft';
import { dnsMessage } from '../lib/craftDns';
import { testPrimitives } from '../lib/packets-rewrite';
import { corpusDir, corpusFiles } from '../lib/corpusFiles';
import { readCaptureFile } from '../lib/readCaptureFile';

const policy = validatePolicy({ extends: 'default' });
const prim = testPrimitives();

function module(): { m: ReturnType<typeof dnsModule>; emit: Emit; records: DnsRecord[] } {
  const fields = policy.levels.default.fields;
  const ctx = { prim, fields, policy, linkType: 1, anon: bindAnonymizer(prim, policy, fields) } as unknown as ModuleContext;
  const records: DnsRecord[] = [];
  const emit: Emit = { flow: () => undefined, packet: () => undefined, dns: (r) => records.push(r) };
  return { m: dnsModule(ctx), emit, records };
}

test('a query name with a dot and a NUL inside its labels becomes one name: labels hashed, suffix escaped', () => {
  const { m, emit, records } = module();
  const rawName = Buffer.from([4, 0x77, 0x2e, 0x77, 0x77, 3, 0x63, 0x00, 0x6d, 0]); // "w.ww" "c\0m"
  const q = dnsMessage({ id: 7, questions: [{ rawName }] });
  const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.53' }), udp({ sport: 5353 + 1, dport: 53 }), raw(q));
  const v = new PacketView();
  decodePacket(LinkType.EN10MB, pkt, 0, pkt.length, pkt.length, v);
  m.onPacket(v, pkt, 1.7e15, emit);
  m.onEnd!(1.7e15 + 60e6, emit);
  assert.is(records.length, 1);
  const labels = records[0].qname.split('.');
  assert.is(labels.length, 2, records[0].qname);
  assert.is(labels[1], 'c\\000m', 'the kept public suffix, in presentation form');
  assert.not.ok(records[0].qname.includes('w.ww') || records[0].qname.includes('ww'), 'a hashed label shows its clear text');
});

test('every file of the corpus goes through the dns analysis without a throw', () => {
  const files = corpusFiles();
  assert.ok(files.length >= 500, `only ${files.length} files found in ${corpusDir}`);
  let total = 0;
  for (const f of files) {
    const { m, emit, records } = module();
    const cap = readCaptureFile(f);
    const v = new PacketView();
    let last = 0;
    for (const p of cap.packets) {
      decodePacket(p.linkType, p.data, p.off, p.caplen, p.origLen, v);
      try {
        m.onPacket(v, p.data, p.tsUs, emit);
      } catch (e) {
        assert.unreachable(`${path.basename(f)}: ${(e as Error).stack}`);
      }
      last = p.tsUs;
    }
    m.onEnd!(last + 60e6, emit);
    for (const r of records) assert.type(r.qname, 'string');
    total += records.length;
  }
  assert.ok(total >= 10, `only ${total} DNS records from ${files.length} files`);
});

test.run();
