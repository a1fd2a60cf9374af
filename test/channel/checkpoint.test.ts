import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { frameDigest, frameDigestReference } from '../../firmware/channel/checkpoint';
import { batchBinding } from '../../firmware/capture/batch-binding';

test('a frame\'s digest is SHA-256: the FIPS 180-2 vectors "abc" and the empty message', () => {
  assert.is(frameDigest(Buffer.from('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.is(frameDigest(Buffer.alloc(0)).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('the digest in C (the box\'s and the receiver\'s) equals the node:crypto definition on random frames of every length up to 5000 bytes, and on subarrays', () => {
  let seed = 11;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const b = Buffer.alloc(5000);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  for (let t = 0; t < 300; t++) {
    const start = Math.floor(rnd() * 64);
    const end = start + Math.floor(rnd() * (t < 100 ? 130 : b.length - start));
    const frame = b.subarray(start, end);
    assert.ok(frameDigest(frame).equals(frameDigestReference(frame)), `bytes ${start}-${end}`);
  }
});

test('the addon\'s sha256 hashes the range asked for into the first 32 bytes of out, and refuses bad ranges and a short out', () => {
  const b = Buffer.from('xxabcyy');
  const out = Buffer.alloc(40, 0xee);
  batchBinding.sha256(b, 2, 5, out);
  assert.is(out.subarray(0, 32).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.ok(out.subarray(32).every((x) => x === 0xee), 'nothing written past 32 bytes');
  assert.throws(() => batchBinding.sha256(b, 2, 8, out), /0 <= start <= end <= its length/);
  assert.throws(() => batchBinding.sha256(b, 3, 2, out), /0 <= start <= end <= its length/);
  for (const bad of [NaN, Infinity, 1.5, -1]) assert.throws(() => batchBinding.sha256(b, 0, bad, out), /0 <= start <= end <= its length/, `end ${bad}`);
  assert.throws(() => batchBinding.sha256(b, 0, 3, Buffer.alloc(31)), /at least 32 bytes/);
});

test.run();
