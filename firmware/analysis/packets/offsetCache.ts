// Per-direction TCP sequence offsets, cached. Each offset is a keyed BLAKE2b of the
// connection's raw 4-tuple (FlowOffsets), and a TCP packet needs two (its own
// direction for seq, the other for ack and SACK): without a cache that hash is the
// rewriter's largest cost. Direct-mapped: a collision just recomputes. The cache holds
// raw addresses, like Crypto-PAn's own cache, only in this process's memory.
import type { FlowOffsets } from '../../anonymize/transforms';
import { u32 } from '../decode/bytes';

const BITS = 16; // 64k directions, 2.6 MB: a busy link has tens of thousands of open connections
const SLOTS = 1 << BITS;
/** Words per slot: family|sport|dport, then up to 8 address words (src, dst). */
const WORDS = 9;

export class OffsetCache {
  private readonly keys = new Uint32Array(SLOTS * WORDS);
  private readonly vals = new Uint32Array(SLOTS);
  private readonly used = new Uint8Array(SLOTS);
  private readonly w = new Uint32Array(WORDS);

  constructor(private readonly offsets: FlowOffsets) {}

  /**
   * Offset of the space sent from src:sport to dst:dport; addresses (4 or 16 bytes) read
   * from buf, inside an IP header the decoder bounded (they are read unchecked).
   */
  offset(buf: Buffer, srcOff: number, dstOff: number, addrLen: number, sport: number, dport: number): number {
    const w = this.w;
    const n = addrLen >> 2;
    w[0] = ((addrLen === 4 ? 0 : 0x80000000) | (sport << 16) | dport) >>> 0;
    let h = Math.imul(w[0], 0x9e3779b1);
    for (let k = 0; k < n; k++) {
      w[1 + k] = u32(buf, srcOff + 4 * k);
      w[1 + n + k] = u32(buf, dstOff + 4 * k);
      h = Math.imul(h ^ w[1 + k], 0x85ebca6b) ^ Math.imul(w[1 + n + k], 0xc2b2ae35);
    }
    const slot = (h ^ (h >>> 15)) >>> (32 - BITS);
    const base = slot * WORDS;
    const words = 1 + 2 * n;
    if (this.used[slot] === 1) {
      let same = true;
      for (let k = 0; k < words; k++) if (this.keys[base + k] !== w[k]) { same = false; break; }
      if (same) return this.vals[slot];
    }
    const v = addrLen === 4
      ? this.offsets.offsetV4(w[1], w[2], sport, dport)
      : this.offsets.offsetV6(buf, srcOff, dstOff, sport, dport);
    for (let k = 0; k < words; k++) this.keys[base + k] = w[k];
    this.vals[slot] = v;
    this.used[slot] = 1;
    return v;
  }
}
