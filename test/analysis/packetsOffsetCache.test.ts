// packets/offsetCache.ts: one lookup gives both directions' TCP sequence offsets, the
// same as FlowOffsets computes them, whether the entry was cached, fresh, or pushed out
// by a colliding 4-tuple.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FlowOffsets } from '../../firmware/anonymize/transforms';
import { OffsetCache } from '../../firmware/analysis/builtin/packets/offsetCache';
import { randomBytes, seededRandom } from '../lib/anonymize-fixtures';

const next = seededRandom(31);
const offsets = new FlowOffsets(randomBytes(next, 32));

test('IPv4: forward is the packet direction\'s offset and reverse the other direction\'s, cached or not', () => {
  const cache = new OffsetCache(offsets);
  // 100,000 tuples into 65,536 slots: many collide, and each is looked up twice.
  const buf = randomBytes(next, 8 * 100000);
  const ports = Array.from({ length: 100000 }, () => next() >>> 0);
  for (const round of [0, 1]) {
    for (let i = 0; i < 100000; i += round === 0 ? 1 : 13) {
      const sport = ports[i] >>> 16;
      const dport = ports[i] & 0xffff;
      cache.lookup(buf, 8 * i, 8 * i + 4, 4, sport, dport);
      const src = buf.readUInt32BE(8 * i);
      const dst = buf.readUInt32BE(8 * i + 4);
      if (i % 7 === 0 || round === 1) {
        assert.is(cache.forward, offsets.offsetV4(src, dst, sport, dport), `forward ${i}`);
        assert.is(cache.reverse, offsets.offsetV4(dst, src, dport, sport), `reverse ${i}`);
      }
    }
  }
});

test('the cache grows with the connections of a busy link and gives the same offsets at every size', () => {
  const few = new OffsetCache(offsets);
  const fewBuf = randomBytes(next, 8 * 3000);
  for (let round = 0; round < 20; round++) for (let i = 0; i < 3000; i++) few.lookup(fewBuf, 8 * i, 8 * i + 4, 4, 1000 + i, 443);
  assert.is(few.slots(), 1 << 16, 'a few thousand connections keep the first size');
  const cache = new OffsetCache(offsets);
  const buf = randomBytes(next, 8 * 200000);
  for (const round of [0, 1, 2]) {
    for (let i = 0; i < 200000; i++) {
      cache.lookup(buf, 8 * i, 8 * i + 4, 4, 2000 + (i & 0xfff), 80);
      if (round === 2 && i % 11 === 0) {
        assert.is(cache.forward, offsets.offsetV4(buf.readUInt32BE(8 * i), buf.readUInt32BE(8 * i + 4), 2000 + (i & 0xfff), 80), `forward ${i}`);
        assert.is(cache.reverse, offsets.offsetV4(buf.readUInt32BE(8 * i + 4), buf.readUInt32BE(8 * i), 80, 2000 + (i & 0xfff)), `reverse ${i}`);
      }
    }
  }
  assert.ok(cache.slots() > 1 << 16 && cache.slots() <= 1 << 18, `${cache.slots()} slots`);
});

test('after growing, the cache finds what it has just stored', () => {
  let computed = 0;
  const counting = {
    offsetV4: (...a: Parameters<FlowOffsets['offsetV4']>) => { computed++; return offsets.offsetV4(...a); },
    offsetV6: (...a: Parameters<FlowOffsets['offsetV6']>) => { computed++; return offsets.offsetV6(...a); },
  } as unknown as FlowOffsets;
  const cache = new OffsetCache(counting);
  const n = 100000;
  const buf = randomBytes(next, 8 * n);
  const at = (i: number): void => cache.lookup(buf, 8 * i, 8 * i + 4, 4, 3000 + (i & 0xfff), 443);
  for (let round = 0; round < 3; round++) for (let i = 0; i < n; i++) at(i);
  assert.ok(cache.slots() > 1 << 16, `${cache.slots()} slots`);
  // A tuple looked up twice in a row is computed at most once: stored and looked up at
  // the same slot of the grown table.
  let again = 0;
  for (let i = 0; i < n; i += 3) {
    at(i);
    const before = computed;
    at(i);
    if (computed !== before) again++;
  }
  assert.is(again, 0);
});

test('IPv6: the same for 16-byte addresses', () => {
  const cache = new OffsetCache(offsets);
  const buf = randomBytes(next, 32 * 500);
  for (const round of [0, 1]) {
    for (let i = 0; i < 500; i++) {
      cache.lookup(buf, 32 * i, 32 * i + 16, 16, 1000 + i, 443);
      assert.is(cache.forward, offsets.offsetV6(buf, 32 * i, 32 * i + 16, 1000 + i, 443), `forward ${i} round ${round}`);
      assert.is(cache.reverse, offsets.offsetV6(buf, 32 * i + 16, 32 * i, 443, 1000 + i), `reverse ${i} round ${round}`);
    }
  }
});

test('the two directions of one connection get each other\'s offsets', () => {
  const cache = new OffsetCache(offsets);
  const buf = Buffer.from([10, 0, 0, 1, 192, 0, 2, 7]);
  const swapped = Buffer.from([192, 0, 2, 7, 10, 0, 0, 1]);
  cache.lookup(buf, 0, 4, 4, 40000, 80);
  const fwd = cache.forward;
  const rev = cache.reverse;
  assert.is.not(fwd, rev);
  cache.lookup(swapped, 0, 4, 4, 80, 40000);
  assert.is(cache.forward, rev);
  assert.is(cache.reverse, fwd);
});

/** Offsets that name the tuple they were computed for, so a wrong entry shows. */
function namingOffsets(): FlowOffsets {
  const fake = {
    offsetV4: (src: number, dst: number, sport: number, dport: number): number => (Math.imul(src, 31) ^ Math.imul(dst, 17) ^ (sport << 16) ^ dport ^ 0x4) >>> 0,
    offsetV6: (b: Buffer, so: number, dOff: number, sport: number, dport: number): number =>
      (Math.imul(b.readUInt32BE(so + 12), 31) ^ Math.imul(b.readUInt32BE(dOff + 12), 17) ^ (sport << 16) ^ dport ^ 0x6) >>> 0,
  };
  return fake as unknown as FlowOffsets;
}

test('an IPv4 packet never takes the entry of an IPv6 tuple whose first address words are its addresses', () => {
  // Each IPv6 tuple is looked up right before its IPv4 twin (source = the IPv6 source's
  // first two words), so the IPv6 entry sits in its slot; 400,000 pairs into 65,536 slots
  // make twins share a slot several times. Twins with the same ports have the same port
  // word; twins whose IPv4 source port has bit 15 set once collided with an IPv6 marker bit.
  const fake = namingOffsets();
  const cache = new OffsetCache(fake);
  const v6 = Buffer.alloc(32);
  const v4 = Buffer.alloc(8);
  let x = 99;
  const rnd = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 400000; i++) {
    for (let k = 0; k < 8; k++) v6.writeUInt32BE(rnd(), 4 * k);
    v6.copy(v4, 0, 0, 8);
    const sport = rnd() & 0x7fff;
    const dport = rnd() & 0xffff;
    const v4sport = i % 2 ? sport : sport | 0x8000;
    cache.lookup(v6, 0, 16, 16, i % 2 ? sport : v4sport & 0x7fff, dport);
    cache.lookup(v4, 0, 4, 4, v4sport, dport);
    const want = fake.offsetV4(v4.readUInt32BE(0), v4.readUInt32BE(4), v4sport, dport);
    if (cache.forward !== want) assert.unreachable(`pair ${i}: IPv4 lookup answered ${cache.forward.toString(16)}, not its own ${want.toString(16)}`);
  }
});

test.run();
