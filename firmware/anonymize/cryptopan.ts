// Crypto-PAn: prefix-preserving address anonymization, bit for bit the reference
// implementation (Xu, Fan, Ammar, Moon; the C++ "panonymizer"), so that the published
// vectors in ../shared/vectors/cryptopan-reference.tsv match. IPv6 uses the same
// construction over 128 bits, as the common ports (e.g. yacryptopan, Go cryptopan) do.
//
// Key: 32 bytes = AES-128 key ‖ 16-byte pad seed; pad = AES(pad seed). For output bit
// i the AES input block is the first i bits of the original address followed by the
// pad's bits i..127; the bit is the MSB of the encrypted block; the result is the
// address XOR the collected bits. Changing any of this breaks the vectors and every
// comparison with other tools' output.
//
// Every block depends only on the original address, so all 32 (or 128) blocks of an
// address are built in one buffer and encrypted with ONE cipher.update call: ECB
// has no chaining, and one call instead of 32 is what makes this fast in Node.
//
// Known limit: node:crypto copies the AES key into OpenSSL's memory, outside
// libsodium's locked pages (it may be swapped or appear in a core dump; the box has
// no swap and no core dumps). destroy() finalizes the cipher, which makes OpenSSL
// cleanse and free its copy. The pad and the block scratch live in sodium memory.
import { Cipher, createCipheriv } from 'crypto';
import * as sodium from 'sodium-native';
import { KeyMaterial, withKeyBytes, secureCopy, wipeSecureCopy } from './key-material';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip-text';
import { CacheGrowth } from './cache-growth';

export const CRYPTOPAN_KEY_BYTES = 32;

// Two-way caches: the hash picks a pair of slots (an even slot and the one after it) and
// an address may sit in either; a miss moves the even slot's entry to the odd one and
// takes the even slot, so each pair keeps its two most recently computed addresses.
// Direct mapping alone let two busy addresses that share a slot evict each other on
// every packet. The pair must be chosen by the hash as a whole: when each address had a
// home slot and used its neighbour as the second way, two addresses with neighbouring
// home slots pushed each other out of the pair in turn (about 1 lookup in 160 recomputed
// 32 AES blocks on the benchmark trace). Sizes are powers of two (index = top bits of a
// multiplicative hash). On a link with more addresses than a cache holds it doubles
// (cache-growth.ts), up to 2^18 slots for IPv4 (4 MB) and 2^17 for IPv6 (4.3 MB): a
// lookup allocates only then, a few times a run at most.
const V4_CACHE_BITS = 14;
const V6_CACHE_BITS = 12;
const V4_MAX_CACHE_BITS = 18;
const V6_MAX_CACHE_BITS = 17;
/** Words of an IPv4 cache slot: the address, its anonymized value, 1 when used, unused. */
const V4_ENTRY = 4;

export class CryptoPan {
  #cipher: Cipher | null;
  readonly #pad: Buffer; // 16 bytes, secure memory, read-write only while building
  readonly #blocks: Buffer; // 128 blocks of 16 bytes, secure memory
  readonly #blocks4: Buffer; // view of the first 32 blocks
  /**
   * The IPv4 cache: per slot, V4_ENTRY words (address, its anonymized value, 1 when
   * used), side by side. In three arrays a lookup touched three cache lines; the packets
   * output does two a packet (docs/benchmarks.md).
   */
  #v4 = new Uint32Array(V4_ENTRY << V4_CACHE_BITS);
  readonly #v4Growth = new CacheGrowth(V4_CACHE_BITS, V4_MAX_CACHE_BITS);
  #v6Keys = new Uint32Array(4 << V6_CACHE_BITS);
  #v6Vals = new Uint32Array(4 << V6_CACHE_BITS);
  #v6Used = new Uint8Array(1 << V6_CACHE_BITS);
  readonly #v6Growth = new CacheGrowth(V6_CACHE_BITS, V6_MAX_CACHE_BITS);
  readonly #orig6 = Buffer.alloc(16);

  /** key: a 32-byte SecretKey (keyring.subkey('address', 32)) or Buffer. */
  constructor(key: KeyMaterial) {
    const { cipher, pad } = withKeyBytes(key, CRYPTOPAN_KEY_BYTES, 'Crypto-PAn key', (bytes) => {
      const c = createCipheriv('aes-128-ecb', bytes.subarray(0, 16), null);
      c.setAutoPadding(false);
      const p = c.update(bytes.subarray(16, 32));
      const secure = secureCopy(p);
      p.fill(0);
      return { cipher: c, pad: secure };
    });
    this.#cipher = cipher;
    this.#pad = pad;
    this.#blocks = sodium.sodium_malloc(128 * 16);
    this.#blocks4 = this.#blocks.subarray(0, 32 * 16);
    // Every block starts as the pad; computing an address then only overwrites the
    // leading bytes that carry address bits (never beyond byte i/8 of block i).
    for (let i = 0; i < 128; i++) pad.copy(this.#blocks, i * 16);
  }

  /** Anonymizes an IPv4 address given as a u32 (network order value). */
  anonymizeV4(addr: number): number {
    addr >>>= 0;
    this.#v4Growth.looked();
    let c = this.#v4;
    let at = ((Math.imul(addr, 0x9e3779b1) >>> (32 - this.#v4Growth.bits)) & ~1) * V4_ENTRY;
    if (c[at + 2] === 1 && c[at] === addr) return c[at + 1];
    if (c[at + V4_ENTRY + 2] === 1 && c[at + V4_ENTRY] === addr) return c[at + V4_ENTRY + 1];
    const out = this.#computeV4(addr);
    if (this.#v4Growth.missed()) {
      const g = this.#v4Growth;
      this.#v4 = c = g.renew(c, V4_ENTRY);
      at = ((Math.imul(addr, 0x9e3779b1) >>> (32 - g.bits)) & ~1) * V4_ENTRY;
    } else {
      // The pair's newer entry moves to its second slot; the older one is forgotten.
      c.copyWithin(at + V4_ENTRY, at, at + V4_ENTRY);
    }
    c[at] = addr;
    c[at + 1] = out;
    c[at + 2] = 1;
    return out;
  }

  /**
   * The IPv4 cache as it is now (4 words a slot: address, anonymized value, 1 when used),
   * for the packets output's C path, which reads it and counts its lookups here. It
   * holds raw addresses: it never leaves this process.
   */
  v4CacheTable(): Uint32Array {
    return this.#v4;
  }

  countV4Lookups(n: number): void {
    this.#v4Growth.lookedTimes(n);
  }

  /** Rewrites the IPv4 address at buf[off..off+4) in place. */
  anonymizeV4Into(buf: Buffer, off: number): void {
    checkFits(buf, off, 4, 'IPv4');
    putWord(buf, off, this.anonymizeV4(word(buf, off)));
  }

  /** Rewrites the IPv6 address at buf[off..off+16) in place. */
  anonymizeV6Into(buf: Buffer, off: number): void {
    checkFits(buf, off, 16, 'IPv6');
    const w0 = word(buf, off);
    const w1 = word(buf, off + 4);
    const w2 = word(buf, off + 8);
    const w3 = word(buf, off + 12);
    const h = Math.imul(w0, 0x9e3779b1) ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x27d4eb2f);
    this.#v6Growth.looked();
    let slot = (Math.imul(h ^ (h >>> 15), 0x9e3779b1) >>> (32 - this.#v6Growth.bits)) & ~1;
    let k = this.#v6Keys;
    let v = this.#v6Vals;
    let s4 = slot * 4;
    if (this.#v6Used[slot] === 1 && k[s4] === w0 && k[s4 + 1] === w1 && k[s4 + 2] === w2 && k[s4 + 3] === w3) {
      putWord(buf, off, v[s4]);
      putWord(buf, off + 4, v[s4 + 1]);
      putWord(buf, off + 8, v[s4 + 2]);
      putWord(buf, off + 12, v[s4 + 3]);
      return;
    }
    const p4 = (slot + 1) * 4;
    if (this.#v6Used[slot + 1] === 1 && k[p4] === w0 && k[p4 + 1] === w1 && k[p4 + 2] === w2 && k[p4 + 3] === w3) {
      putWord(buf, off, v[p4]);
      putWord(buf, off + 4, v[p4 + 1]);
      putWord(buf, off + 8, v[p4 + 2]);
      putWord(buf, off + 12, v[p4 + 3]);
      return;
    }
    this.#computeV6Into(buf, off);
    if (this.#v6Growth.missed()) {
      const g = this.#v6Growth;
      this.#v6Keys = k = g.renew(k, 4);
      this.#v6Vals = v = g.renew(v, 4);
      this.#v6Used = g.renew(this.#v6Used, 1);
      slot = (Math.imul(h ^ (h >>> 15), 0x9e3779b1) >>> (32 - g.bits)) & ~1;
      s4 = slot * 4;
    } else {
      k.copyWithin(p4, s4, s4 + 4);
      v.copyWithin(p4, s4, s4 + 4);
      this.#v6Used[slot + 1] = this.#v6Used[slot];
    }
    k[s4] = w0; k[s4 + 1] = w1; k[s4 + 2] = w2; k[s4 + 3] = w3;
    v[s4] = word(buf, off);
    v[s4 + 1] = word(buf, off + 4);
    v[s4 + 2] = word(buf, off + 8);
    v[s4 + 3] = word(buf, off + 12);
    this.#v6Used[slot] = 1;
  }

  /**
   * Anonymizes one address in text form and returns the same family's text (IPv6 in
   * RFC 5952 form). Throws when the text is not an address. Not for per-packet use.
   */
  anonymizeText(text: string): string {
    const v4 = parseIPv4(text);
    if (v4 >= 0) return formatIPv4(this.anonymizeV4(v4));
    const v6 = parseIPv6(text);
    if (v6) {
      this.anonymizeV6Into(v6, 0);
      return formatIPv6(v6);
    }
    const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
    throw new Error(`${JSON.stringify(shown)} is not an IPv4 or IPv6 address`);
  }

  /** Slots of the IPv4 and IPv6 caches now (tests). */
  cacheSlots(): { v4: number; v6: number } {
    return { v4: this.#v4.length / V4_ENTRY, v6: this.#v6Used.length };
  }

  /** Forgets cached mappings, wipes the pad and makes OpenSSL drop its key copy. */
  destroy(): void {
    if (!this.#cipher) return;
    try { this.#cipher.final(); } catch { /* an ECB cipher with whole blocks never fails; ignore */ }
    this.#cipher = null;
    wipeSecureCopy(this.#pad);
    sodium.sodium_memzero(this.#blocks);
    this.#v4.fill(0);
    this.#v6Keys.fill(0); this.#v6Vals.fill(0); this.#v6Used.fill(0);
  }

  #aes(blocks: Buffer): Buffer {
    if (!this.#cipher) throw new Error('Crypto-PAn was destroyed: make a new CryptoPan with the key');
    return this.#cipher.update(blocks);
  }

  #computeV4(addr: number): number {
    const blocks = this.#blocks4;
    const pad = this.#pad;
    const pad0 = pad.readUInt32BE(0);
    for (let i = 0; i < 32; i++) {
      const base = i * 16;
      // i = 0 must take the whole pad: a JS shift by 32 is a shift by 0.
      const keep = i === 0 ? 0 : (0xffffffff << (32 - i)) >>> 0;
      blocks.writeUInt32BE(((addr & keep) | (pad0 & ~keep)) >>> 0, base);
    }
    const enc = this.#aes(blocks);
    let flips = 0;
    for (let i = 0; i < 32; i++) flips |= (enc[i * 16] >>> 7) << (31 - i);
    enc.fill(0);
    return (addr ^ flips) >>> 0;
  }

  #computeV6Into(buf: Buffer, off: number): void {
    const blocks = this.#blocks;
    const pad = this.#pad;
    const orig = this.#orig6;
    buf.copy(orig, 0, off, off + 16);
    for (let i = 0; i < 128; i++) {
      const base = i * 16;
      const full = i >>> 3;
      for (let b = 0; b < full; b++) blocks[base + b] = orig[b];
      const rem = i & 7;
      if (rem !== 0) {
        const mask = (0xff00 >>> rem) & 0xff;
        blocks[base + full] = (orig[full] & mask) | (pad[full] & ~mask & 0xff);
      }
    }
    const enc = this.#aes(blocks);
    for (let i = 0; i < 128; i++) {
      buf[off + (i >>> 3)] ^= (enc[i * 16] >>> 7) << (7 - (i & 7));
    }
    enc.fill(0);
    orig.fill(0);
  }
}

// The in-place forms run twice per packet and hit the cache almost always: Buffer's
// readUInt32BE/writeUInt32BE would check their arguments on every word, which costs
// more than the hit. One check of the whole address up front keeps the indexed
// accesses below inside buf.
function checkFits(buf: Buffer, off: number, len: number, family: string): void {
  if (!(off >= 0 && off + len <= buf.length)) throw new RangeError(`${family} address at offset ${off} does not fit in ${buf.length} bytes`);
}

/** Big-endian u32 at buf[at..at+4), inside buf (checkFits). */
function word(buf: Buffer, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

function putWord(buf: Buffer, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = v >>> 16;
  buf[at + 2] = v >>> 8;
  buf[at + 3] = v;
}
