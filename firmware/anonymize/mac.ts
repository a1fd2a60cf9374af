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

export const MAC_KEY_BYTES = 32;
// 8 rounds: 4 suffice for a pseudorandom permutation in theory (Luby–Rackoff), but the
// domain is small (2^46) and the margin is cheap next to the per-MAC cache.
const ROUNDS = 8;
const HALF_MASK = 0x7fffff; // 23 bits
const CACHE_BITS = 12;

export class MacPermutation {
  readonly #key: Buffer;
  readonly #in = Buffer.alloc(5); // round, kept bits, 23-bit half
  readonly #out = Buffer.alloc(sodium.crypto_generichash_BYTES_MIN);
  readonly #cacheKeys = new Uint32Array(2 << CACHE_BITS);
  readonly #cacheVals = new Uint32Array(2 << CACHE_BITS);
  readonly #cacheUsed = new Uint8Array(1 << CACHE_BITS);
  #left = 0;
  #right = 0;
  #destroyed = false;

  /** key: a 32-byte SecretKey (keyring.subkey('mac', 32)) or Buffer. */
  constructor(key: KeyMaterial) {
    this.#key = withKeyBytes(key, MAC_KEY_BYTES, 'MAC permutation key', secureCopy);
  }

  /** Rewrites the MAC at buf[off..off+6) in place. */
  anonymizeMacInto(buf: Buffer, off: number): void {
    const hi = buf.readUInt16BE(off);
    const lo = buf.readUInt32BE(off + 2);
    const slot = Math.imul(Math.imul(hi, 0x85ebca6b) ^ lo, 0x9e3779b1) >>> (32 - CACHE_BITS);
    if (this.#cacheUsed[slot] === 1 && this.#cacheKeys[slot * 2] === hi && this.#cacheKeys[slot * 2 + 1] === lo) {
      buf.writeUInt16BE(this.#cacheVals[slot * 2], off);
      buf.writeUInt32BE(this.#cacheVals[slot * 2 + 1], off + 2);
      return;
    }
    if (!isBroadcast(buf, off)) {
      this.#permute(buf, off, true);
      // Cycle walking: broadcast is kept out of the permuted set, so the one MAC that
      // would land on it takes the next step of the cycle instead. Still a bijection.
      if (isBroadcast(buf, off)) this.#permute(buf, off, true);
    }
    this.#cacheKeys[slot * 2] = hi;
    this.#cacheKeys[slot * 2 + 1] = lo;
    this.#cacheVals[slot * 2] = buf.readUInt16BE(off);
    this.#cacheVals[slot * 2 + 1] = buf.readUInt32BE(off + 2);
    this.#cacheUsed[slot] = 1;
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
    this.#cacheKeys.fill(0); this.#cacheVals.fill(0); this.#cacheUsed.fill(0);
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
