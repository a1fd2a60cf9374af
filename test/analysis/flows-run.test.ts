// The flows output's packet loop in C (flowsRun, FlowsRun.take) against the runtime's
// loop in JavaScript (child.ts work: the clock, decodePacket, AddressCollector.note,
// FlowTable.onPacket): over the records of segment bodies, both must end the same flows
// in the same order with the same counts, report the same values in the same order, and
// leave the clock and every counter the same.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { DecodeCounter } from '../../firmware/decode/counters';
import { AddressCollector } from '../../firmware/analysis/addresses';
import { SegmentRecords } from '../../firmware/analysis/segment-records';
import { PacketClock } from '../../firmware/analysis/ticks';
import { FlowTable, FlowTableOptions } from '../../firmware/analysis/builtin/flows/flowTable';
import { FlowsRun } from '../../firmware/analysis/builtin/flows/flowsRun';
import { ShardMap } from '../../firmware/analysis/shard';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusFiles } from '../lib/corpusFiles';
import { runBox, receive } from '../lib/run-box';
import { fixedMaster } from '../lib/fixed-keyring';
import { Keyring, KeyPurpose } from '../../firmware/keys/keyring';
import { generated } from '../lib/samplegen-files';
import { seededRandom } from '../lib/anonymize-fixtures';
import { changedPackets, corpusSegments, isCommonShape, keyUser, oddTimes, Packet, packetsOf, segmentBody, steppedTimes } from '../lib/packet-variants';

type Segment = { linkType: number; body: Buffer };

interface FlowsResult {
  /** Every flow ended, in order, as JSON. */
  flows: string[];
  hashes: string;
  lastUs: number;
  nextTick: number;
  counters: unknown;
  decoded: string;
  taken: number;
  /** The clock's next tick after the record of each index where the loop stopped. */
  ticks: Map<number, number>;
}

/** A shard of the run's flows, as an analysis process with run.json analysis.shards > 1 has. */
type ShardOf = { map: ShardMap; index: number } | null;

function runFlows(segments: Segment[], opts: FlowTableOptions, fast: boolean, seenSlots: number, seed: number, shard: ShardOf = null): FlowsResult {
  const flows: string[] = [];
  const table = new FlowTable(opts, (f) => flows.push(JSON.stringify({ ...f, addr: f.addr.toString('hex') })));
  const coll = new AddressCollector(keyUser, seenSlots);
  const clock = new PacketClock(null);
  const v = new PacketView();
  const loop = fast ? new FlowsRun(table, shard) : null;
  const random = seededRandom(seed);
  const hashes: string[] = [];
  const ticks = new Map<number, number>();
  let taken = 0;
  let index = 0;
  for (const { linkType, body } of segments) {
    const recs = new SegmentRecords(body);
    for (;;) {
      if (loop !== null) {
        const k = loop.take(recs, linkType, 1 + (random() % 300), coll.seenSets(), clock);
        if (k > 0) {
          index += k;
          taken += k;
          ticks.set(index, clock.nextTick());
        }
      }
      if (!recs.next()) break;
      clock.packet(recs.tsUs);
      decodePacket(linkType, body, recs.start, recs.end - recs.start, recs.origLen, v);
      // Another shard's packet: decoded and passed, as child.ts work passes it.
      if (shard === null || shard.map.of(v, body) === shard.index) {
        coll.note(v, body);
        table.onPacket(v, body, recs.tsUs);
      }
      ticks.set(++index, clock.nextTick());
    }
    const h = coll.take();
    if (h) hashes.push(Buffer.from(h).toString('hex'));
  }
  table.flushAll(clock.lastUs);
  return {
    flows, hashes: hashes.join(','), lastUs: clock.lastUs, nextTick: clock.nextTick(), counters: { ...table.counters },
    decoded: Array.from(v.counters, (n, i) => (i === DecodeCounter.packets ? n + taken : n)).join(','), taken, ticks,
  };
}

function compareFlows(segments: Segment[], opts: FlowTableOptions, seenSlots: number, what: string, shard: ShardOf = null): FlowsResult {
  const js = runFlows(segments, opts, false, seenSlots, 5, shard);
  const c = runFlows(segments, opts, true, seenSlots, 5, shard);
  assert.is(c.flows.length, js.flows.length, `${what}: flows ended`);
  for (let i = 0; i < js.flows.length; i++) if (c.flows[i] !== js.flows[i]) assert.unreachable(`${what}: flow ${i} ended as\n${c.flows[i]}\nnot\n${js.flows[i]}`);
  assert.is(c.hashes, js.hashes, `${what}: the values reported`);
  assert.is(c.lastUs, js.lastUs, `${what}: the clock's last time`);
  assert.is(c.nextTick, js.nextTick, `${what}: the clock's next tick`);
  assert.equal(c.counters, js.counters, `${what}: the table's counters`);
  assert.is(c.decoded, js.decoded, `${what}: the decoder's counters`);
  for (const [i, t] of c.ticks) if (js.ticks.get(i) !== t) assert.unreachable(`${what}: after record ${i}, the next tick is ${t}, not ${js.ticks.get(i)}`);
  return c;
}

/** Where the TCP header of an Ethernet frame of IPv4 (20 bytes) or IPv6 starts, or -1 for another packet. */
function tcpAt(d: Buffer): number {
  if (d.length >= 54 && d.readUInt16BE(12) === 0x0800 && d[23] === 6) return 34;
  if (d.length >= 74 && d.readUInt16BE(12) === 0x86dd && d[20] === 6) return 54;
  return -1;
}

/** A TCP packet with its flags replaced: FIN, RST, SYN, FIN and ACK, and the lowest bit of the data offset byte (the NS flag). */
function flagVariants(p: Packet): Packet[] {
  const t = tcpAt(p.data);
  if (t < 0) return [];
  return [0x01, 0x04, 0x02, 0x11, 0x10].map((flags, i) => {
    const d = Buffer.from(p.data);
    d[t + 13] = flags;
    if (i === 4) d[t + 12] |= 1;
    return { ...p, data: d, where: `${p.where} with TCP flags ${flags.toString(16)}` };
  });
}

/** Changes to an IPv6 packet: payload lengths (0, short, past the capture), an extension header, a new destination, a tunnel port, another version. */
function v6Variants(p: Packet, next: () => number): Packet[] {
  const d = p.data;
  if (d.length < 62 || d.readUInt16BE(12) !== 0x86dd) return [];
  const out: Packet[] = [];
  const with_ = (f: (b: Buffer) => void): void => {
    const b = Buffer.from(d);
    f(b);
    out.push({ ...p, data: b, where: `${p.where}, IPv6 changed` });
  };
  with_((b) => { b.writeUInt16BE(0, 18); });
  with_((b) => { b.writeUInt16BE(Math.floor(next() * 30), 18); });
  with_((b) => { b.writeUInt16BE(d.length + 100, 18); });
  with_((b) => { b[20] = 0; });
  with_((b) => { b.writeUInt32BE(Math.floor(next() * 2 ** 32), 50); });
  with_((b) => { b[14] = 0x45; });
  if (d[20] === 17) with_((b) => { b.writeUInt16BE(4789, 56); });
  return out;
}

/** One flow's packets every 250 ms for 12 s, half a second off the sweeps: past the active timeout between two of them. */
function longFlow(p: Packet): Packet[] {
  return Array.from({ length: 48 }, (_, i) => ({ ...p, tsUs: 50e6 + 600_000 + i * 250_000, where: `${p.where}, long flow packet ${i}` }));
}

const eth = (ps: Packet[]): Segment => ({ linkType: LinkType.EN10MB, body: segmentBody(ps) });

function testSegments(withCorpus: boolean): { segments: Segment[]; imix: Packet[] } {
  const { file } = generated({ kind: 'imix', packets: 2000 });
  const imix = packetsOf([file]);
  // A FIN, RST or SYN amid a flow's packets, then more of them.
  const changed = changedPackets(imix, seededRandom(17), (p) => flagVariants(p).flatMap((q) => [p, q, p, p]));
  const long = imix.filter((p) => isCommonShape(p.data)).slice(0, 2).flatMap(longFlow);
  // IPv4 and IPv6 together, the IPv6 packets changed too.
  const mixed = packetsOf([generated({ kind: 'imix', packets: 2000, ipv6: true }).file]);
  const random6 = seededRandom(23);
  const next6 = (): number => random6() / 2 ** 32;
  const changed6 = mixed.slice(0, 600).flatMap((p) => [p, ...v6Variants(p, next6).flatMap((q) => [q, q]), ...flagVariants(p).flatMap((q) => [q, p])]);
  const segments = [eth(imix), eth(imix), eth(changed), eth(oddTimes(imix)), eth(steppedTimes(imix)), eth(long),
    eth(mixed), eth(mixed), eth(changed6), eth(steppedTimes(mixed)), eth(imix)];
  if (withCorpus) {
    segments.push(...corpusSegments(packetsOf(corpusFiles())));
    segments.push(eth(imix));
  }
  return { segments, imix };
}

test('the flows loop in C ends, reports and counts what the JavaScript loop does: IMIX, changed packets, corpus (default table)', () => {
  const { segments, imix } = testSegments(true);
  const r = compareFlows(segments, {}, 1 << 18, 'default table');
  compareFlows(segments, {}, 64, 'default table, small sets');
  assert.ok(r.taken > imix.length, `the C loop took ${r.taken} records`);
});

test('the flows loop in C ends, reports and counts what the JavaScript loop does: short timeouts and a small table (idle, active and eviction ends)', () => {
  const { segments } = testSegments(false);
  const ends: Record<string, number> = {};
  for (const opts of [
    { maxFlows: 40, idleTimeoutUs: 1.5e6, activeTimeoutUs: 4e6, endLingerUs: 0.5e6 },
    { maxFlows: 4000, idleTimeoutUs: 10e6, activeTimeoutUs: 3e6, endLingerUs: 0.5e6 },
  ]) {
    const r = compareFlows(segments, opts, 1 << 18, `short timeouts, ${opts.maxFlows} flows`);
    assert.ok(r.taken > 0, 'the C loop took no record');
    for (const [why, n] of Object.entries(r.counters as Record<string, number>)) ends[why] = (ends[why] ?? 0) + n;
  }
  for (const why of ['idle', 'active', 'end', 'evicted']) assert.ok(ends[why] > 0, `no flow ended as ${why}: ${JSON.stringify(ends)}`);
});

test('with shards, the flows loop in C passes another shard\'s packets as the JavaScript loop does: each of 2 and 3 shards ends, reports and counts the same', () => {
  const { segments } = testSegments(true);
  const flowKey = Keyring.debugFromBytes(fixedMaster(0x33)).subkey(KeyPurpose.flow);
  let ended = 0;
  const seen = new Set<string>();
  for (const count of [2, 3]) {
    const map = new ShardMap(flowKey, count);
    for (let index = 0; index < count; index++) {
      const r = compareFlows(segments, {}, 1 << 18, `shard ${index} of ${count}`, { map, index });
      assert.ok(r.taken > 0, `shard ${index} of ${count}: the C loop took no record`);
      ended += r.flows.length;
      for (const f of r.flows) seen.add(`${count} ${f}`);
    }
  }
  // The shards share the flows out: none ends in two shards of one count.
  assert.is(seen.size, ended, 'a flow ended in two shards');
});

test('the flows loop in C takes IPv6 packets too', () => {
  const { file } = generated({ kind: 'imix', packets: 4000, ipv6: true });
  const mixed = packetsOf([file]);
  const v6 = mixed.filter((p) => p.data.readUInt16BE(12) === 0x86dd);
  assert.ok(v6.length > 600, `${v6.length} IPv6 packets`);
  const r = compareFlows([eth(v6), eth(v6)], {}, 1 << 18, 'IPv6 only');
  assert.ok(r.taken > v6.length / 2, `the C loop took ${r.taken} of ${2 * v6.length} IPv6 records`);
});

test('the flows loop in C leaves a packet of an open flow to the JavaScript when its destination is no longer among the reported values (the set started over)', () => {
  const { file } = generated({ kind: 'imix', packets: 4000, ipv6: true });
  const p = packetsOf([file]).find((q) => q.data.readUInt16BE(12) === 0x86dd && q.data[20] === 6)!;
  const addr = (n: number): Buffer => Buffer.from(`20010db8000000000000000000${n.toString(16).padStart(6, '0')}`, 'hex');
  const between = (src: Buffer, dst: Buffer, i: number): Packet => {
    const d = Buffer.from(p.data);
    src.copy(d, 22);
    dst.copy(d, 38);
    return { ...p, data: d, tsUs: p.tsUs + i, where: `packet ${i}` };
  };
  const [a, b, c] = [addr(1), addr(2), addr(3)];
  const ps: Packet[] = [between(a, b, 0), between(a, b, 1)];
  // New addresses enough for the small set to start over more than once.
  for (let i = 0; i < 20; i++) ps.push(between(addr(100 + 2 * i), addr(101 + 2 * i), 2 + i));
  // a is reported again (b is not); then the flow a-b goes on.
  ps.push(between(a, c, 30), between(a, c, 31), between(a, b, 32), between(a, b, 33));
  compareFlows([eth(ps)], {}, 64, 'destination no longer reported');
});

test('the flows loop in C takes nothing of another link type', () => {
  const { file } = generated({ kind: 'imix', packets: 300 });
  const body = segmentBody(packetsOf([file]));
  const r = compareFlows([{ linkType: LinkType.EN10MB, body }, { linkType: LinkType.RAW, body }], {}, 1 << 18, 'raw IP');
  assert.ok(r.taken > 0 && r.taken < 300, `took ${r.taken}`);
});

test('end to end, the packets output alone and the flows output alone (their loops in C) write what they write beside the DNS output (which keeps every packet in JavaScript), byte for byte', async () => {
  const { file } = generated({ kind: 'imix', packets: 30000 });
  const outputs = async (names: ('packets' | 'flows' | 'dns')[]): Promise<string> => {
    const run = await runBox({ config: { source: { pcap: file }, outputs: names }, hooks: { keyring: () => Keyring.debugFromBytes(fixedMaster(0x42)) } });
    assert.is(run.code, 0, run.console.join('\n'));
    const r = receive(run.linePath);
    assert.is(r.summary.analysed, 30000);
    return r.outDir;
  };
  const read = (dir: string, name: string): Buffer => fs.readFileSync(path.join(dir, name));
  const packetsAlone = await outputs(['packets']);
  const packetsBeside = await outputs(['packets', 'dns']);
  assert.ok(read(packetsAlone, 'trace.pcap').length > 30000 * 16, 'trace.pcap holds the packets');
  assert.ok(read(packetsAlone, 'trace.pcap').equals(read(packetsBeside, 'trace.pcap')), 'trace.pcap differs');
  const flowsAlone = await outputs(['flows']);
  const flowsBeside = await outputs(['flows', 'dns']);
  const flows = read(flowsAlone, 'flows.jsonl').toString('utf8');
  assert.ok(flows.split('\n').length > 100, 'flows.jsonl holds the flows');
  assert.is(flows, read(flowsBeside, 'flows.jsonl').toString('utf8'));
});

test.run();
