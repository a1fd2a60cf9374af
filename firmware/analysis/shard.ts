// Which analysis shard a packet belongs to (run.json analysis.shards). Every shard
// reads every segment, but analyses only the flows of its own shard: a flow is the
// bidirectional 5-tuple the built-in flow table keys on (innermost IP version,
// protocol, both addresses, both "ports", ICMP's query key in place of ports), so
// both directions of a flow, its DNS query and answer, and all of a flow's packets
// land in one shard, the same one in every process and after every restart.
//
// The shard is a keyed hash of that tuple, HalfSipHash-2-4 (Aumasson and Bernstein's
// SipHash on 32-bit words, the kernel's hsiphash family), with a 64-bit key derived
// from the run's flow key: nobody outside the box can craft addresses that all land
// in one shard. It runs in JavaScript: libsodium's SipHash costs 0.42 µs a call from
// here, this 0.06 µs, and each shard hashes every packet of the run.
// Packets without an IP layer (ARP, other link protocols) go to shard 0.
import * as sodium from 'sodium-native';
import type { SecretKey } from '../keys/secret-key';
import type { PacketView } from '../decode/packetView';
import { keyDstPort, keySrcPort } from './builtin/flows/flowKey';
import type { Streams } from './streams/schema';

/** Which shard of how many a process analyses. */
export interface Shard {
  index: number;
  count: number;
}

export const oneShard: Shard = { index: 0, count: 1 };

const CONTEXT = Buffer.from('sealtap analysis shard v1', 'ascii');

/**
 * HalfSipHash-2-4 with a 32-bit result of `len` bytes of `m` from `off`; k0, k1 are the
 * key's two little-endian words. The rounds are written out in loops, not a closure:
 * this runs for every packet in every shard.
 */
export function halfSipHash(k0: number, k1: number, m: Uint8Array, off: number, len: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  const end = off + len - (len & 3);
  let i = off;
  // Each word, then the last block (the length's low byte on top, the 0-3 bytes left),
  // with two rounds each; then four rounds of finalization.
  for (let block = 0; ; block++) {
    let w: number;
    if (i < end) {
      w = m[i] | (m[i + 1] << 8) | (m[i + 2] << 16) | (m[i + 3] << 24);
      i += 4;
    } else {
      w = len << 24;
      const left = len & 3;
      if (left >= 3) w |= m[i + 2] << 16;
      if (left >= 2) w |= m[i + 1] << 8;
      if (left >= 1) w |= m[i];
    }
    v3 ^= w;
    for (let r = 0; r < 2; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    v0 ^= w;
    if (i >= end && block >= (len >>> 2)) break;
  }
  v2 ^= 0xff;
  for (let r = 0; r < 4; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  return (v1 ^ v3) >>> 0;
}

/**
 * The streams as one shard's exit enforces them: each stream's maxPerSecond shared out
 * among the shards (the first `max % count` get one more), so that all shards together
 * never send more than the declared rate. minCount needs no share: each record is
 * checked on its own.
 */
export function shardStreams(streams: Streams, shard: Shard): Streams {
  if (shard.count <= 1) return streams;
  const out: Streams = {};
  for (const [name, decl] of Object.entries(streams)) {
    const max = decl.maxPerSecond;
    out[name] = { ...decl, maxPerSecond: Math.floor(max / shard.count) + (shard.index < max % shard.count ? 1 : 0) };
  }
  return out;
}

/** The shard of each packet, for one run's flow key. */
export class ShardMap {
  private readonly k0: number;
  private readonly k1: number;
  /** version, protocol, then the lower endpoint (address, port as 4 bytes), then the higher. */
  private readonly tuple = Buffer.alloc(2 + 2 * (16 + 4));

  constructor(flowKey: SecretKey, readonly count: number) {
    // BLAKE2b's shortest output is 16 bytes: the first 8 are the key.
    const k = Buffer.alloc(16);
    flowKey.use((key) => sodium.crypto_generichash(k, CONTEXT, key));
    this.k0 = k.readInt32LE(0);
    this.k1 = k.readInt32LE(4);
    k.fill(0);
  }

  /** The key's two words, for the flows output's loop in C (flowsRun), which takes a packet's shard as of() does. */
  keyWords(): [number, number] {
    return [this.k0, this.k1];
  }

  /** The shard of a decoded packet (its bytes in buf). Byte loops: Buffer's compare and copy cost more than they do here. */
  of(v: PacketView, buf: Buffer): number {
    if (this.count <= 1 || v.ipSrcOff < 0 || v.ipDstOff < 0) return 0;
    const n = v.ipAddrLen;
    const s = v.ipSrcOff;
    const d = v.ipDstOff;
    const sp = keySrcPort(v);
    const dp = keyDstPort(v);
    // Both directions give one tuple: the endpoint that sorts first goes first.
    let c = 0;
    for (let i = 0; i < n && c === 0; i++) c = buf[s + i] - buf[d + i];
    if (c === 0) c = sp - dp;
    const aOff = c <= 0 ? s : d;
    const bOff = c <= 0 ? d : s;
    const aPort = c <= 0 ? sp : dp;
    const bPort = c <= 0 ? dp : sp;
    const t = this.tuple;
    t[0] = v.ipVersion;
    t[1] = v.ipProto & 0xff;
    for (let i = 0; i < n; i++) {
      t[2 + i] = buf[aOff + i];
      t[6 + n + i] = buf[bOff + i];
    }
    t[2 + n] = aPort; t[3 + n] = aPort >>> 8; t[4 + n] = aPort >>> 16; t[5 + n] = aPort >>> 24;
    const p = 6 + 2 * n;
    t[p] = bPort; t[p + 1] = bPort >>> 8; t[p + 2] = bPort >>> 16; t[p + 3] = bPort >>> 24;
    return halfSipHash(this.k0, this.k1, t, 0, 10 + 2 * n) % this.count;
  }
}
