// Every raw address a packet carries, collected in the analysis process and handed
// to the supervisor's egress guard as keyed hashes. Only addresses the decoder
// located are seen here; the guard is a second line behind the policy, not the first.
import * as sodium from 'sodium-native';
import type { PacketView } from './decode/packetView';
import { Layer } from './decode/constants';

export const addressHashBytes = 8;

export class AddressCollector {
  private readonly seen4 = new Set<number>();
  private readonly seen6 = new Set<string>();
  private pending: Buffer;
  private pendingCount = 0;
  private readonly out = Buffer.alloc(32);

  /** `hashKey` is the egress subkey (32 bytes, in secure memory; read under use()). */
  constructor(private readonly hashKey: { use<T>(fn: (k: Buffer) => T): T }, private readonly limit = 1 << 20) {
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
  }

  private add(buf: Buffer, off: number, len: 4 | 16): void {
    if (len === 4) {
      const a = buf.readUInt32BE(off);
      if (this.seen4.has(a)) return;
      if (this.seen4.size >= this.limit) return;
      this.seen4.add(a);
    } else {
      const s = buf.toString('latin1', off, off + 16);
      if (this.seen6.has(s)) return;
      if (this.seen6.size >= this.limit) return;
      this.seen6.add(s);
    }
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
