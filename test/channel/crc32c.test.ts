import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32c } from '../../firmware/channel/crc32c';

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

test.run();
