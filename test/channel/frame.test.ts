import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deflateRawSync } from 'node:zlib';
import {
  buildFrame, countPackedRecords, decodeFrame, frameToWire, packRecords, unpackRecords, fragmentRecord, parseFragment,
  compressBody, frameBody, DecodedFrame, FLAG_DEFLATED, FLAG_FRAGMENT, HEADER_BYTES, MAX_BODY_BYTES, MAX_UNFRAGMENTED_RECORD,
} from '../../firmware/channel/frame';
import { cobsEncode } from '../../firmware/channel/cobs';
import { crc32c } from '../../firmware/channel/crc32c';
import { RecordType } from '../../firmware/channel/records';

const session = Buffer.from('0102030405060708', 'hex');

function block(wire: Buffer): Buffer {
  assert.is(wire[wire.length - 1], 0, 'frame ends with the delimiter');
  return wire.subarray(0, wire.length - 1);
}

/** A raw frame with the CRC recomputed, so only the field under test is wrong. */
function withCrc(raw: Buffer): Buffer {
  const end = raw.length - 4;
  raw.writeUInt32BE(crc32c(raw, 0, end), end);
  return cobsEncode(raw);
}

const goodRaw = (): Buffer => buildFrame({ flags: 0, type: RecordType.FLOW, session, seq: 7, payload: packRecords([Buffer.from('{"a":1}')]) });

test('a frame round-trips through the line encoding', () => {
  const payload = packRecords([Buffer.from('{"x":1}'), Buffer.from('{"y":2}')]);
  const wire = frameToWire(buildFrame({ flags: 0, type: RecordType.DNS, session, seq: 0xfffffffe, payload }));
  assert.is(wire.indexOf(0), wire.length - 1, 'only the delimiter is zero');
  const f = decodeFrame(block(wire)) as DecodedFrame;
  assert.type(f, 'object');
  assert.is(f.type, RecordType.DNS);
  assert.is(f.seq, 0xfffffffe);
  assert.equal(f.session, session);
  assert.equal(unpackRecords(frameBody(f) as Buffer)?.map(String), ['{"x":1}', '{"y":2}']);
});

test('header layout: version 1 in the high nibble, type, session, seq, length', () => {
  const raw = buildFrame({ flags: FLAG_DEFLATED, type: 5, session, seq: 258, payload: Buffer.from([9, 9, 9]) });
  assert.is(raw[0], 0x11);
  assert.is(raw[1], 5);
  assert.equal(raw.subarray(2, 10), session);
  assert.is(raw.readUInt32BE(10), 258);
  assert.is(raw.readUInt16BE(14), 3);
  assert.is(raw.length, HEADER_BYTES + 3 + 4);
});

test('names a bad COBS block "cobs"', () => {
  assert.is(decodeFrame(Buffer.from([0x09, 1, 2])), 'cobs');
});

test('names a block shorter than a header "short"', () => {
  assert.is(decodeFrame(cobsEncode(Buffer.from([0x10, 4, 1, 2, 3]))), 'short');
});

test('names a flipped bit "crc"', () => {
  const raw = goodRaw();
  raw[HEADER_BYTES + 1] ^= 0x04;
  assert.is(decodeFrame(cobsEncode(raw)), 'crc');
});

test('names an unknown version "version"', () => {
  const raw = goodRaw();
  raw[0] = 0x20;
  assert.is(decodeFrame(withCrc(raw)), 'version');
});

test('names a length field that disagrees with the frame "length"', () => {
  const raw = goodRaw();
  raw.writeUInt16BE(raw.readUInt16BE(14) + 1, 14);
  assert.is(decodeFrame(withCrc(raw)), 'length');
});

test('names an unknown record type "type"', () => {
  const raw = goodRaw();
  raw[1] = 200;
  assert.is(decodeFrame(withCrc(raw)), 'type');
});

test('deflates a body that compresses and flags it', () => {
  const body = packRecords(Array.from({ length: 20 }, (_, i) => Buffer.from(`{"srcAddr":"10.0.0.${i}","dstAddr":"10.0.0.1"}`)));
  const c = compressBody(body);
  assert.is(c.flags, FLAG_DEFLATED);
  assert.ok(c.payload.length < body.length);
  assert.equal(frameBody({ flags: c.flags, type: 4, session, seq: 0, payload: c.payload }), body);
});

test('leaves an incompressible body as it is', () => {
  const body = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) & 0xff ^ (i >> 3)));
  const random = Buffer.alloc(300);
  for (let i = 0; i < 300; i++) random[i] = (Math.sin(i) * 10000) & 0xff;
  const c = compressBody(random);
  assert.is(c.flags, 0);
  assert.equal(c.payload, random);
  assert.ok(body.length > 0);
});

test('refuses a deflated body that inflates beyond the limit (deflate bomb)', () => {
  const bomb = deflateRawSync(Buffer.alloc(MAX_BODY_BYTES * 4));
  assert.is(frameBody({ flags: FLAG_DEFLATED, type: 4, session, seq: 0, payload: bomb }), null);
});

test('refuses a corrupt deflate stream', () => {
  assert.is(frameBody({ flags: FLAG_DEFLATED, type: 4, session, seq: 0, payload: Buffer.from([0xff, 0xff, 0xff]) }), null);
});

test('refuses a batch whose record length runs past the end', () => {
  const body = packRecords([Buffer.from('abc')]);
  body.writeUInt16BE(10, 0);
  assert.is(unpackRecords(body), null);
});

test('countPackedRecords agrees with unpackRecords on random batch bodies, whole and cut short', () => {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 500; i++) {
    const records = Array.from({ length: rnd(6) }, () => Buffer.alloc(rnd(300), i));
    const whole = packRecords(records);
    const bodies = [whole, whole.subarray(0, rnd(whole.length + 1)), Buffer.from(Array.from({ length: rnd(20) }, () => rnd(256)))];
    for (const body of bodies) {
      const recs = unpackRecords(body);
      assert.is(countPackedRecords(body), recs === null ? -1 : recs.length);
    }
    assert.is(countPackedRecords(whole), records.length);
  }
});

test('refuses to batch a record that needs fragments', () => {
  assert.throws(() => packRecords([Buffer.alloc(MAX_UNFRAGMENTED_RECORD + 1)]), /fragmented/);
});

test('fragments a long record and reassembles it', () => {
  const rec = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 0xff));
  const parts = fragmentRecord(rec);
  assert.ok(parts.length >= 5);
  const out = Buffer.alloc(rec.length);
  for (const p of parts) {
    const f = parseFragment(p);
    assert.ok(f);
    f!.bytes.copy(out, f!.offset);
    assert.is(f!.total, 5000);
  }
  assert.equal(out, rec);
  assert.is(FLAG_FRAGMENT, 8);
});

test('refuses a fragment that claims bytes past its record', () => {
  const p = fragmentRecord(Buffer.alloc(100))[0];
  p.writeUInt32BE(50, 0);
  assert.is(parseFragment(p), null);
});

test('refuses a fragment shorter than its header', () => {
  assert.is(parseFragment(Buffer.alloc(5)), null);
});

test.run();
