// When a cache of computed mappings (Crypto-PAn's addresses, the MAC permutation, the
// TCP sequence offsets) should double. A miss there costs 32 or 128 AES blocks, eight
// keyed BLAKE2b rounds or two keyed hashes, so a link with more hosts than the cache
// holds recomputes most of its packets: 60,000 MACs against 16,384 entries ran the
// packets output at a seventh of its speed on few hosts (docs/benchmarks.md). A fixed
// large cache would cost every box its memory and its cache misses; this one starts at
// its first size and doubles, up to a limit, when its recent misses outnumber its slots
// and are more than 1 lookup in 16. A link of a few thousand hosts never grows it (their
// misses stop once each was computed); memory is bounded by the limit whatever the
// traffic. "Recent": both counts are halved every 256 lookups a slot, so a cache that
// served a quiet link for days grows within a few hundred misses once the traffic
// changes, not after millions.

export class CacheGrowth {
  /** log2 of the cache's slots now. */
  bits: number;
  private lookups = 0;
  private misses = 0;

  constructor(firstBits: number, readonly maxBits: number) {
    this.bits = firstBits;
  }

  /** Counts a lookup; call on every one. */
  looked(): void {
    // Halved, not cleared: the ratio of the last stretch of traffic stays.
    if (++this.lookups > 256 << this.bits) {
      this.lookups >>>= 1;
      this.misses >>>= 1;
    }
  }

  /** Counts n lookups made elsewhere (the packets output's C path), as n calls of looked() would. */
  lookedTimes(n: number): void {
    while (n > 0) {
      const room = (256 << this.bits) + 1 - this.lookups;
      if (n < room) {
        this.lookups += n;
        return;
      }
      n -= room;
      this.lookups = ((256 << this.bits) + 1) >>> 1;
      this.misses >>>= 1;
    }
  }

  /**
   * Counts a miss. True when the cache is to double now: `bits` has grown by one and
   * the owner makes its tables anew at that size (what they held is computed again).
   */
  missed(): boolean {
    this.misses++;
    if (this.bits >= this.maxBits || this.misses <= 1 << this.bits || this.misses * 16 <= this.lookups) return false;
    this.bits++;
    this.misses = 0;
    this.lookups = 0;
    return true;
  }

  /**
   * A table of `perSlot` elements a slot at the size now, for one that missed() has just
   * outgrown. The old one is wiped first: what it held (raw values) does not linger
   * until it is collected, and is computed again as it comes.
   */
  renew<T extends Uint32Array | Uint8Array>(old: T, perSlot: number): T {
    old.fill(0);
    return new (old.constructor as new (length: number) => T)(perSlot << this.bits);
  }
}
