// The packets output's C path for its most common packet (commonRewrite.ts, the capture
// addon's rewriterRun) against its definition, rewriter.ts in JavaScript: two rewriters
// under the same keys, one with the C path and one without, must write the same record
// for every packet of the corpus and of an IMIX trace, and for those packets with their
// fields changed (lengths, flags, TTLs, checksums, addresses, ports, cut payloads),
// under every policy the C path takes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { PacketRewriter } from '../../firmware/analysis/builtin/packets/rewriter';
import { corpusFiles } from '../lib/corpusFiles';
import { fieldsWith, testPrimitives } from '../lib/packets-rewrite';
import { changedPackets, corpusSegments, isCommonShape, keyUser, oddTimes, OPTION_SETS, Packet, packetsOf, segmentBody, steppedTimes, variants, withOptions } from '../lib/packet-variants';
import { generated } from '../lib/samplegen-files';
import { seededRandom } from '../lib/anonymize-fixtures';
import { AddressCollector } from '../../firmware/analysis/addresses';
import { SegmentRecords } from '../../firmware/analysis/segment-records';
import { PacketClock } from '../../firmware/analysis/ticks';
import { DecodeCounter } from '../../firmware/decode/counters';
import type { FieldActions } from '../../firmware/anonymize/policy';

const policies: [string, Record<string, unknown>][] = [
  ['default policy', {}],
  ['payload zeroed', { payload: 'zero' }],
  ['fields kept', { 'ip4.tos': 'keep', 'ip4.id': 'keep', 'ip4.ttl': 'keep', 'tcp.seq': 'keep', 'tcp.ack': 'keep', 'tcp.options.sack': 'keep', 'tcp.window': 'keep' }],
  ['fields zeroed', { 'eth.src': 'zero', 'eth.dst': 'zero', 'ip4.tos': 'zero', 'ip4.ttl': 'zero', 'ip4.src': 'zero', 'tcp.sport': 'zero', 'udp.dport': 'zero', 'tcp.ack': 'zero', 'tcp.window': 'zero' }],
  ['other TTL buckets', { 'ip4.ttl': { action: 'bucket', edges: [0, 2, 60, 200] } }],
  ['options kept', { 'tcp.options.timestamp': 'keep', 'tcp.options.unknown': 'keep', 'tcp.options.mss': 'nop' }],
  ['timestamps zeroed', { 'tcp.options.timestamp': 'zero' }],
  ['options dropped', { 'tcp.options.timestamp': 'drop', 'tcp.options.unknown': 'drop' }],
];

let corpus: Packet[] | null = null;

for (const [name, overrides] of policies) {
  test(`the C path writes the records rewriter.ts writes: corpus, IMIX and changed packets (${name})`, () => {
    const { file } = generated({ kind: 'imix', packets: 2000 });
    corpus ??= packetsOf(corpusFiles());
    const imix = packetsOf([file]);
    const fields = fieldsWith(overrides);
    const withC = new PacketRewriter(testPrimitives(), fields);
    const plain = new PacketRewriter(testPrimitives(), fields, false);
    const v = new PacketView();
    let compared = 0;
    const compare = (p: Packet): void => {
      decodePacket(p.linkType, p.data, 0, p.data.length, Math.max(p.origLen, p.data.length), v);
      const a = Buffer.from(withC.out.subarray(0, withC.rewrite(v, p.data, p.tsUs)));
      decodePacket(p.linkType, p.data, 0, p.data.length, Math.max(p.origLen, p.data.length), v);
      const b = plain.out.subarray(0, plain.rewrite(v, p.data, p.tsUs));
      if (!a.equals(b)) assert.unreachable(`${p.where}: the C path wrote\n${a.toString('hex')}\nrewriter.ts\n${b.toString('hex')}\ninput ${p.data.toString('hex')}`);
      // Where each header starts in the output (a packet by reference is cut there).
      for (let i = 0; i < v.depth; i++) assert.is(withC.mapOut(v.off[i]), plain.mapOut(v.off[i]), `${p.where}: header ${i} starts elsewhere`);
      compared++;
    };
    const random = seededRandom(11);
    const next = (): number => random() / 2 ** 32;
    // Twice each: the first time may find a cache empty and go to rewriter.ts, the
    // second then takes the C path.
    for (const p of [...corpus, ...imix]) { compare(p); compare(p); }
    const before = withC.commonRewritten;
    for (const p of imix) compare(p);
    assert.is(withC.commonRewritten - before, imix.length, 'every IMIX packet took the C path once its values were cached');
    for (const p of imix.slice(0, 400)) {
      if (!isCommonShape(p.data)) continue;
      for (const d of variants(p.data, next)) {
        const q = { ...p, data: d, origLen: d.length, where: `${p.where}, changed` };
        compare(q);
        compare(q);
      }
    }
    for (const p of imix.filter((q) => isCommonShape(q.data) && q.data[23] === 6).slice(0, 50)) {
      for (const opts of OPTION_SETS) {
        const q = { ...p, data: withOptions(p.data, opts), where: `${p.where} with options ${opts.join(',')}` };
        q.origLen = q.data.length;
        compare(q);
        compare(q);
      }
    }
    // Every input checksum of one UDP packet: one of them makes the new checksum 0,
    // which UDP sends as 0xffff (and 0 itself means "none" and stays 0).
    const udp = imix.find((p) => isCommonShape(p.data) && p.data[23] === 17);
    assert.ok(udp, 'a UDP packet in the trace');
    for (let ck = 0; ck < 0x10000; ck++) {
      const d = Buffer.from(udp!.data);
      d.writeUInt16BE(ck, 40);
      compare({ ...udp!, data: d, where: `${udp!.where} with UDP checksum ${ck}` });
    }
    assert.ok(withC.commonRewritten > compared / 3, `only ${withC.commonRewritten} of ${compared} records took the C path`);
    assert.equal(withC.counters, plain.counters);
  });
}

test('a policy with an action the C path does not implement keeps every packet in rewriter.ts', () => {
  const { file } = generated({ kind: 'imix', packets: 200 });
  for (const overrides of [{ 'ip4.id': 'hash' }, { 'tcp.sport': { action: 'bucket', edges: [0, 1024] } }, { 'ip4.src': { action: 'truncate', prefixLen: 24 } }]) {
    const rw = new PacketRewriter(testPrimitives(), fieldsWith(overrides));
    const v = new PacketView();
    for (const p of packetsOf([file])) {
      decodePacket(LinkType.EN10MB, p.data, 0, p.data.length, p.origLen, v);
      rw.rewrite(v, p.data, p.tsUs);
      rw.rewrite(v, p.data, p.tsUs);
    }
    assert.is(rw.commonRewritten, 0, JSON.stringify(overrides));
    assert.is(rw.counters.packets, 400);
  }
});

// The packets output's loop in C (packetsRun, PacketRewriter.rewriteRun) against the
// runtime's loop in JavaScript (child.ts work: the clock, decodePacket,
// AddressCollector.note, the rewrite, the record packed): over the records of a
// segment body, both must write the same records, report the same values in the same
// order, and leave the clock and every counter the same.

interface LoopResult {
  records: Buffer; hashes: string; lastUs: number; nextTick: number; counters: unknown; common: number; taken: number;
  /** The decoder's counters (the packets the C loop took counted as decoded). */
  decoded: string;
  /** The clock's next tick after the record of each index (counted over all segments) the loop stopped at. */
  ticks: Map<number, number>;
}


/**
 * The segments through one rewriter and one collector, by the JavaScript loop alone, or
 * with the loop in C taking what it takes first (up to a random count each time). The
 * records go to a small packed buffer, emptied into the result when the next does not
 * fit, so the C loop also stops for want of room.
 */
function runLoop(segments: { linkType: number; body: Buffer }[], fields: FieldActions, fast: boolean, seenSlots: number, seed: number): LoopResult {
  const rw = new PacketRewriter(testPrimitives(), fields);
  const coll = new AddressCollector(keyUser, seenSlots);
  const clock = new PacketClock(null);
  const v = new PacketView();
  const random = seededRandom(seed);
  const chunks: Buffer[] = [];
  const hashes: string[] = [];
  const packed = Buffer.alloc(6000);
  let at = 0;
  let taken = 0;
  let index = 0;
  const ticks = new Map<number, number>();
  const flushIfFull = (n: number): void => {
    if (at + n <= packed.length) return;
    chunks.push(Buffer.from(packed.subarray(0, at)));
    at = 0;
  };
  for (const { linkType, body } of segments) {
    const recs = new SegmentRecords(body);
    for (;;) {
      if (fast) {
        const k = rw.rewriteRun(recs, linkType, 1 + (random() % 300), packed, at, coll.seenSets(), clock);
        if (k > 0) {
          at = rw.runPackedEnd();
          index += k;
          ticks.set(index, clock.nextTick());
        }
        taken += k;
      }
      if (!recs.next()) break;
      clock.packet(recs.tsUs);
      decodePacket(linkType, body, recs.start, recs.end - recs.start, recs.origLen, v);
      coll.note(v, body);
      const n = rw.rewrite(v, body, recs.tsUs);
      flushIfFull(n);
      if (n > packed.length) {
        chunks.push(Buffer.from(rw.out.subarray(0, n)));
      } else {
        rw.out.copy(packed, at, 0, n);
        at += n;
      }
      ticks.set(++index, clock.nextTick());
    }
    const h = coll.take();
    if (h) hashes.push(Buffer.from(h).toString('hex'));
  }
  chunks.push(Buffer.from(packed.subarray(0, at)));
  return {
    records: Buffer.concat(chunks), hashes: hashes.join(','), lastUs: clock.lastUs, nextTick: clock.nextTick(), counters: { ...rw.counters },
    common: rw.commonRewritten, decoded: Array.from(v.counters, (n, i) => (i === DecodeCounter.packets ? n + taken : n)).join(','), taken, ticks,
  };
}

function compareLoops(segments: { linkType: number; body: Buffer }[], fields: FieldActions, seenSlots: number, what: string): LoopResult {
  const js = runLoop(segments, fields, false, seenSlots, 3);
  const c = runLoop(segments, fields, true, seenSlots, 3);
  if (!c.records.equals(js.records)) {
    let i = 0;
    while (i < js.records.length && c.records[i] === js.records[i]) i++;
    assert.unreachable(`${what}: the records differ from byte ${i} of ${js.records.length} (C loop ${c.records.length} bytes)`);
  }
  assert.is(c.hashes, js.hashes, `${what}: the values reported`);
  assert.is(c.lastUs, js.lastUs, `${what}: the clock's last time`);
  assert.is(c.nextTick, js.nextTick, `${what}: the clock's next tick`);
  assert.equal(c.counters, js.counters, `${what}: the rewriter's counters`);
  assert.is(c.common, js.common, `${what}: packets rewritten in C`);
  assert.is(c.decoded, js.decoded, `${what}: the decoder's counters`);
  for (const [i, t] of c.ticks) if (js.ticks.get(i) !== t) assert.unreachable(`${what}: after record ${i}, the next tick is ${t}, not ${js.ticks.get(i)}`);
  return c;
}

for (const [name, overrides] of policies) {
  test(`the packet loop in C writes, reports and counts what the JavaScript loop does: IMIX, changed packets${name === 'default policy' || name === 'payload zeroed' ? ', corpus' : ''} (${name})`, () => {
    const { file } = generated({ kind: 'imix', packets: 2000 });
    const imix = packetsOf([file]);
    const changed = changedPackets(imix, seededRandom(13));
    for (const p of imix.filter((q) => isCommonShape(q.data) && q.data[23] === 6).slice(0, 30)) {
      for (const opts of OPTION_SETS) {
        const d = withOptions(p.data, opts);
        changed.push(p, { ...p, data: d, origLen: d.length, where: `${p.where} with options` });
      }
    }
    const eth = (ps: Packet[]): { linkType: number; body: Buffer } => ({ linkType: LinkType.EN10MB, body: segmentBody(ps) });
    const segments = [eth(imix), eth(imix), eth(changed), eth(oddTimes(imix)), eth(steppedTimes(imix)), eth(imix)];
    if (name === 'default policy' || name === 'payload zeroed') {
      corpus ??= packetsOf(corpusFiles());
      // One segment per capture file, each of its own link type, amid the IMIX ones.
      segments.push(...corpusSegments(corpus));
      segments.push(eth(imix));
    }
    const fields = fieldsWith(overrides);
    const big = compareLoops(segments, fields, 1 << 18, name);
    // Sets small enough to be emptied again and again: the C loop sees them start over.
    compareLoops(segments.slice(0, 4), fields, 64, `${name}, small sets`);
    // The C loop takes the IMIX packets once their values are known (not under a policy it does not cover).
    assert.ok(big.taken > imix.length, `${name}: the C loop took ${big.taken} records`);
  });
}

test('the packet loop in C takes nothing of a policy without the C path, nor of another link type', () => {
  const { file } = generated({ kind: 'imix', packets: 300 });
  const imix = packetsOf([file]);
  const body = segmentBody(imix);
  const hashPolicy = compareLoops([{ linkType: LinkType.EN10MB, body }, { linkType: LinkType.EN10MB, body }], fieldsWith({ 'ip4.id': 'hash' }), 1 << 18, 'ip4.id hashed');
  assert.is(hashPolicy.taken, 0);
  // The same Ethernet bytes said to be raw IP: decoded as such by the JavaScript loop only.
  const raw = compareLoops([{ linkType: LinkType.EN10MB, body }, { linkType: LinkType.RAW, body }], fieldsWith({}), 1 << 18, 'raw IP');
  assert.ok(raw.taken > 0 && raw.taken < imix.length, `took ${raw.taken}`);
});

test.run();
