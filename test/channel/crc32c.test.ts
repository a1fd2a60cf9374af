import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32c, crc32cFast } from '../../firmware/channel/crc32c';

test('"123456789" gives the check value 0xE3069283', () => {
  assert.is(crc32c(Buffer.from('123456789')), 0xe3069283);
});

test('RFC 3720 vectors: 32 zero bytes and 32 0xFF bytes', () => {
  assert.is(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.is(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
});

test('RFC 3720 vector: 32 ascending bytes', () => {
  assert.is(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
});

test('empty input gives 0', () => {
  assert.is(crc32c(Buffer.alloc(0)), 0);
});

test('a range equals the CRC of the same bytes alone', () => {
  const b = Buffer.from('xx123456789yy');
  assert.is(crc32c(b, 2, 11), 0xe3069283);
});

test('crc32c in C (the writer\'s and the receiver\'s) gives the vectors and equals the definition on random frames, at every offset and length', () => {
  assert.is(crc32cFast(Buffer.from('123456789')), 0xe3069283);
  assert.is(crc32cFast(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.is(crc32cFast(Buffer.from('xx123456789yy'), 2, 11), 0xe3069283);
  assert.is(crc32cFast(Buffer.alloc(0)), 0);
  let seed = 5;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const b = Buffer.alloc(5000);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  for (let t = 0; t < 400; t++) {
    const start = Math.floor(rnd() * 40);
    const end = start + Math.floor(rnd() * (t < 100 ? 24 : b.length - start));
    assert.is(crc32cFast(b, start, end), crc32c(b, start, end), `bytes ${start}-${end}`);
  }
});

test('the writer\'s crc32c refuses a range outside its buffer', () => {
  assert.throws(() => crc32cFast(Buffer.alloc(4), 2, 5), /0 <= start <= end <= its length/);
  assert.throws(() => crc32cFast(Buffer.alloc(4), 3, 2), /0 <= start <= end <= its length/);
  for (const bad of [NaN, Infinity, 1.5, -1]) assert.throws(() => crc32cFast(Buffer.alloc(4), 0, bad), /0 <= start <= end <= its length/, `end ${bad}`);
});

test.run();
