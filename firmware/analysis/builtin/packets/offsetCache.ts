// Per-direction TCP sequence offsets, cached. Each offset is a keyed BLAKE2b of the
// connection's raw 4-tuple (FlowOffsets), and a TCP packet needs two (its own
// direction for seq, the other for ack and SACK): without a cache that hash is the
// rewriter's largest cost. One entry holds both offsets of the packet's 4-tuple, so a
// packet costs one lookup, and the entry's key, offsets and used flag sit side by side
// in one array: the table is megabytes, and each separate array cost a cache miss per
// lookup. Direct-mapped: a collision just recomputes. The cache holds raw addresses,
// like Crypto-PAn's own cache, only in this process's memory.
import type { FlowOffsets } from '../../../anonymize/transforms';
import { u32 } from '../../../decode/bytes';

const BITS = 16; // 64k directions, 3 MB: a busy link has tens of thousands of open connections
const SLOTS = 1 << BITS;
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
  private readonly table = new Uint32Array(SLOTS * WORDS);
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
    const slot = (h ^ (h >>> 15)) >>> (32 - BITS);
    const t = this.table;
    const base = slot * WORDS;
    const words = 1 + 2 * n;
    if (t[base + USED] === addrLen) {
      let same = true;
      for (let k = 0; k < words; k++) if (t[base + k] !== w[k]) { same = false; break; }
      if (same) {
        this.forward = t[base + FORWARD];
        this.reverse = t[base + REVERSE];
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
    for (let k = 0; k < words; k++) t[base + k] = w[k];
    t[base + FORWARD] = fwd;
    t[base + REVERSE] = rev;
    t[base + USED] = addrLen;
    this.forward = fwd;
    this.reverse = rev;
  }
}
