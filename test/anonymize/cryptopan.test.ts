import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CryptoPan } from '../../firmware/anonymize/cryptopan';
import { SecretKey } from '../../firmware/keys/secret-key';
import { parseIPv4, parseIPv6, formatIPv4 } from '../../firmware/anonymize/ip-text';
import { commonPrefixBits, randomBytes, readCryptoPanVectors, seededRandom, slowCryptoPan } from '../lib/anonymize-fixtures';

const vectors = readCryptoPanVectors();

test('the vector file has the 100 IPv4 and 5 IPv6 reference pairs', () => {
  assert.is(vectors.v4.length, 100);
  assert.is(vectors.v6.length, 5);
});

test('matches all 100 IPv4 reference vectors (anonymizeV4)', () => {
  const pan = new CryptoPan(vectors.key);
  for (const [raw, anon] of vectors.v4) assert.is(formatIPv4(pan.anonymizeV4(parseIPv4(raw))), anon, raw);
});

test('matches all 100 IPv4 reference vectors in place at an offset (anonymizeV4Into)', () => {
  const pan = new CryptoPan(vectors.key);
  const buf = Buffer.alloc(4 + 3 + 4);
  for (const [raw, anon] of vectors.v4) {
    buf.fill(0xaa);
    buf.writeUInt32BE(parseIPv4(raw), 3);
    pan.anonymizeV4Into(buf, 3);
    assert.is(formatIPv4(buf.readUInt32BE(3)), anon, raw);
    assert.is(buf.readUInt16BE(1), 0xaaaa, 'bytes before the address untouched');
    assert.is(buf.readUInt32BE(7), 0xaaaaaaaa, 'bytes after the address untouched');
  }
});

test('matches the 5 IPv6 reference vectors (anonymizeText)', () => {
  const pan = new CryptoPan(vectors.key);
  for (const [raw, anon] of vectors.v6) assert.is(pan.anonymizeText(raw), anon, raw);
});

test('matches the 5 IPv6 reference vectors in place at an offset (anonymizeV6Into)', () => {
  const pan = new CryptoPan(vectors.key);
  for (const [raw, anon] of vectors.v6) {
    const buf = Buffer.alloc(16 + 5, 0x55);
    parseIPv6(raw)!.copy(buf, 5);
    pan.anonymizeV6Into(buf, 5);
    assert.ok(buf.subarray(5).equals(parseIPv6(anon)!), raw);
    assert.ok(buf.subarray(0, 5).equals(Buffer.alloc(5, 0x55)));
  }
});

test('agrees with a bit-at-a-time Crypto-PAn on random IPv4 and IPv6 addresses', () => {
  const next = seededRandom(1);
  const key = randomBytes(next, 32);
  const pan = new CryptoPan(key);
  for (let i = 0; i < 200; i++) {
    const a4 = randomBytes(next, 4);
    const want4 = slowCryptoPan(key, a4);
    assert.is(pan.anonymizeV4(a4.readUInt32BE(0)), want4.readUInt32BE(0));
    const a6 = randomBytes(next, 16);
    const want6 = slowCryptoPan(key, a6);
    pan.anonymizeV6Into(a6, 0);
    assert.ok(a6.equals(want6));
  }
});

test('cached results equal fresh results (repeated and clashing addresses)', () => {
  const pan = new CryptoPan(vectors.key);
  const next = seededRandom(2);
  // More addresses than cache slots, visited twice, so slots are overwritten.
  const addrs = Array.from({ length: 40000 }, () => next());
  const first = addrs.map((a) => pan.anonymizeV4(a));
  const fresh = new CryptoPan(vectors.key);
  for (let i = addrs.length - 1; i >= 0; i -= 7) {
    assert.is(pan.anonymizeV4(addrs[i]), first[i]);
    assert.is(fresh.anonymizeV4(addrs[i]), first[i]);
  }
  const six = Array.from({ length: 6000 }, () => randomBytes(next, 16));
  const once = six.map((a) => { const b = Buffer.from(a); pan.anonymizeV6Into(b, 0); return b; });
  for (let i = 0; i < six.length; i += 5) {
    const b = Buffer.from(six[i]);
    pan.anonymizeV6Into(b, 0);
    assert.ok(b.equals(once[i]));
  }
});

test('preserves the common prefix length of random IPv4 pairs', () => {
  const next = seededRandom(3);
  const pan = new CryptoPan(randomBytes(next, 32));
  for (let i = 0; i < 2000; i++) {
    const a = randomBytes(next, 4);
    // Share a random number of leading bits, then differ.
    const b = Buffer.from(a);
    const share = next() % 33;
    for (let bit = share; bit < 32; bit++) if (next() & 1) b[bit >> 3] ^= 0x80 >> (bit & 7);
    const before = commonPrefixBits(a, b);
    pan.anonymizeV4Into(a, 0);
    pan.anonymizeV4Into(b, 0);
    assert.is(commonPrefixBits(a, b), before);
  }
});

test('preserves the common prefix length of random IPv6 pairs', () => {
  const next = seededRandom(4);
  const pan = new CryptoPan(randomBytes(next, 32));
  for (let i = 0; i < 500; i++) {
    const a = randomBytes(next, 16);
    const b = Buffer.from(a);
    const share = next() % 129;
    for (let bit = share; bit < 128; bit++) if (next() & 1) b[bit >> 3] ^= 0x80 >> (bit & 7);
    const before = commonPrefixBits(a, b);
    pan.anonymizeV6Into(a, 0);
    pan.anonymizeV6Into(b, 0);
    assert.is(commonPrefixBits(a, b), before);
  }
});

test('accepts a SecretKey-like key and reads it only inside use()', () => {
  let inside = false;
  let calls = 0;
  const holder = {
    use<T>(fn: (b: Buffer) => T): T {
      calls++;
      inside = true;
      try { return fn(vectors.key); } finally { inside = false; }
    },
  };
  const pan = new CryptoPan(holder);
  assert.not.ok(inside);
  assert.is(calls, 1);
  assert.is(pan.anonymizeText('24.5.0.80'), '100.9.15.210');
});

test('works with a SecretKey from the keyring', () => {
  const pan = new CryptoPan(SecretKey.fromBytes(Buffer.from(vectors.key)));
  for (const [raw, anon] of vectors.v4.slice(0, 10)) assert.is(pan.anonymizeText(raw), anon);
  for (const [raw, anon] of vectors.v6) assert.is(pan.anonymizeText(raw), anon);
});

test('refuses a key that is not 32 bytes', () => {
  assert.throws(() => new CryptoPan(Buffer.alloc(16)), /must be 32 bytes, got 16/);
});

test('refuses text that is not an address, naming the input', () => {
  const pan = new CryptoPan(vectors.key);
  for (const bad of ['', 'foo', '1.2.3', '1.2.3.256', '01.2.3.4', '1.2.3.4.5', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', '12345::', '::g']) {
    assert.throws(() => pan.anonymizeText(bad), (e: Error) => e.message === `${JSON.stringify(bad)} is not an IPv4 or IPv6 address`, bad);
  }
});

test('refuses to work after destroy()', () => {
  const pan = new CryptoPan(vectors.key);
  pan.destroy();
  assert.throws(() => pan.anonymizeV4(0x01020304), /destroyed/);
});

test('refuses an IPv4 address that does not fit in the buffer (anonymizeV4Into)', () => {
  const pan = new CryptoPan(vectors.key);
  const b = Buffer.from([10, 1, 2]);
  assert.throws(() => pan.anonymizeV4Into(b, 0), RangeError);
  assert.throws(() => pan.anonymizeV4Into(Buffer.alloc(8), 5), RangeError);
  assert.throws(() => pan.anonymizeV4Into(Buffer.alloc(8), -1), RangeError);
  assert.is(b.toString('hex'), '0a0102');
});

test('refuses an IPv6 address that does not fit in the buffer (anonymizeV6Into)', () => {
  const pan = new CryptoPan(vectors.key);
  const b = Buffer.alloc(15, 0x20);
  assert.throws(() => pan.anonymizeV6Into(b, 0), RangeError);
  assert.throws(() => pan.anonymizeV6Into(Buffer.alloc(20), 5), RangeError);
  assert.throws(() => pan.anonymizeV6Into(Buffer.alloc(20), -1), RangeError);
  assert.ok(b.equals(Buffer.alloc(15, 0x20)));
});

test.run();
