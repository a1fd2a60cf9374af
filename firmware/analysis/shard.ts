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

const rotl = (x: number, b: number): number => (x << b) | (x >>> (32 - b));

/**
 * HalfSipHash-2-4 with a 32-bit result of `len` bytes of `m` from `off`; k0, k1 are the
 * key's two little-endian words.
 */
export function halfSipHash(k0: number, k1: number, m: Uint8Array, off: number, len: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  const end = off + len - (len & 3);
  const round = (): void => {
    v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
  };
  let i = off;
  for (; i < end; i += 4) {
    const w = m[i] | (m[i + 1] << 8) | (m[i + 2] << 16) | (m[i + 3] << 24);
    v3 ^= w; round(); round(); v0 ^= w;
  }
  // The last block: the length's low byte on top, then the 0-3 bytes left.
  let b = len << 24;
  const left = len & 3;
  if (left >= 3) b |= m[i + 2] << 16;
  if (left >= 2) b |= m[i + 1] << 8;
  if (left >= 1) b |= m[i];
  v3 ^= b; round(); round(); v0 ^= b;
  v2 ^= 0xff;
  round(); round(); round(); round();
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

  /** The shard of a decoded packet (its bytes in buf). */
  of(v: PacketView, buf: Buffer): number {
    if (this.count <= 1 || v.ipSrcOff < 0 || v.ipDstOff < 0) return 0;
    const n = v.ipAddrLen;
    const sp = keySrcPort(v);
    const dp = keyDstPort(v);
    // Both directions give one tuple: the endpoint that sorts first goes first.
    let c = buf.compare(buf, v.ipDstOff, v.ipDstOff + n, v.ipSrcOff, v.ipSrcOff + n);
    if (c === 0) c = sp - dp;
    const [aOff, aPort, bOff, bPort] = c < 0 ? [v.ipSrcOff, sp, v.ipDstOff, dp] : [v.ipDstOff, dp, v.ipSrcOff, sp];
    const t = this.tuple;
    t[0] = v.ipVersion;
    t[1] = v.ipProto & 0xff;
    buf.copy(t, 2, aOff, aOff + n);
    t.writeInt32LE(aPort | 0, 2 + n);
    buf.copy(t, 6 + n, bOff, bOff + n);
    t.writeInt32LE(bPort | 0, 6 + 2 * n);
    return halfSipHash(this.k0, this.k1, t, 0, 10 + 2 * n) % this.count;
  }
}
