// Every raw address and MAC a packet carries, collected in the analysis process and
// handed to the supervisor's egress guard as keyed hashes. Only values the decoder
// located are seen here (plus the link-layer addresses and DNS servers of neighbour
// discovery options); the guard is a second line behind the policy, not the first.
//
// One hash batch, 8 bytes a value, carries addresses and MACs alike: a MAC is hashed
// with a 1-byte domain prefix (MAC_HASH_DOMAIN), so its hash input is 7 bytes and can
// never be an address's (4 or 16 bytes), and the guard asks "was this MAC seen?" with
// the same prefix. Changing the prefix or the key use on one side only makes the
// guard blind: keep hashValue() the only way both sides hash.
import * as sodium from 'sodium-native';
import type { PacketView } from '../decode/packetView';
import { Layer } from '../decode/constants';

export const addressHashBytes = 8;
/** First byte of a MAC's hash input ('M'): keeps MAC hashes apart from address hashes. */
export const MAC_HASH_DOMAIN = 0x4d;

/** A key readable only inside use() (SecretKey). */
export interface KeyUser {
  use<T>(fn: (k: Buffer) => T): T;
}

/**
 * True for values that name no host and are never reported nor refused: the all-zero
 * value of any width (what the policy's "zero" writes; 0.0.0.0 and :: of DHCP and
 * duplicate address detection; the unknown target MAC of an ARP request) and the
 * broadcast MAC, which the MAC permutation keeps as it is (anonymize/mac.ts). Were
 * they refused, every zeroed field and every broadcast frame would be.
 */
export function namesNoHost(buf: Uint8Array, off: number, len: number): boolean {
  const b0 = buf[off];
  if (b0 !== 0 && !(len === 6 && b0 === 0xff)) return false;
  for (let i = 1; i < len; i++) if (buf[off + i] !== b0) return false;
  return true;
}

/**
 * Keyed BLAKE2b of a 4- or 16-byte address, or of a MAC (len 6, hashed behind
 * MAC_HASH_DOMAIN), read in place from a packet: no allocation per value. The first
 * addressHashBytes bytes of the 16-byte result are what the guard keeps. Each call
 * opens the key once; a caller hashing many values wraps them in one key.use() of its
 * own, and the nested calls cost no mprotect.
 */
export class ValueHasher {
  /** The last hash (16 bytes); overwritten by the next call. */
  readonly out = Buffer.alloc(16);
  private readonly in4 = Buffer.alloc(4);
  private readonly in16 = Buffer.alloc(16);
  private readonly inMac = Buffer.alloc(7);
  private input: Buffer = this.in4;
  private readonly hashWithKey = (k: Buffer): void => {
    sodium.crypto_generichash(this.out, this.input, k);
  };

  constructor(private readonly key: KeyUser) {
    this.inMac[0] = MAC_HASH_DOMAIN;
  }

  hash(buf: Uint8Array, off: number, len: 4 | 6 | 16): Buffer {
    let input: Buffer;
    let at = 0;
    if (len === 4) input = this.in4;
    else if (len === 16) input = this.in16;
    else {
      input = this.inMac;
      at = 1;
    }
    for (let i = 0; i < len; i++) input[at + i] = buf[off + i];
    this.input = input;
    this.key.use(this.hashWithKey);
    return this.out;
  }
}

/**
 * Values already reported, so a packet of a known conversation costs no hash. An
 * open-addressing table (no allocation per packet) that starts small and doubles when
 * three quarters full, up to `maxSlots`; full at that size, it is emptied and starts
 * over. That only costs hashes: a value seen again is reported again, and the guard
 * ignores what it knows. Starting small keeps the slots a link's few thousand hosts
 * use close together: a table of the largest size from the start spread them over a
 * megabyte, and every lookup missed the CPU's caches (docs/benchmarks.md).
 *
 * Values are kept and compared as 32-bit words (readValueWords), read once per lookup:
 * compared byte by byte they made this the analysis' largest cost after the flow
 * table on the flows output (two to four lookups a packet).
 */
export class SeenAddresses {
  private table: Uint32Array;
  private used: Uint8Array;
  /** Words kept per value: 1 (IPv4), 2 (MAC), 4 (IPv6). */
  private readonly words: number;
  private mask: number;
  /** 32 - log2(slots): the slot is the top bits of the multiplied hash. */
  private shift: number;
  private readonly maxSlots: number;
  private count = 0;
  /** The words of the value being looked up (readValueWords). */
  private readonly value = new Uint32Array(4);

  constructor(private readonly width: 4 | 6 | 16, maxSlots: number, firstSlots = 1024) {
    let max = 16;
    while (max < maxSlots) max *= 2;
    let n = 16;
    while (n < Math.min(firstSlots, max)) n *= 2;
    this.maxSlots = max;
    this.words = width === 4 ? 1 : width === 6 ? 2 : 4;
    this.table = new Uint32Array(n * this.words);
    this.used = new Uint8Array(n);
    this.mask = n - 1;
    this.shift = 32 - Math.log2(n);
  }

  /** True when buf[off..off+width] was already in the set; adds it otherwise. */
  addIfNew(buf: Buffer, off: number): boolean {
    const v = this.value;
    readValueWords(buf, off, this.width, v);
    const a = v[0];
    const b = v[1];
    const c = v[2];
    const d = v[3];
    const n = this.words;
    const t = this.table;
    let i = this.slotOf(a, b, c, d);
    while (this.used[i] === 1) {
      const at = i * n;
      if (t[at] === a && (n === 1 || (t[at + 1] === b && (n === 2 || (t[at + 2] === c && t[at + 3] === d))))) return false;
      i = (i + 1) & this.mask;
    }
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) {
      if (this.mask + 1 < this.maxSlots) this.grow();
      else {
        // Raw values: wiped, not only forgotten.
        this.table.fill(0);
        this.used.fill(0);
        this.count = 0;
      }
      return this.addIfNew(buf, off);
    }
    this.put(i, a, b, c, d);
    return true;
  }

  size(): number {
    return this.count;
  }

  /** The values' words, `words` a slot (packetsRun reads them: native/capture). Replaced when the set grows. */
  tableArray(): Uint32Array {
    return this.table;
  }

  /** 1 for each slot in use. Replaced when the set grows. */
  usedArray(): Uint8Array {
    return this.used;
  }

  /** Slots in use now (tests). */
  slots(): number {
    return this.mask + 1;
  }

  private slotOf(a: number, b: number, c: number, d: number): number {
    // A MAC's last four bytes (word a) vary most: the first three are the vendor's.
    const h = this.width === 6 ? a ^ (b << 16) : a ^ b ^ c ^ d;
    // Fibonacci hashing: the top bits of the product depend on every bit of h. The low
    // bits (a mask) depend only on h's low bits, which MACs of one vendor share: 1,025
    // MACs fell into 32 slots and each lookup probed hundreds.
    return Math.imul(h, 0x9e3779b1) >>> this.shift;
  }

  private put(i: number, a: number, b: number, c: number, d: number): void {
    const n = this.words;
    const t = this.table;
    const at = i * n;
    t[at] = a;
    if (n > 1) t[at + 1] = b;
    if (n > 2) {
      t[at + 2] = c;
      t[at + 3] = d;
    }
    this.used[i] = 1;
    this.count++;
  }

  /** Twice the slots, every value kept. */
  private grow(): void {
    const oldTable = this.table;
    const oldUsed = this.used;
    const n = this.words;
    const slots = 2 * (this.mask + 1);
    this.table = new Uint32Array(slots * n);
    this.used = new Uint8Array(slots);
    this.mask = slots - 1;
    this.shift--;
    this.count = 0;
    for (let s = 0; s < oldUsed.length; s++) {
      if (oldUsed[s] !== 1) continue;
      const at = s * n;
      const a = oldTable[at];
      const b = n > 1 ? oldTable[at + 1] : 0;
      const c = n > 2 ? oldTable[at + 2] : 0;
      const d = n > 2 ? oldTable[at + 3] : 0;
      let i = this.slotOf(a, b, c, d);
      while (this.used[i] === 1) i = (i + 1) & this.mask;
      this.put(i, a, b, c, d);
    }
    oldTable.fill(0);
  }
}

/**
 * An address or MAC at buf[off, off+len) as four 32-bit words into `out`, zeros after
 * its last: IPv4 one word, a MAC two (its last four bytes, then its first two), IPv6
 * four. Different bytes of one length never give the same words. The seen-address sets
 * and the guard's cache of checked values keep and compare values this way: a byte at
 * a time, hashing and comparing were their largest cost per packet.
 */
export function readValueWords(buf: Uint8Array, off: number, len: 4 | 6 | 16, out: Uint32Array): void {
  if (len === 6) {
    out[0] = word(buf, off + 2);
    out[1] = (buf[off] << 8) | buf[off + 1];
    out[2] = 0;
    out[3] = 0;
  } else {
    out[0] = word(buf, off);
    out[1] = len === 16 ? word(buf, off + 4) : 0;
    out[2] = len === 16 ? word(buf, off + 8) : 0;
    out[3] = len === 16 ? word(buf, off + 12) : 0;
  }
}

/** The big-endian 32-bit word at buf[off]. */
function word(buf: Uint8Array, off: number): number {
  return (buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3];
}

const ND_SOURCE_LLADDR = 1;
const ND_TARGET_LLADDR = 2;
const ND_RDNSS = 25;

/** AddressCollector.seenSets(): the IPv4 addresses, MACs and IPv6 addresses reported so far. */
export interface SeenSets { v4: SeenAddresses; mac: SeenAddresses; v6: SeenAddresses }

export class AddressCollector {
  private readonly seen4: SeenAddresses;
  private readonly seen6: SeenAddresses;
  private readonly seenMac: SeenAddresses;
  private pending: Buffer;
  private pendingCount = 0;
  private readonly hasher: ValueHasher;

  /** `hashKey` is the egress subkey (32 bytes, in secure memory; read under use()). */
  constructor(hashKey: KeyUser, slots = 1 << 18) {
    this.seen4 = new SeenAddresses(4, slots);
    this.seen6 = new SeenAddresses(16, slots >> 2);
    this.seenMac = new SeenAddresses(6, slots >> 2);
    this.pending = Buffer.alloc(1024 * addressHashBytes);
    this.hasher = new ValueHasher(hashKey);
  }

  /**
   * Notes the addresses and MACs of one decoded packet: the MACs of every Ethernet
   * header on the stack (inner frames of tunnels too) and of Linux cooked headers,
   * ARP's hardware and protocol addresses, the IP addresses of every IP header, ND
   * targets, link-layer address options and DNS servers, the gateway of an ICMP
   * redirect, and the addresses of a packet an ICMP error quotes. The guard looks at
   * the same places in outgoing packets (egress/packet-record.ts). No allocation for
   * values already seen.
   */
  note(v: PacketView, buf: Buffer): void {
    for (let i = 0; i < v.depth; i++) {
      const k = v.kind[i];
      const off = v.off[i];
      if (k === Layer.ETHERNET) {
        this.add(buf, off, 6);
        this.add(buf, off + 6, 6);
      } else if (k === Layer.IPV4 && off + 20 <= v.end) {
        this.add(buf, off + 12, 4);
        this.add(buf, off + 16, 4);
      } else if (k === Layer.IPV6 && off + 40 <= v.end) {
        this.add(buf, off + 8, 16);
        this.add(buf, off + 24, 16);
      } else if (k === Layer.SLL && buf[off + 5] === 6) {
        this.add(buf, off + 6, 6);
      } else if (k === Layer.SLL2 && buf[off + 11] === 6) {
        this.add(buf, off + 12, 6);
      } else if (k === Layer.ICMP && buf[off] === 5) {
        this.add(buf, off + 4, 4); // redirect: the gateway to use (the rewriter anonymizes it as ip4.dst)
      }
    }
    if (v.arpOff >= 0 && v.arpHln === 6) {
      this.add(buf, v.arpShaOff, 6);
      this.add(buf, v.arpThaOff, 6);
    }
    if (v.arpSpaOff >= 0 && v.arpPln === 4) this.add(buf, v.arpSpaOff, 4);
    if (v.arpTpaOff >= 0 && v.arpPln === 4) this.add(buf, v.arpTpaOff, 4);
    if (v.ndTargetOff >= 0 && v.ndTargetOff + 16 <= v.end) this.add(buf, v.ndTargetOff, 16);
    if (v.ndRedirectDstOff >= 0 && v.ndRedirectDstOff + 16 <= v.end) this.add(buf, v.ndRedirectDstOff, 16);
    if (v.ndOptOff >= 0 && v.ndOptLen > 0) this.noteNdOptions(buf, v.ndOptOff, Math.min(v.end, v.ndOptOff + v.ndOptLen));
    // The packet an ICMP error quotes: usually in the layer stack too, but a quote cut
    // short may only have its addresses located.
    const q = v.quotedAddrLen;
    if (q === 4 || q === 16) {
      if (v.quotedSrcOff >= 0 && v.quotedSrcOff + q <= v.end) this.add(buf, v.quotedSrcOff, q);
      if (v.quotedDstOff >= 0 && v.quotedDstOff + q <= v.end) this.add(buf, v.quotedDstOff, q);
    }
  }

  /** ND options in buf[from, end): link-layer addresses (8-byte options) and RDNSS servers, walked as the rewriter walks them. */
  private noteNdOptions(buf: Buffer, from: number, end: number): void {
    for (let i = from; i + 2 <= end;) {
      const type = buf[i];
      const olen = buf[i + 1] * 8;
      if (olen === 0 || i + olen > end) return;
      if ((type === ND_SOURCE_LLADDR || type === ND_TARGET_LLADDR) && olen === 8) this.add(buf, i + 2, 6);
      else if (type === ND_RDNSS) for (let a = i + 8; a + 16 <= i + olen; a += 16) this.add(buf, a, 16);
      i += olen;
    }
  }

  private add(buf: Buffer, off: number, len: 4 | 6 | 16): void {
    if (namesNoHost(buf, off, len)) return;
    if (!(len === 4 ? this.seen4 : len === 6 ? this.seenMac : this.seen6).addIfNew(buf, off)) return;
    if ((this.pendingCount + 1) * addressHashBytes > this.pending.length) {
      const bigger = Buffer.alloc(this.pending.length * 2);
      this.pending.copy(bigger);
      this.pending = bigger;
    }
    this.hasher.hash(buf, off, len).copy(this.pending, this.pendingCount * addressHashBytes, 0, addressHashBytes);
    this.pendingCount++;
  }

  /** The sets of IPv4 addresses, MACs and IPv6 addresses already reported, for lookups in C (packetsRun, flowsRun). */
  seenSets(): SeenSets {
    return { v4: this.seen4, mac: this.seenMac, v6: this.seen6 };
  }

  /** Hashes noted since the last call, or null. */
  take(): Uint8Array | null {
    if (this.pendingCount === 0) return null;
    const r = Buffer.from(this.pending.subarray(0, this.pendingCount * addressHashBytes));
    this.pendingCount = 0;
    return r;
  }
}

/** The keyed hash of an address (4 or 16 bytes) into `out`, as the collector reports it. Tests and one-off callers. */
export function hashAddress(key: KeyUser, addr: Buffer, out: Buffer): Buffer {
  return copyHash(new ValueHasher(key).hash(addr, 0, addr.length as 4 | 16), out);
}

/** The keyed hash of a 6-byte MAC into `out`, as the collector reports it. Tests and one-off callers. */
export function hashMac(key: KeyUser, mac: Buffer, out: Buffer): Buffer {
  return copyHash(new ValueHasher(key).hash(mac, 0, 6), out);
}

function copyHash(h: Buffer, out: Buffer): Buffer {
  h.copy(out, 0, 0, 16);
  return out.subarray(0, 16);
}
