// SegmentRecords: the walk over an opened segment's pcap records that the analysis and
// the module's runtime share (a packet's index, and so its position, must agree).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { recordOffsets, SegmentRecords } from '../../firmware/analysis/segment-records';

function rec(sec: number, usec: number, caplen: number, origLen: number): Buffer {
  const r = Buffer.alloc(16 + caplen, 0xab);
  r.writeUInt32LE(sec, 0);
  r.writeUInt32LE(usec, 4);
  r.writeUInt32LE(caplen, 8);
  r.writeUInt32LE(origLen, 12);
  return r;
}

test('walks every record: time, lengths and where its bytes are, in a body that is a view at an offset', () => {
  const recs = [rec(1_700_000_000, 999_999, 60, 60), rec(0xffffffff, 0, 0, 1514), rec(5, 7, 1500, 9000)];
  const whole = Buffer.concat([Buffer.alloc(13, 1), ...recs, Buffer.alloc(5, 2)]);
  const body = whole.subarray(13, whole.length - 5);
  const r = new SegmentRecords(body);
  const seen: number[][] = [];
  while (r.next()) seen.push([r.index, r.tsUs, r.origLen, r.start, r.end]);
  assert.equal(seen, [
    [0, 1_700_000_000 * 1e6 + 999_999, 60, 16, 76],
    [1, 0xffffffff * 1e6, 1514, 92, 92],
    [2, 5e6 + 7, 9000, 108, 1608],
  ]);
  assert.ok(r.done());
  assert.equal(recordOffsets(body), [0, 76, 92]);
});

test('a torn last record keeps what is there; a header cut short is not a record', () => {
  const body = Buffer.concat([rec(1, 2, 40, 40), rec(3, 4, 100, 100).subarray(0, 16 + 30)]);
  const r = new SegmentRecords(body);
  assert.ok(r.next());
  assert.ok(r.next());
  assert.is(r.start, 72);
  assert.is(r.end, body.length, 'cut to the body');
  assert.not.ok(r.next());
  const cut = new SegmentRecords(Buffer.concat([rec(1, 2, 8, 8), Buffer.alloc(10)]));
  assert.ok(cut.next());
  assert.not.ok(cut.next(), '10 bytes are no header');
  assert.is(cut.index, 0);
});

test.run();
