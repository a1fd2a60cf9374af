// The shard of a packet (analysis.shards): HalfSipHash-2-4 against the published
// vectors, both directions of a flow in one shard, a balanced split, and a split that
// depends on the run's key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { halfSipHash, ShardMap, shardStreams } from '../../firmware/analysis/shard';
import type { Streams } from '../../firmware/analysis/streams/schema';
import { SecretKey } from '../../firmware/keys/secret-key';
import { PacketView } from '../../firmware/decode/packetView';
import { decodePacket } from '../../firmware/decode/decode';
import { arp, build, eth, icmp, icmpv6, ipv4, ipv6, tcp, udp, raw } from '../lib/craft';

// HalfSipHash-2-4, 32-bit output, key 00 01 .. 07, message 00 01 .. (i-1): the first
// vectors of the reference implementation's vectors.h, read as little-endian words.
const VECTORS = [0x5b9f35a9, 0xb85a4727, 0x03a662fa, 0x04e7fe8a, 0x89466e2a, 0x69b6fac5, 0x23fc6358, 0xc563cf8b, 0x8f84b8d0];

test('halfSipHash gives the reference vectors for messages of 0 to 8 bytes', () => {
  const key = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]);
  const msg = Buffer.from(Array.from({ length: 16 }, (_, i) => i));
  VECTORS.forEach((want, len) => {
    // At an offset too, as the shard map hashes a tuple inside a larger buffer.
    const shifted = Buffer.concat([Buffer.from([0xee, 0xee, 0xee]), msg]);
    assert.is(halfSipHash(key.readInt32LE(0), key.readInt32LE(4), msg, 0, len), want, `length ${len}`);
    assert.is(halfSipHash(key.readInt32LE(0), key.readInt32LE(4), shifted, 3, len), want, `length ${len} at offset 3`);
  });
});

function shardOf(map: ShardMap, pkt: Buffer): number {
  const buf = Buffer.concat([Buffer.alloc(16), pkt]);
  const v = new PacketView();
  decodePacket(1, buf, 16, pkt.length, pkt.length, v);
  return map.of(v, buf);
}

const key = (b: number): SecretKey => SecretKey.fromBytes(Buffer.alloc(32, b));

test('both directions of TCP, UDP, ICMP echo and IPv6 flows land in one shard', () => {
  const map = new ShardMap(key(1), 4);
  for (let i = 0; i < 200; i++) {
    const a = `10.${i}.0.1`;
    const b = `192.0.2.${i % 250}`;
    const pairs: Array<[Buffer, Buffer]> = [
      [build(eth(), ipv4({ src: a, dst: b }), tcp({ sport: 1000 + i, dport: 443, flags: 'S' })), build(eth(), ipv4({ src: b, dst: a }), tcp({ sport: 443, dport: 1000 + i, flags: 'SA' }))],
      [build(eth(), ipv4({ src: a, dst: b }), udp({ sport: 2000 + i, dport: 53 }), raw('q')), build(eth(), ipv4({ src: b, dst: a }), udp({ sport: 53, dport: 2000 + i }), raw('r'))],
      [build(eth(), ipv4({ src: a, dst: b }), icmp({ type: 8, id: i })), build(eth(), ipv4({ src: b, dst: a }), icmp({ type: 0, id: i }))],
      [build(eth(), ipv6({ src: `2001:db8::${i.toString(16)}`, dst: '2001:db8:1::1' }), udp({ sport: 3000 + i, dport: 123 })), build(eth(), ipv6({ src: '2001:db8:1::1', dst: `2001:db8::${i.toString(16)}` }), udp({ sport: 123, dport: 3000 + i }))],
      [build(eth(), ipv6({ src: `2001:db8::${i.toString(16)}`, dst: '2001:db8:1::1' }), icmpv6({ type: 128 })), build(eth(), ipv6({ src: '2001:db8:1::1', dst: `2001:db8::${i.toString(16)}` }), icmpv6({ type: 129 }))],
      // The same address on both ends: the ports decide the order.
      [build(eth(), ipv4({ src: a, dst: a }), tcp({ sport: 5, dport: 7000 + i })), build(eth(), ipv4({ src: a, dst: a }), tcp({ sport: 7000 + i, dport: 5 }))],
    ];
    for (const [there, back] of pairs) assert.is(shardOf(map, back), shardOf(map, there), `flow ${i}`);
  }
});

test('packets without an IP layer go to shard 0; one shard is always shard 0', () => {
  const map = new ShardMap(key(1), 4);
  assert.is(shardOf(map, build(eth(), arp({ op: 1, sha: '02:00:00:00:00:01', spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' }))), 0);
  const one = new ShardMap(key(1), 1);
  for (let i = 0; i < 50; i++) assert.is(shardOf(one, build(eth(), ipv4({ src: `10.0.${i}.1`, dst: '10.1.0.1' }), udp({ sport: i, dport: 9 }))), 0);
});

test('4,000 flows split evenly over 2 and 4 shards, and another key splits them otherwise', () => {
  const flows = Array.from({ length: 4000 }, (_, i) => build(eth(), ipv4({ src: `10.${i >> 8}.${i & 255}.1`, dst: '198.51.100.7' }), tcp({ sport: 40000 + (i % 1000), dport: 80 })));
  for (const count of [2, 4]) {
    const per = new Array<number>(count).fill(0);
    const map = new ShardMap(key(1), count);
    for (const f of flows) per[shardOf(map, f)]++;
    const fair = flows.length / count;
    for (const n of per) assert.ok(Math.abs(n - fair) < fair * 0.1, `shards of ${count}: ${per.join(', ')}`);
  }
  const a = new ShardMap(key(1), 2);
  const b = new ShardMap(key(2), 2);
  const differ = flows.filter((f) => shardOf(a, f) !== shardOf(b, f)).length;
  assert.ok(differ > flows.length * 0.4 && differ < flows.length * 0.6, `${differ} of ${flows.length} flows change shard with the key`);
});

test('a stream\'s maxPerSecond is shared out among the shards: together never more than declared', () => {
  const streams: Streams = {
    a: { fields: { n: { type: 'count' } }, maxPerSecond: 10 },
    b: { fields: { n: { type: 'count' } }, maxPerSecond: 1, minCount: { field: 'n', k: 5 } },
  } as unknown as Streams;
  assert.is(shardStreams(streams, { index: 0, count: 1 }), streams);
  for (const count of [2, 3, 4, 16]) {
    const shares = Array.from({ length: count }, (_, index) => shardStreams(streams, { index, count }));
    assert.is(shares.reduce((n, s) => n + s.a.maxPerSecond, 0), 10, `a over ${count}`);
    assert.is(shares.reduce((n, s) => n + s.b.maxPerSecond, 0), 1, `b over ${count}`);
    assert.ok(shares.every((s) => s.a.maxPerSecond >= Math.floor(10 / count) && s.b.minCount?.k === 5));
  }
});

test.run();
