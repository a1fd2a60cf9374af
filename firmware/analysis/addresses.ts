// Every raw address a packet carries, collected in the analysis process and handed
// to the supervisor's egress guard as keyed hashes. Only addresses the decoder
// located are seen here; the guard is a second line behind the policy, not the first.
import * as sodium from 'sodium-native';
import type { PacketView } from './decode/packetView';
import { Layer } from './decode/constants';

export const addressHashBytes = 8;

/**
 * Addresses already reported, so a packet of a known conversation costs no hash. A
 * fixed open-addressing table over a Buffer (no allocation per packet); when it is
 * three quarters full it is emptied and starts over. That only costs hashes: an
 * address seen again is reported again, and the guard ignores what it knows.
 */
export class SeenAddresses {
  private readonly table: Buffer;
  private readonly used: Uint8Array;
  private readonly mask: number;
  private count = 0;

  constructor(private readonly width: 4 | 16, slots: number) {
    let n = 16;
    while (n < slots) n *= 2;
    this.table = Buffer.alloc(n * width);
    this.used = new Uint8Array(n);
    this.mask = n - 1;
  }

  /** True when buf[off..off+width] was already in the set; adds it otherwise. */
  addIfNew(buf: Buffer, off: number): boolean {
    let h = buf.readUInt32BE(off);
    if (this.width === 16) h ^= buf.readUInt32BE(off + 4) ^ buf.readUInt32BE(off + 8) ^ buf.readUInt32BE(off + 12);
    let i = Math.imul(h, 0x9e3779b1) >>> 0 & this.mask;
    const w = this.width;
    while (this.used[i] === 1) {
      if (this.table.compare(buf, off, off + w, i * w, i * w + w) === 0) return false;
      i = (i + 1) & this.mask;
    }
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) {
      this.used.fill(0);
      this.count = 0;
      return this.addIfNew(buf, off);
    }
    buf.copy(this.table, i * w, off, off + w);
    this.used[i] = 1;
    this.count++;
    return true;
  }

  size(): number {
    return this.count;
  }
}

export class AddressCollector {
  private readonly seen4: SeenAddresses;
  private readonly seen6: SeenAddresses;
  private pending: Buffer;
  private pendingCount = 0;
  private readonly out = Buffer.alloc(32);

  /** `hashKey` is the egress subkey (32 bytes, in secure memory; read under use()). */
  constructor(private readonly hashKey: { use<T>(fn: (k: Buffer) => T): T }, slots = 1 << 18) {
    this.seen4 = new SeenAddresses(4, slots);
    this.seen6 = new SeenAddresses(16, slots >> 2);
    this.pending = Buffer.alloc(1024 * addressHashBytes);
  }

  /** Notes the addresses of one decoded packet. No allocation for addresses already seen. */
  note(v: PacketView, buf: Buffer): void {
    for (let i = 0; i < v.depth; i++) {
      const k = v.kind[i];
      const off = v.off[i];
      if (k === Layer.IPV4 && off + 20 <= v.end) {
        this.add(buf, off + 12, 4);
        this.add(buf, off + 16, 4);
      } else if (k === Layer.IPV6 && off + 40 <= v.end) {
        this.add(buf, off + 8, 16);
        this.add(buf, off + 24, 16);
      }
    }
    if (v.arpSpaOff >= 0 && v.arpPln === 4) this.add(buf, v.arpSpaOff, 4);
    if (v.arpTpaOff >= 0 && v.arpPln === 4) this.add(buf, v.arpTpaOff, 4);
    if (v.ndTargetOff >= 0 && v.ndTargetOff + 16 <= v.end) this.add(buf, v.ndTargetOff, 16);
    if (v.ndRedirectDstOff >= 0 && v.ndRedirectDstOff + 16 <= v.end) this.add(buf, v.ndRedirectDstOff, 16);
    // The packet an ICMP error quotes: usually in the layer stack too, but a quote cut
    // short may only have its addresses located.
    const q = v.quotedAddrLen;
    if (q === 4 || q === 16) {
      if (v.quotedSrcOff >= 0 && v.quotedSrcOff + q <= v.end) this.add(buf, v.quotedSrcOff, q);
      if (v.quotedDstOff >= 0 && v.quotedDstOff + q <= v.end) this.add(buf, v.quotedDstOff, q);
    }
  }

  private add(buf: Buffer, off: number, len: 4 | 16): void {
    if (!(len === 4 ? this.seen4 : this.seen6).addIfNew(buf, off)) return;
    if ((this.pendingCount + 1) * addressHashBytes > this.pending.length) {
      const bigger = Buffer.alloc(this.pending.length * 2);
      this.pending.copy(bigger);
      this.pending = bigger;
    }
    const h = hashAddress(this.hashKey, buf.subarray(off, off + len), this.out);
    h.copy(this.pending, this.pendingCount * addressHashBytes, 0, addressHashBytes);
    this.pendingCount++;
  }

  /** Hashes noted since the last call, or null. */
  take(): Uint8Array | null {
    if (this.pendingCount === 0) return null;
    const r = Buffer.from(this.pending.subarray(0, this.pendingCount * addressHashBytes));
    this.pendingCount = 0;
    return r;
  }
}

/** BLAKE2b keyed with the egress subkey, truncated to addressHashBytes in `out`. */
export function hashAddress(key: { use<T>(fn: (k: Buffer) => T): T }, addr: Buffer, out: Buffer): Buffer {
  const o = out.subarray(0, 16);
  key.use((k) => sodium.crypto_generichash(o, addr, k));
  return o;
}
