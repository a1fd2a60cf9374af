// The packets analysis as the runtime sees it: a module that emits one pcap record per
// packet through emit.packet, built from a module context or from explicit parts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { makePacketsModule, packetsModule, PacketsModule } from '../../firmware/analysis/builtin/packets/module';
import type { Emit, ModuleContext } from '../../firmware/analysis/builtin/api';
import { validatePolicy } from '../../firmware/anonymize/policy';
import { build, eth, ip4, ipv4, raw, udp } from '../lib/craft';
import { testPrimitives } from '../lib/packets-rewrite';

const policy = validatePolicy({ extends: 'default' });
const prim = testPrimitives();

function collect(): { emit: Emit; records: Buffer[] } {
  const records: Buffer[] = [];
  const emit: Emit = {
    flow: () => assert.unreachable('packets emits no flows'),
    dns: () => assert.unreachable('packets emits no DNS'),
    packet: (rec, n) => records.push(Buffer.from(rec.subarray(0, n))),
  };
  return { emit, records };
}

function feed(m: PacketsModule, emit: Emit): void {
  const v = new PacketView();
  for (let i = 0; i < 3; i++) {
    const pkt = build(eth(), ipv4({ src: `10.0.0.${i + 1}`, dst: '10.0.1.1' }), udp({ sport: 1000 + i, dport: 53 }), raw('question'));
    decodePacket(LinkType.EN10MB, pkt, 0, pkt.length, pkt.length, v);
    m.onPacket(v, pkt, 1.7e15 + i, emit);
  }
}

test('packetsModule emits one anonymized pcap record per packet', () => {
  const ctx = { prim, fields: policy.levels.default.fields, policy, linkType: 1 } as unknown as ModuleContext;
  const m = packetsModule(ctx) as PacketsModule;
  const { emit, records } = collect();
  feed(m, emit);
  assert.is(m.name, 'packets');
  assert.is(records.length, 3);
  for (const r of records) {
    assert.is(r.readUInt32LE(8), r.length - 16);
    assert.is(r.indexOf(ip4('10.0.1.1')), -1);
  }
  assert.is(m.counters.packets, 3);
});

test('makePacketsModule uses the field actions it is given', () => {
  const fields = validatePolicy({ extends: 'default', fields: { 'udp.sport': 'zero' } }).fields;
  const m = makePacketsModule(prim, policy, fields)({} as ModuleContext) as PacketsModule;
  const { emit, records } = collect();
  feed(m, emit);
  for (const r of records) assert.is(r.readUInt16BE(16 + 34), 0);
});

test.run();
