// decode/bytes.ts: the unchecked big-endian accessors of the per-packet paths give the
// same numbers as Buffer's checked ones, at odd offsets and with the top bit set.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { put16, put32, u16, u32 } from '../../firmware/decode/bytes';
import { randomBytes, seededRandom } from '../lib/anonymize-fixtures';

test('u16 and u32 read what readUInt16BE and readUInt32BE read, at every offset', () => {
  const b = randomBytes(seededRandom(5), 64);
  b[7] = 0xff; // a word with its top bit set: u32 must stay unsigned
  for (let at = 0; at + 4 <= b.length; at++) {
    assert.is(u16(b, at), b.readUInt16BE(at), `u16 at ${at}`);
    assert.is(u32(b, at), b.readUInt32BE(at), `u32 at ${at}`);
  }
});

test('put16 and put32 write what writeUInt16BE and writeUInt32BE write, and nothing around it', () => {
  const next = seededRandom(6);
  for (let k = 0; k < 200; k++) {
    const at = 1 + (k % 7);
    const v32 = next() >>> 0;
    const v16 = v32 & 0xffff;
    const a = Buffer.alloc(16, 0xaa);
    const b = Buffer.alloc(16, 0xaa);
    put32(a, at, v32);
    b.writeUInt32BE(v32, at);
    assert.ok(a.equals(b), `put32 ${v32} at ${at}`);
    put16(a, at + 5, v16);
    b.writeUInt16BE(v16, at + 5);
    assert.ok(a.equals(b), `put16 ${v16} at ${at + 5}`);
  }
});

test('put32 takes a negative 32-bit int as its unsigned bit pattern (results of | and <<)', () => {
  const a = Buffer.alloc(4);
  put32(a, 0, (6 << 28) | (0xab << 20) | 0x12345);
  assert.is(a.toString('hex'), '6ab12345');
  put32(a, 0, -1);
  assert.is(a.toString('hex'), 'ffffffff');
});

test.run();
