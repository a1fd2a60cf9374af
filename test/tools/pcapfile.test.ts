import * as fs from 'fs';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countPcapRecords, encodePcap, parsePcap, readPcap, writePcap } from '../lib/pcapfile';
import { tempDir } from '../lib/samplegen-files';

const frames = [
  { tsSec: 1709294400, tsUsec: 1, data: Buffer.alloc(60, 0xaa) },
  { tsSec: 1709294400, tsUsec: 999999, data: Buffer.alloc(1514, 0xbb), origLen: 9000 },
  { tsSec: 1709294401, tsUsec: 5, data: Buffer.from([1, 2, 3]) },
];

test('reads back what it wrote: times, lengths, data and link type', () => {
  const file = path.join(tempDir(), 'roundtrip.pcap');
  writePcap(file, frames, 113);
  const p = readPcap(file);
  assert.is(p.error, null);
  assert.is(p.linkType, 113);
  assert.is(p.snaplen, 65535);
  assert.is(p.records.length, 3);
  p.records.forEach((r, i) => {
    assert.is(r.tsSec, frames[i].tsSec);
    assert.is(r.tsUsec, frames[i].tsUsec);
    assert.is(r.caplen, frames[i].data.length);
    assert.is(r.origLen, frames[i].origLen ?? frames[i].data.length);
    assert.ok(r.data.equals(frames[i].data));
  });
  assert.equal(countPcapRecords(file), { count: 3, bytes: 60 + 1514 + 3, error: null });
});

test('a file cut inside a record keeps the records before it and reports the cut', () => {
  const whole = encodePcap(frames);
  const p = parsePcap(whole.subarray(0, whole.length - 2));
  assert.is(p.records.length, 2);
  assert.match(p.error ?? '', 'record data truncated');
});

test('a file cut inside a record header keeps the records before it and reports the cut', () => {
  const whole = encodePcap(frames);
  const p = parsePcap(whole.subarray(0, 24 + 16 + 60 + 7));
  assert.is(p.records.length, 1);
  assert.match(p.error ?? '', 'record header truncated');
});

test('a file shorter than the file header reports it and has no records', () => {
  const p = parsePcap(Buffer.alloc(10));
  assert.is(p.records.length, 0);
  assert.match(p.error ?? '', 'file header truncated');
});

test('a pcapng file is refused with the conversion to use', () => {
  const ng = Buffer.alloc(28);
  ng.writeUInt32BE(0x0a0d0d0a, 0);
  const p = parsePcap(ng);
  assert.is(p.records.length, 0);
  assert.match(p.error ?? '', 'editcap -F pcap');
});

test('reads big-endian and nanosecond files', () => {
  const le = encodePcap(frames.slice(0, 1));
  const be = Buffer.alloc(le.length);
  be.writeUInt32BE(0xa1b23c4d, 0); // nanosecond magic, big-endian
  be.writeUInt16BE(2, 4);
  be.writeUInt16BE(4, 6);
  be.writeUInt32BE(65535, 16);
  be.writeUInt32BE(1, 20);
  be.writeUInt32BE(1709294400, 24);
  be.writeUInt32BE(123456789, 28);
  be.writeUInt32BE(60, 32);
  be.writeUInt32BE(60, 36);
  frames[0].data.copy(be, 40);
  const p = parsePcap(be);
  assert.is(p.error, null);
  assert.ok(p.nanosecond);
  assert.is(p.records[0].tsUsec, 123456789);
  assert.ok(p.records[0].data.equals(frames[0].data));
});

test('countPcapRecords reports a truncated file', () => {
  const file = path.join(tempDir(), 'cut.pcap');
  const whole = encodePcap(frames);
  fs.writeFileSync(file, whole.subarray(0, whole.length - 1));
  const c = countPcapRecords(file);
  assert.is(c.count, 2);
  assert.match(c.error ?? '', 'truncated');
});

test.run();
