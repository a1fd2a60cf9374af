// packets/offsetCache.ts: one lookup gives both directions' TCP sequence offsets, the
// same as FlowOffsets computes them, whether the entry was cached, fresh, or pushed out
// by a colliding 4-tuple.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FlowOffsets } from '../../firmware/anonymize/transforms';
import { OffsetCache } from '../../firmware/analysis/packets/offsetCache';
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

test('an IPv4 and an IPv6 tuple with the same leading words do not share an entry', () => {
  const cache = new OffsetCache(offsets);
  const buf = randomBytes(next, 32);
  cache.lookup(buf, 0, 16, 16, 1, 2);
  const v6 = cache.forward;
  const v4buf = Buffer.concat([buf.subarray(0, 4), buf.subarray(16, 20)]);
  cache.lookup(v4buf, 0, 4, 4, 1, 2);
  assert.is(cache.forward, offsets.offsetV4(v4buf.readUInt32BE(0), v4buf.readUInt32BE(4), 1, 2));
  cache.lookup(buf, 0, 16, 16, 1, 2);
  assert.is(cache.forward, v6);
});

test.run();
