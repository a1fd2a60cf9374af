import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PcapFileWriter } from '../../firmware/receiver/pcap-file';
import { batchBinding } from '../../firmware/capture/batch-binding';

let seed = 7;
const rnd = (n: number): number => Math.floor(((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * n);

/** A pcap record of `caplen` bytes after its header; `bad` spoils the header one of four ways. */
function record(caplen: number, bad = -1): Buffer {
  const r = Buffer.alloc(16 + caplen);
  r.writeUInt32LE(1700000000 + rnd(1000), 0);
  r.writeUInt32LE(rnd(1000000), 4);
  r.writeUInt32LE(caplen, 8);
  r.writeUInt32LE(caplen + rnd(1500), 12);
  for (let i = 16; i < r.length; i++) r[i] = rnd(256);
  if (bad === 0) r.writeUInt32LE(caplen + 1, 8); // caplen is not the bytes after the header
  if (bad === 1) r.writeUInt32LE(caplen - 1, 12); // origlen below caplen
  if (bad === 2) r.writeUInt32LE(300000, 8); // caplen over the snap length
  return bad === 3 ? r.subarray(0, 10) : r; // shorter than a header
}

/** A PACKET frame body: each record behind its u16 big-endian length. */
function body(records: Buffer[]): Buffer {
  return Buffer.concat(records.flatMap((r) => {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(r.length);
    return [len, r];
  }));
}

function tmp(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-pcap-')), name);
}

test('writePacked writes and counts exactly what writeRange does record by record, malformed records among them, across many buffer fills', () => {
  const a = new PcapFileWriter(tmp('packed.pcap'), 1);
  const b = new PcapFileWriter(tmp('ranges.pcap'), 1);
  try {
    for (let f = 0; f < 2000; f++) {
      const recs: Buffer[] = [];
      let size = 0;
      // Bodies up to the 4 KiB of a frame, records of 0 to 1514 bytes, one in ten malformed.
      while (size < 4000) {
        const r = record(rnd(10) === 0 ? rnd(60) : rnd(1515), rnd(10) === 0 ? rnd(4) : -1);
        if (size + r.length + 2 > 4080) break;
        recs.push(r);
        size += r.length + 2;
      }
      const bd = body(recs);
      a.writePacked(bd);
      for (let o = 0; o < bd.length;) {
        const start = o + 2;
        o = start + bd.readUInt16BE(o);
        b.writeRange(bd, start, o);
      }
    }
    assert.ok(a.packets > 5000, `${a.packets} records written`);
    assert.ok(a.malformed > 500, `${a.malformed} malformed`);
    assert.is(a.packets, b.packets);
    assert.is(a.malformed, b.malformed);
  } finally {
    a.close();
    b.close();
  }
  assert.ok(fs.readFileSync(a.path).equals(fs.readFileSync(b.path)), 'the same file');
  assert.ok(fs.statSync(a.path).size > 64 * 1024 * 10, 'many 64 KiB buffers were filled');
});

test('an empty body writes nothing; a body of malformed records only counts them', () => {
  const w = new PcapFileWriter(tmp('empty.pcap'), 1);
  w.writePacked(Buffer.alloc(0));
  w.writePacked(body([record(20, 0), record(0, 3), record(40, 1)]));
  w.close();
  assert.is(w.packets, 0);
  assert.is(w.malformed, 3);
  assert.is(fs.statSync(w.path).size, 24);
});

test('the addon\'s pcapUnpack stops before a record that does not fit and says where; it refuses bad arguments', () => {
  const recs = [record(100), record(100), record(100)];
  const bd = body(recs);
  const out = Buffer.alloc(250);
  const res = new Int32Array(4);
  batchBinding.pcapUnpack(bd, 0, out, 0, res);
  assert.equal([...res], [2 * 118, 232, 2, 0]);
  assert.ok(out.subarray(0, 116).equals(recs[0]) && out.subarray(116, 232).equals(recs[1]));
  batchBinding.pcapUnpack(bd, res[0], out, 0, res);
  assert.equal([...res], [bd.length, 116, 1, 0]);
  assert.ok(out.subarray(0, 116).equals(recs[2]));
  assert.throws(() => batchBinding.pcapUnpack(bd, bd.length + 1, out, 0, res), /0 <= start <= its length/);
  assert.throws(() => batchBinding.pcapUnpack(bd, 0, out, 251, res), /0 <= outStart <= its length/);
  assert.throws(() => batchBinding.pcapUnpack(bd, 0, out, 0, new Int32Array(3)), /Int32Array of 4/);
  assert.throws(() => batchBinding.pcapUnpack(bd, 0.5, out, 0, res), /0 <= start <= its length/);
});

test.run();
