// Per-direction TCP sequence offsets, cached. Each offset is a keyed BLAKE2b of the
// connection's raw 4-tuple (FlowOffsets), and a TCP packet needs two (its own
// direction for seq, the other for ack and SACK): without a cache that hash is the
// rewriter's largest cost. One entry holds both offsets of the packet's 4-tuple, so a
// packet costs one lookup, and the entry's key, offsets and used flag sit side by side
// in one array: the table is megabytes, and each separate array cost a cache miss per
// lookup. Two-way, as the Crypto-PAn caches: the hash picks a pair of slots and a miss
// moves the pair's newer entry to its second slot. Direct-mapped in 65,536 slots, the
// 4-tuples of a trace of 60,000 connections (70,000 directions in its first 800,000
// packets alone) pushed each other out, and the misses' BLAKE2b hashes took 1.9 s of
// the 21 s its 10M packets took to rewrite (docs/benchmarks.md). It starts at 2^16 slots (3 MB: a busy link has tens of
// thousands of open connections) and doubles as the anonymization caches do
// (cache-growth.ts), up to 2^18 (12.6 MB). A miss just recomputes. The cache holds raw
// addresses, like Crypto-PAn's own cache, only in this process's memory, and a
// replaced table is wiped.
import type { FlowOffsets } from '../../../anonymize/transforms';
import { CacheGrowth } from '../../../anonymize/cache-growth';
import { u32 } from '../../../decode/bytes';

const BITS = 16;
const MAX_BITS = 18;
/** Key words per slot: sport|dport, then up to 8 address words (src, dst). */
const KEY_WORDS = 9;
/**
 * Slot layout: key words, forward offset, reverse offset, then the address length of
 * the entry (4 or 16; 0: empty). The family lives in a word of its own, compared first:
 * folded into the port word, an IPv4 source port of 0x8000 or more set the same bit as
 * the IPv6 marker, and an IPv4 packet matched an IPv6 entry whose first two address
 * words equalled its addresses, taking that connection's offsets (an injected IPv6
 * packet could make a victim's sequence numbers come out with a known offset).
 */
const FORWARD = KEY_WORDS;
const REVERSE = KEY_WORDS + 1;
const USED = KEY_WORDS + 2;
const WORDS = KEY_WORDS + 3;

export class OffsetCache {
  /** After lookup(): the offset of the space sent from src:sport to dst:dport (the packet's seq). */
  forward = 0;
  /** After lookup(): the offset of the opposite direction (the packet's ack and SACK edges). */
  reverse = 0;
  private table = new Uint32Array((1 << BITS) * WORDS);
  private readonly growth = new CacheGrowth(BITS, MAX_BITS);
  private readonly w = new Uint32Array(KEY_WORDS);

  constructor(private readonly offsets: FlowOffsets) {}

  /**
   * Sets forward and reverse for the packet src:sport → dst:dport; addresses (4 or 16
   * bytes) read from buf, inside an IP header the decoder bounded (they are read unchecked).
   */
  lookup(buf: Buffer, srcOff: number, dstOff: number, addrLen: number, sport: number, dport: number): void {
    const w = this.w;
    const n = addrLen >> 2;
    w[0] = ((sport << 16) | dport) >>> 0;
    let h = Math.imul(w[0] ^ addrLen, 0x9e3779b1);
    for (let k = 0; k < n; k++) {
      w[1 + k] = u32(buf, srcOff + 4 * k);
      w[1 + n + k] = u32(buf, dstOff + 4 * k);
      h = Math.imul(h ^ w[1 + k], 0x85ebca6b) ^ Math.imul(w[1 + n + k], 0xc2b2ae35);
    }
    h ^= h >>> 15;
    this.growth.looked();
    let t = this.table;
    let base = this.pairAt(h);
    const words = 1 + 2 * n;
    for (let way = 0; way < 2; way++) {
      const at = base + way * WORDS;
      if (t[at + USED] !== addrLen) continue;
      let same = true;
      for (let k = 0; k < words; k++) if (t[at + k] !== w[k]) { same = false; break; }
      if (same) {
        this.forward = t[at + FORWARD];
        this.reverse = t[at + REVERSE];
        return;
      }
    }
    let fwd: number;
    let rev: number;
    if (addrLen === 4) {
      fwd = this.offsets.offsetV4(w[1], w[2], sport, dport);
      rev = this.offsets.offsetV4(w[2], w[1], dport, sport);
    } else {
      fwd = this.offsets.offsetV6(buf, srcOff, dstOff, sport, dport);
      rev = this.offsets.offsetV6(buf, dstOff, srcOff, dport, sport);
    }
    if (this.growth.missed()) {
      this.table = t = this.growth.renew(t, WORDS);
      base = this.pairAt(h);
    } else {
      // The pair's newer entry moves to its second slot; the older one is forgotten.
      t.copyWithin(base + WORDS, base, base + WORDS);
    }
    for (let k = 0; k < words; k++) t[base + k] = w[k];
    t[base + FORWARD] = fwd;
    t[base + REVERSE] = rev;
    t[base + USED] = addrLen;
    this.forward = fwd;
    this.reverse = rev;
  }

  /** The table as it is now (12 words a slot), for the packets output's C path, which counts its lookups here. */
  cacheTable(): Uint32Array {
    return this.table;
  }

  countLookups(n: number): void {
    this.growth.lookedTimes(n);
  }

  /** Slots now (tests). */
  slots(): number {
    return this.table.length / WORDS;
  }

  /** Offset in `table` of the first slot of the pair the mixed hash h picks. */
  private pairAt(h: number): number {
    return ((h >>> (32 - this.growth.bits)) & ~1) * WORDS;
  }
}
