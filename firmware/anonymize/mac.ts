// Keyed permutation of 48-bit MAC addresses. Keeps the I/G (group/multicast) and U/L
// (locally administered) bits of the first octet, so multicast stays multicast and
// random/local MACs stay recognisable; maps the broadcast address to itself; permutes
// the other 46 bits with an 8-round Feistel network whose round function is keyed
// BLAKE2b. A Feistel network is a bijection for any round function, so two MACs never
// collide. The kept bits and the round number are part of every round's input, so each
// of the four classes gets its own independent permutation.
//
// The OUI (vendor) is not kept: it identifies device makers, and with few hosts on a
// link that is often enough to identify the host.
import * as sodium from 'sodium-native';
import { KeyMaterial, withKeyBytes, secureCopy, wipeSecureCopy } from './key-material';
import { CacheGrowth } from './cache-growth';

export const MAC_KEY_BYTES = 32;
// 8 rounds: 4 suffice for a pseudorandom permutation in theory (Luby–Rackoff), but the
// domain is small (2^46) and the margin is cheap next to the per-MAC cache.
const ROUNDS = 8;
const HALF_MASK = 0x7fffff; // 23 bits
// Two-way cache of 2^14 slots at first (pairs picked by the hash, as in cryptopan.ts): a
// miss costs 8 BLAKE2b calls, and a direct-mapped 4096-slot cache let the ~1,000 MACs
// of a busy segment evict each other on about 1 lookup in 500. 256 KB of memory (keys
// and values); on a link with more MACs than that it doubles (cache-growth.ts), up to
// 2^18 slots (4 MB).
const CACHE_BITS = 14;
const MAX_CACHE_BITS = 18;
/** Words of a cache slot (MacPermutation.#cache). */
const ENTRY = 4;
/** Marks a used slot in its first word, above the MAC's first two octets. */
const USED = 0x10000;

export class MacPermutation {
  readonly #key: Buffer;
  readonly #in = Buffer.alloc(5); // round, kept bits, 23-bit half
  readonly #out = Buffer.alloc(sodium.crypto_generichash_BYTES_MIN);
  /**
   * Slot k: words [4k, 4k + 4) are the MAC's first two octets with USED set, its last
   * four, then the same two of its permuted value: side by side, one cache line for both
   * slots of a pair (in three arrays, a lookup touched three; docs/benchmarks.md).
   */
  #cache = new Uint32Array(ENTRY << CACHE_BITS);
  readonly #growth = new CacheGrowth(CACHE_BITS, MAX_CACHE_BITS);
  #left = 0;
  #right = 0;
  #destroyed = false;

  /** key: a 32-byte SecretKey (keyring.subkey('mac', 32)) or Buffer. */
  constructor(key: KeyMaterial) {
    this.#key = withKeyBytes(key, MAC_KEY_BYTES, 'MAC permutation key', secureCopy);
  }

  /** Rewrites the MAC at buf[off..off+6) in place. */
  anonymizeMacInto(buf: Buffer, off: number): void {
    // Indexed byte access below (Buffer's accessors check their arguments on every
    // call, twice per MAC per packet): this one check keeps every byte inside buf.
    if (!(off >= 0 && off + 6 <= buf.length)) throw new RangeError(`MAC at offset ${off} does not fit in ${buf.length} bytes`);
    const hi = (buf[off] << 8) | buf[off + 1];
    const lo = ((buf[off + 2] << 24) | (buf[off + 3] << 16) | (buf[off + 4] << 8) | buf[off + 5]) >>> 0;
    this.#growth.looked();
    let c = this.#cache;
    let at = this.#slotOf(hi, lo) * ENTRY;
    const key = hi | USED;
    let hit = -1;
    if (c[at] === key && c[at + 1] === lo) hit = at;
    else if (c[at + ENTRY] === key && c[at + ENTRY + 1] === lo) hit = at + ENTRY;
    if (hit >= 0) {
      const h = c[hit + 2];
      const l = c[hit + 3];
      buf[off] = h >>> 8;
      buf[off + 1] = h & 0xff;
      buf[off + 2] = l >>> 24;
      buf[off + 3] = (l >>> 16) & 0xff;
      buf[off + 4] = (l >>> 8) & 0xff;
      buf[off + 5] = l & 0xff;
      return;
    }
    if (!isBroadcast(buf, off)) {
      this.#permute(buf, off, true);
      // Cycle walking: broadcast is kept out of the permuted set, so the one MAC that
      // would land on it takes the next step of the cycle instead. Still a bijection.
      if (isBroadcast(buf, off)) this.#permute(buf, off, true);
    }
    if (this.#growth.missed()) {
      this.#cache = c = this.#growth.renew(c, ENTRY);
      at = this.#slotOf(hi, lo) * ENTRY;
    } else {
      // The pair's newer entry moves to the second slot; the older one is forgotten.
      c.copyWithin(at + ENTRY, at, at + ENTRY);
    }
    c[at] = key;
    c[at + 1] = lo;
    c[at + 2] = buf.readUInt16BE(off);
    c[at + 3] = buf.readUInt32BE(off + 2);
  }

  /**
   * The cache as it is now (4 words a slot), for the packets output's C path, which
   * reads it and counts its lookups here. It holds raw MACs: it never leaves this process.
   */
  cacheTable(): Uint32Array {
    return this.#cache;
  }

  countLookups(n: number): void {
    this.#growth.lookedTimes(n);
  }

  /** Slots of the cache now (tests). */
  cacheSlots(): number {
    return this.#cache.length / ENTRY;
  }

  /** The even slot of the pair the MAC hi:lo (its first two octets, its last four) may sit in. */
  #slotOf(hi: number, lo: number): number {
    return (Math.imul(Math.imul(hi, 0x85ebca6b) ^ lo, 0x9e3779b1) >>> (32 - this.#growth.bits)) & ~1;
  }

  /**
   * The inverse permutation, in place. Only for verification and tests: the box never
   * needs to undo an anonymization.
   */
  invertMacInto(buf: Buffer, off: number): void {
    if (isBroadcast(buf, off)) return;
    this.#permute(buf, off, false);
    if (isBroadcast(buf, off)) this.#permute(buf, off, false);
  }

  /** Tests only: the Feistel inverse without the broadcast cycle walk. */
  debugRawInverseInto(buf: Buffer, off: number): void {
    this.#permute(buf, off, false);
  }

  /** Wipes the key copy and the cache. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    wipeSecureCopy(this.#key);
    this.#cache.fill(0);
  }

  #permute(buf: Buffer, off: number, forward: boolean): void {
    if (this.#destroyed) throw new Error('MAC permutation was destroyed: make a new one with the key');
    const o0 = buf[off];
    const kept = o0 & 3;
    this.#in[1] = kept;
    // Left half: octet 0 bits 7..2, octets 1 and 2, top bit of octet 3 (23 bits).
    // Right half: the low 7 bits of octet 3, octets 4 and 5 (23 bits).
    this.#left = ((o0 >>> 2) << 17) | (buf[off + 1] << 9) | (buf[off + 2] << 1) | (buf[off + 3] >>> 7);
    this.#right = ((buf[off + 3] & 0x7f) << 16) | (buf[off + 4] << 8) | buf[off + 5];
    if (forward) {
      for (let r = 0; r < ROUNDS; r++) {
        const l = this.#right;
        this.#right = (this.#left ^ this.#round(r, this.#right)) & HALF_MASK;
        this.#left = l;
      }
    } else {
      for (let r = ROUNDS - 1; r >= 0; r--) {
        const rr = this.#left;
        this.#left = (this.#right ^ this.#round(r, this.#left)) & HALF_MASK;
        this.#right = rr;
      }
    }
    const l = this.#left;
    const rt = this.#right;
    buf[off] = ((l >>> 17) << 2) | kept;
    buf[off + 1] = (l >>> 9) & 0xff;
    buf[off + 2] = (l >>> 1) & 0xff;
    buf[off + 3] = ((l & 1) << 7) | (rt >>> 16);
    buf[off + 4] = (rt >>> 8) & 0xff;
    buf[off + 5] = rt & 0xff;
  }

  #round(r: number, half: number): number {
    const inp = this.#in;
    inp[0] = r;
    inp[2] = half >>> 16;
    inp[3] = (half >>> 8) & 0xff;
    inp[4] = half & 0xff;
    sodium.crypto_generichash(this.#out, inp, this.#key);
    const o = this.#out;
    return ((o[0] << 16) | (o[1] << 8) | o[2]) & HALF_MASK;
  }
}

function isBroadcast(buf: Buffer, off: number): boolean {
  return buf.readUInt16BE(off) === 0xffff && buf.readUInt32BE(off + 2) === 0xffffffff;
}
