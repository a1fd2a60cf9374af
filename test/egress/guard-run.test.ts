// The guard's check of a run of PACKET records in C (passesRunAt, the capture addon's
// guardRun) against its definition, the check of one record in JavaScript
// (passesPacketAt): the C check may leave a record to the full check, but every record
// it passes, the full check passes, with the same guard in the same state. Held on every
// rewritten packet of tcpdump's corpus and of a generated IMIX trace, on each with a byte
// changed, with a raw value written into it, and with a byte after its headers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { AddressCollector } from '../../firmware/analysis/addresses';
import { decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { PacketRewriter } from '../../firmware/analysis/builtin/packets/rewriter';
import { EgressGuard } from '../../firmware/egress/guard';
import { addon } from '../../firmware/capture/addon';
import { corpusFiles } from '../lib/corpusFiles';
import { fieldsWith, testPrimitives } from '../lib/packets-rewrite';
import { readCaptureFile } from '../lib/readCaptureFile';
import { generated } from '../lib/samplegen-files';
import { seededRandom } from '../lib/anonymize-fixtures';
import { key, record } from './guardFixtures';

interface Rec { rec: Buffer; linkType: number; where: string; raw: Buffer }

/** The box's path: the collector notes the raw values, the packets output rewrites; records with the frames they came from. */
function rewriteAll(files: string[], overrides: Record<string, unknown>, learned: EgressGuard): Rec[] {
  const k = key();
  const collector = new AddressCollector(k);
  const rw = new PacketRewriter(testPrimitives(), fieldsWith(overrides));
  const v = new PacketView();
  const out: Rec[] = [];
  for (const file of files) {
    readCaptureFile(file).packets.forEach((p, i) => {
      decodePacket(p.linkType, p.data, p.off, p.caplen, p.origLen, v);
      collector.note(v, p.data);
      const n = rw.rewrite(v, p.data, p.tsUs);
      out.push({ rec: Buffer.from(rw.out.subarray(0, n)), linkType: p.linkType, where: `${path.basename(file)} packet ${i + 1}`, raw: Buffer.from(p.data.subarray(p.off, p.off + p.caplen)) });
    });
    const h = collector.take();
    if (h) learned.learn(h);
  }
  return out;
}

/**
 * Checks one record the C way before and after the full check (which fills the cache):
 * each pass must agree with the full verdict. Returns whether the C check passed it
 * after the full check had seen it.
 */
function agree(g: EgressGuard, rec: Buffer, linkType: number, where: string): boolean {
  // Where the record ends as the egress sink takes it from a run: by its own caplen.
  const end = Math.min(rec.length, rec.length >= 16 ? 16 + rec.readUInt32LE(8) : rec.length);
  const before = g.passesRunAt(rec, 0, 1, linkType);
  const full = g.passesPacketAt(rec, 0, end, linkType);
  const after = g.passesRunAt(rec, 0, 1, linkType);
  if ((before === 1 || after === 1) && !full) assert.unreachable(`${where}: passed in C (${before}, ${after}), refused in full: ${rec.toString('hex')}`);
  if (after === 1) assert.is(g.runEnd, end, `${where}: the run ends after the record`);
  return after === 1;
}

/** Offsets of the two MACs and two addresses of an Ethernet/IPv4|IPv6 frame in a record, or null. */
function valueSpots(rec: Buffer): [number, number][] | null {
  if (rec.length < 16 + 14) return null;
  const type = rec.readUInt16BE(16 + 12);
  const q = 16 + 14;
  if (type === 0x0800 && rec.length >= q + 20) return [[16, 6], [22, 6], [q + 12, 4], [q + 16, 4]];
  if (type === 0x86dd && rec.length >= q + 40) return [[16, 6], [22, 6], [q + 8, 16], [q + 24, 16]];
  return null;
}

const policies: [string, Record<string, unknown>][] = [
  ['default policy', {}],
  ['payload zeroed', { payload: 'zero' }],
];

for (const [name, overrides] of policies) {
  test(`every record the C check passes, the full check passes: the corpus and an IMIX trace, as rewritten and changed (${name})`, () => {
    const { file: imix } = generated({ kind: 'imix', packets: 3000 });
    const learned = new EgressGuard(key());
    const empty = new EgressGuard(key());
    const recs = rewriteAll([...corpusFiles(), imix], overrides, learned);
    const random = seededRandom(7);
    const next = (): number => random() / 2 ** 32;
    let passedInC = 0;
    let imixInC = 0;
    let imixRecords = 0;
    let changed = 0;
    for (const r of recs) {
      for (const g of [empty, learned]) {
        const ok = agree(g, r.rec, r.linkType, r.where);
        if (g === learned && ok) passedInC++;
        if (g === learned && r.where.startsWith(path.basename(imix))) { imixRecords++; if (ok) imixInC++; }
      }
      const spots = valueSpots(r.rec);
      if (r.linkType !== LinkType.EN10MB || spots === null) continue;
      // One byte changed anywhere, three times.
      for (let k = 0; k < 3; k++) {
        const m = Buffer.from(r.rec);
        const at = Math.floor(next() * m.length);
        m[at] ^= 1 + Math.floor(next() * 255);
        agree(learned, m, r.linkType, `${r.where} with byte ${at} changed`);
        changed++;
      }
      // The raw frame's own MACs and addresses written back over the anonymized ones.
      const rawSpots = valueSpots(record(r.raw));
      if (rawSpots !== null && rawSpots.length === spots.length) {
        for (let s = 0; s < spots.length; s++) {
          const m = Buffer.from(r.rec);
          const [at, len] = spots[s];
          const [rawAt] = rawSpots[s];
          if (rawAt + len > r.raw.length + 16 || at + len > m.length) continue;
          r.raw.copy(m, at, rawAt - 16, rawAt - 16 + len);
          if (m.equals(r.rec)) continue;
          agree(learned, m, r.linkType, `${r.where} with its raw value ${s} back`);
          changed++;
        }
      }
      // A byte past the headers: the rewriter keeps none there but zeros.
      const tail = Buffer.concat([r.rec, Buffer.from([0x5a])]);
      tail.writeUInt32LE(r.rec.readUInt32LE(8) + 1, 8);
      tail.writeUInt32LE(Math.max(r.rec.readUInt32LE(12), r.rec.readUInt32LE(8) + 1), 12);
      assert.is(learned.passesRunAt(tail, 0, 1, r.linkType), 0, `${r.where}: a record with a byte after its headers passed in C`);
      agree(learned, tail, r.linkType, `${r.where} with a byte after its headers`);
    }
    assert.ok(changed > 10000, `only ${changed} changed records`);
    // The C check does the work it is for: nearly every record of the IMIX trace.
    assert.ok(imixInC >= imixRecords * 0.99, `${imixInC} of ${imixRecords} IMIX records passed in C`);
    assert.ok(passedInC > imixInC, 'some corpus records passed in C too');
  });
}

test('a run is passed up to the first record the C check leaves, which the full check then takes', () => {
  const { file } = generated({ kind: 'imix', packets: 200 });
  const learned = new EgressGuard(key());
  const recs = rewriteAll([file], {}, learned);
  for (const r of recs) learned.passesPacketAt(r.rec, 0, r.rec.length, r.linkType);
  // Record 120 gets a byte after its headers: refused in full, never passed in C.
  const parts = recs.map((r) => r.rec);
  const bad = Buffer.concat([parts[120], Buffer.from([1])]);
  bad.writeUInt32LE(parts[120].readUInt32LE(8) + 1, 8);
  bad.writeUInt32LE(parts[120].readUInt32LE(8) + 1, 12);
  parts[120] = bad;
  const run = Buffer.concat(parts);
  assert.is(learned.passesRunAt(run, 0, parts.length, LinkType.EN10MB), 120);
  const at = learned.runEnd;
  assert.is(at, parts.slice(0, 120).reduce((n, p) => n + p.length, 0));
  assert.is(learned.passesPacketAt(run, at, at + bad.length, LinkType.EN10MB), false);
  assert.is(learned.passesRunAt(run, at + bad.length, parts.length - 121, LinkType.EN10MB), parts.length - 121);
  assert.is(learned.runEnd, run.length);
  // Another link type is left to the full check whole.
  assert.is(learned.passesRunAt(run, 0, parts.length, LinkType.RAW), 0);
});

test('guardRun refuses arguments that do not describe a checked-values table', () => {
  const res = new Int32Array(2);
  const run = Buffer.alloc(64);
  assert.throws(() => addon().guardRun(run, 0, 1, 1, new Uint32Array(100), 16, 0, res), /guardRun\(run, off, count/);
  assert.throws(() => addon().guardRun(run, 65, 1, 1, new Uint32Array(8 << 16), 16, 0, res), /guardRun\(run, off, count/);
  assert.throws(() => addon().guardRun(run, 0, 1, 1, new Uint32Array(8 << 16), 16, 0, new Int32Array(1)), /guardRun\(run, off, count/);
});

test.run();
