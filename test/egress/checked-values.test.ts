// The guard's cache of values it checked: values that share their prefixes, as
// anonymized addresses do (Crypto-PAn keeps prefixes), stay cached once hashed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckedValues } from '../../firmware/egress/checked-values';

function steadyMisses(values: Buffer[], rounds: number): number {
  const cv = new CheckedValues();
  const hash = Buffer.alloc(8);
  let misses = 0;
  for (let r = 0; r < rounds; r++) {
    for (const v of values) {
      if (cv.find(v, 0, v.length) < 0) {
        if (r > 0) misses++;
        cv.store(v, 0, v.length, hash);
      }
    }
  }
  return misses;
}

test('1,224 IPv4 addresses in one /16 stay cached after their first check', () => {
  const values: Buffer[] = [];
  for (let i = 0; i < 1224; i++) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE((0x8a050000 + i * 37 + (i % 7) * 4096) >>> 0);
    values.push(b);
  }
  assert.is(steadyMisses(values, 20), 0);
});

test('addresses and MACs of a few thousand hosts together stay cached', () => {
  const values: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    const a = Buffer.alloc(4);
    a.writeUInt32BE((0x0a000000 + i) >>> 0);
    const m = Buffer.from([0x00, 0x1b, 0x21, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]);
    const six = Buffer.alloc(16);
    six.writeUInt32BE(0x20010db8, 0);
    six.writeUInt32BE(i, 12);
    values.push(a, m, six);
  }
  // 36,000 lookups after the first round: a rare set of five may still take turns.
  const misses = steadyMisses(values, 5);
  assert.ok(misses < 360, `${misses} misses, more than 1% of the lookups`);
});

test('a value is found only with its own length and bytes', () => {
  const cv = new CheckedValues();
  const h = Buffer.alloc(8, 1);
  const v = Buffer.from([10, 0, 0, 1, 0, 0]);
  assert.is(cv.find(v, 0, 4), -1);
  cv.store(v, 0, 4, h);
  assert.ok(cv.find(v, 0, 4) >= 0);
  assert.is(cv.find(v, 0, 6), -1, 'the same first four bytes, another length');
  assert.is(cv.find(Buffer.from([10, 0, 0, 2]), 0, 4), -1);
  assert.throws(() => cv.find(Buffer.alloc(20), 0, 17), /4, 6 or 16 bytes long, not 17/, 'no value of another length is compared on a part of it');
});

test('a hit is always the value itself: random values of all three lengths and their one-byte neighbours', () => {
  const cv = new CheckedValues(10); // 1,024 slots: sets fill up and evict
  let seed = 17;
  const rnd = (n: number): number => Math.floor(((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * n);
  const stored = new Map<string, Buffer>();
  const key = (v: Buffer): string => `${v.length}:${v.toString('hex')}`;
  const values: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    const len = [4, 6, 16][rnd(3)];
    // A shared prefix for many of them, as anonymized addresses have.
    const v = Buffer.alloc(len + 3);
    for (let j = 0; j < v.length; j++) v[j] = j < 2 && rnd(2) === 0 ? 0x0a : rnd(256);
    const at = rnd(4);
    const value = v.subarray(at, Math.min(v.length, at + len));
    if (value.length !== len) continue;
    const h = Buffer.alloc(8);
    h.writeUInt32BE(i, 0);
    h.writeUInt32BE(~i >>> 0, 4);
    if (cv.find(value, 0, len) < 0) cv.store(v, at, len, h);
    stored.set(key(value), h);
    values.push(Buffer.from(value));
  }
  let hits = 0;
  const check = (q: Buffer, len: number): void => {
    const r = cv.find(q, 0, len);
    if (r < 0) return;
    hits++;
    const want = stored.get(key(q.subarray(0, len)));
    assert.ok(want, `found ${q.subarray(0, len).toString('hex')} (${len} bytes), which was never stored`);
    assert.ok(cv.bytes.subarray(cv.hashAt(r), cv.hashAt(r) + 8).equals(want!), 'the hash of another value');
  };
  for (const v of values) {
    check(v, v.length);
    for (let j = 0; j < v.length; j++) {
      const n = Buffer.from(v);
      n[j] ^= 1 << rnd(8);
      check(n, n.length);
    }
    if (v.length > 4) check(v, 4);
  }
  assert.ok(hits > 1000, `only ${hits} hits: the cache kept almost nothing`);
});

test.run();
