// packets/byteCopy.ts: the word-at-a-time header copy gives exactly Buffer.copy's
// result for every length around its word and size boundaries, at unaligned offsets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SMALL_COPY, copyBytes, viewOf } from '../../firmware/analysis/builtin/packets/byteCopy';
import { randomBytes, seededRandom } from '../lib/anonymize-fixtures';

test('copies exactly src[from, to) to dst at `at` for lengths 0..SMALL_COPY + 9', () => {
  const src = randomBytes(seededRandom(9), 1024);
  const sv = viewOf(src);
  for (let len = 0; len <= SMALL_COPY + 9; len++) {
    const from = 3 + (len % 5);
    const at = 1 + (len % 3);
    const got = Buffer.alloc(600, 0x5c);
    const want = Buffer.alloc(600, 0x5c);
    copyBytes(src, sv, from, from + len, got, viewOf(got), at);
    src.copy(want, at, from, from + len);
    assert.ok(got.equals(want), `length ${len}`);
  }
});

test('works on a Buffer that starts inside a larger ArrayBuffer (pooled Buffers)', () => {
  const whole = randomBytes(seededRandom(10), 256);
  const src = whole.subarray(13, 200);
  const dst = Buffer.alloc(300).subarray(7, 250);
  copyBytes(src, viewOf(src), 2, 63, dst, viewOf(dst), 5);
  assert.ok(dst.subarray(5, 66).equals(src.subarray(2, 63)));
  assert.is(dst[4], 0);
  assert.is(dst[66], 0);
});

test('refuses to read past the end of the source instead of copying other memory', () => {
  const src = Buffer.alloc(16).subarray(0, 8);
  const dst = Buffer.alloc(64);
  assert.throws(() => copyBytes(src, viewOf(src), 0, 12, dst, viewOf(dst), 0), RangeError);
});

test.run();
