// When the anonymization caches double (anonymize/cache-growth.ts), and that the caches
// that use it give the same answers at every size.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CacheGrowth } from '../../firmware/anonymize/cache-growth';
import { CryptoPan } from '../../firmware/anonymize/cryptopan';
import { MacPermutation } from '../../firmware/anonymize/mac';

function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

/** A byte from the generator's top bits (its low bits repeat with short periods). */
const byteOf = (next: () => number): number => next() >>> 24;

test('a cache doubles only when its misses outnumber its slots and are more than 1 lookup in 16', () => {
  const g = new CacheGrowth(4, 6); // 16 slots, at most 64
  // 16 misses in 16 lookups: no more misses than slots.
  for (let i = 0; i < 16; i++) {
    g.looked();
    assert.not.ok(g.missed());
  }
  // Many hits later, a miss more is 1 lookup in more than 16: no growth.
  for (let i = 0; i < 1000; i++) g.looked();
  g.looked();
  assert.not.ok(g.missed());
  assert.is(g.bits, 4);
  // Misses on every lookup: it doubles once the count passes the slots again.
  const g2 = new CacheGrowth(4, 6);
  let grew = 0;
  for (let i = 0; i < 17; i++) {
    g2.looked();
    if (g2.missed()) grew = i + 1;
  }
  assert.is(grew, 17);
  assert.is(g2.bits, 5);
  // And never past its limit.
  for (let i = 0; i < 10000; i++) {
    g2.looked();
    g2.missed();
  }
  assert.is(g2.bits, 6);
  // A million hits, then traffic the cache cannot hold: it grows within a few hundred
  // misses (counted over the whole run, it would take 62,500).
  const g3 = new CacheGrowth(4, 6);
  for (let i = 0; i < 1_000_000; i++) g3.looked();
  let misses = 0;
  while (g3.bits === 4) {
    g3.looked();
    g3.missed();
    misses++;
  }
  assert.ok(misses <= 300, `${misses} misses before it grew`);
});

test('a table renewed at the grown size is a new one of that size, the old one wiped', () => {
  const g = new CacheGrowth(4, 6);
  const keys = new Uint32Array(3 << 4).fill(7);
  const used = new Uint8Array(1 << 4).fill(1);
  for (let i = 0; i < 17; i++) {
    g.looked();
    g.missed();
  }
  assert.is(g.bits, 5);
  const k2 = g.renew(keys, 3);
  const u2 = g.renew(used, 1);
  assert.ok(k2 instanceof Uint32Array && k2.length === 3 << 5 && k2.every((x) => x === 0));
  assert.ok(u2 instanceof Uint8Array && u2.length === 1 << 5);
  assert.ok(keys.every((x) => x === 0) && used.every((x) => x === 0), 'the old tables are wiped');
});

test('the MAC cache grows with the MACs of a link and answers the same at every size', () => {
  const key = Buffer.alloc(32, 9);
  const next = seededRandom(1);
  const mac = (): Buffer => Buffer.from([byteOf(next) & 0xfe, byteOf(next), byteOf(next), byteOf(next), byteOf(next), byteOf(next)]);
  const anon = (p: MacPermutation, m: Buffer): string => {
    const b = Buffer.from(m);
    p.anonymizeMacInto(b, 0);
    return b.toString('hex');
  };
  // A few thousand MACs, seen again and again: the first size serves.
  const few = new MacPermutation(key);
  const some = Array.from({ length: 3000 }, mac);
  for (let round = 0; round < 20; round++) for (const m of some) anon(few, m);
  assert.is(few.cacheSlots(), 1 << 14);
  // 100,000 MACs: it grows, and every answer equals a fresh permutation's.
  const many = new MacPermutation(key);
  const macs = Array.from({ length: 100000 }, mac);
  const first = macs.map((m) => anon(many, m));
  for (const m of macs) anon(many, m);
  assert.ok(many.cacheSlots() > 1 << 14, `${many.cacheSlots()} slots`);
  assert.ok(many.cacheSlots() <= 1 << 18);
  const fresh = new MacPermutation(key);
  for (let i = 0; i < macs.length; i += 97) {
    assert.is(anon(many, macs[i]), first[i]);
    assert.is(anon(fresh, macs[i]), first[i]);
  }
});

test('the Crypto-PAn caches grow with the addresses of a link and answer the same at every size', () => {
  const key = Buffer.alloc(32, 7);
  const next = seededRandom(2);
  const few = new CryptoPan(key);
  const some = Array.from({ length: 3000 }, () => next());
  for (let round = 0; round < 20; round++) for (const a of some) few.anonymizeV4(a);
  assert.equal(few.cacheSlots(), { v4: 1 << 14, v6: 1 << 12 });
  const pan = new CryptoPan(key);
  const v4 = Array.from({ length: 100000 }, () => next());
  const v6 = Array.from({ length: 20000 }, () => Buffer.from(Array.from({ length: 16 }, () => byteOf(next))));
  const anon6 = (p: CryptoPan, a: Buffer): string => {
    const b = Buffer.from(a);
    p.anonymizeV6Into(b, 0);
    return b.toString('hex');
  };
  const first4 = v4.map((a) => pan.anonymizeV4(a));
  const first6 = v6.map((a) => anon6(pan, a));
  for (const a of v4) pan.anonymizeV4(a);
  for (const a of v6) anon6(pan, a);
  const slots = pan.cacheSlots();
  assert.ok(slots.v4 > 1 << 14 && slots.v4 <= 1 << 18, `IPv4: ${slots.v4} slots`);
  assert.ok(slots.v6 > 1 << 12 && slots.v6 <= 1 << 17, `IPv6: ${slots.v6} slots`);
  const fresh = new CryptoPan(key);
  for (let i = 0; i < v4.length; i += 101) {
    assert.is(pan.anonymizeV4(v4[i]), first4[i]);
    assert.is(fresh.anonymizeV4(v4[i]), first4[i]);
  }
  for (let i = 0; i < v6.length; i += 23) {
    assert.is(anon6(pan, v6[i]), first6[i]);
    assert.is(anon6(fresh, v6[i]), first6[i]);
  }
});

test('CacheGrowth counts n lookups at once as n lookups one by one', () => {
  const random = seededRandom(5);
  const next = (): number => random() / 2 ** 32;
  const one = new CacheGrowth(4, 8);
  const many = new CacheGrowth(4, 8);
  for (let round = 0; round < 20000; round++) {
    // Long stretches of lookups (the counts are halved) and short ones (misses win).
    const n = Math.floor(next() * (round % 1000 < 500 ? 3000 : 20));
    for (let i = 0; i < n; i++) one.looked();
    many.lookedTimes(n);
    const miss = next() < 0.7;
    if (miss) assert.is(many.missed(), one.missed(), `round ${round}`);
    assert.is(many.bits, one.bits);
  }
  assert.ok(one.bits > 4, 'the caches grew along the way');
});

test.run();
