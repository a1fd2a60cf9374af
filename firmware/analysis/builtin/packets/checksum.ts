// Internet checksums of rewritten packets, updated incrementally (RFC 1624, eqn. 3:
// HC' = ~(~HC + ~m + m')) instead of recomputed. The rewriter usually drops the
// payload, so a checksum cannot be recomputed from what is kept; the incremental form
// needs only the words that changed, all of which are in the kept headers. It also
// keeps a checksum's verdict exactly: one that was valid on the wire is valid for the
// anonymized packet, and one that was wrong stays wrong by the same amount (offloaded
// partial checksums of locally sent packets stay recognisably wrong).
//
// A scope is one checksum field and the bytes it covers, recorded while the rewriter
// walks the headers and settled at the end, innermost first: an outer checksum (GRE,
// ICMP over a quoted packet) covers inner checksum fields, so those must be final
// before the outer delta is taken.

/** Ones' complement sum (not complemented, folded to 16 bits) of buf[from, to), words aligned at `from`. */
export function onesSum(buf: Buffer, from: number, to: number): number {
  // High and low bytes summed apart and joined once: a sum of words is the same
  // number, and the loop does two plain additions per word instead of shifting.
  let hi = 0;
  let lo = 0;
  let i = from;
  for (; i + 1 < to; i += 2) {
    hi += buf[i];
    lo += buf[i + 1];
  }
  if (i < to) hi += buf[i];
  return fold(hi * 256 + lo);
}

export function fold(sum: number): number {
  // Up to 2^32 (the sums of every scope under about 128 KiB; longer ones, up to the
  // 256 KiB limit, take the loop below), two integer steps are enough. Each is a step
  // of that loop, and a step on an already folded value changes nothing, so both paths
  // give the same result.
  if (sum <= 0xffffffff) {
    sum = (sum & 0xffff) + (sum >>> 16);
    return (sum & 0xffff) + (sum >>> 16);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** RFC 1624 eqn. 3 for whole regions: checksum `hc` after the covered words' sum went from oldSum to newSum. */
export function updateChecksum(hc: number, oldSum: number, newSum: number): number {
  return (~fold((~hc & 0xffff) + (~oldSum & 0xffff) + newSum)) & 0xffff;
}

/** How a scope's checksum field is treated. */
export const ScopeKind = {
  /** Header or message checksum without a pseudo-header (IPv4 header, ICMP, GRE). */
  PLAIN: 0,
  /** TCP, ICMPv6: pseudo-header with the IP addresses. */
  PSEUDO: 1,
  /** UDP: pseudo-header; 0 means "no checksum" and stays 0; a computed 0 is sent as 0xffff. */
  UDP: 2,
} as const;

export const MAX_SCOPES = 24;

/**
 * The checksum scopes of the packet being rewritten, in preallocated arrays. Offsets
 * are absolute: `in*` into the captured packet, `out*` into the output buffer.
 */
export class ChecksumScopes {
  count = 0;
  readonly kind = new Uint8Array(MAX_SCOPES);
  /** Offset of the checksum field from the scope's start (the same on both sides). */
  readonly field = new Int32Array(MAX_SCOPES);
  readonly inStart = new Int32Array(MAX_SCOPES);
  /** End of the covered bytes in the input (the datagram's end, maybe past the capture). */
  readonly inEnd = new Int32Array(MAX_SCOPES);
  readonly outStart = new Int32Array(MAX_SCOPES);
  /** Pseudo-header addresses: source and destination, in and out, and their length (4|16). */
  readonly inSrc = new Int32Array(MAX_SCOPES);
  readonly inDst = new Int32Array(MAX_SCOPES);
  readonly outSrc = new Int32Array(MAX_SCOPES);
  readonly outDst = new Int32Array(MAX_SCOPES);
  readonly addrLen = new Uint8Array(MAX_SCOPES);
  /** Bytes removed from the segment the pseudo-header's length counts (TCP options dropped). */
  readonly lengthCut = new Int32Array(MAX_SCOPES);

  reset(): void {
    this.count = 0;
  }

  /** Records a scope; returns its index, or -1 when the table is full (the checksum is left as it was). */
  add(kind: number, field: number, inStart: number, inEnd: number, outStart: number): number {
    if (this.count >= MAX_SCOPES) return -1;
    const i = this.count++;
    this.kind[i] = kind;
    this.field[i] = field;
    this.inStart[i] = inStart;
    this.inEnd[i] = inEnd;
    this.outStart[i] = outStart;
    this.addrLen[i] = 0;
    this.lengthCut[i] = 0;
    return i;
  }

  setPseudo(i: number, inSrc: number, inDst: number, outSrc: number, outDst: number, addrLen: number): void {
    if (i < 0) return;
    this.inSrc[i] = inSrc;
    this.inDst[i] = inDst;
    this.outSrc[i] = outSrc;
    this.outDst[i] = outDst;
    this.addrLen[i] = addrLen;
  }

  /**
   * Writes every scope's updated checksum into `out`, innermost (last recorded) first.
   * inView, outView: DataViews over exactly inBuf and out (byteCopy.ts viewOf).
   * copiedIn: end of the input bytes present in the output; mapOut: input offset → output
   * offset (they differ when IPv4 options were removed).
   */
  settle(inBuf: Buffer, inView: DataView, out: Buffer, outView: DataView, copiedIn: number, mapOut: (inOff: number) => number): void {
    for (let i = this.count - 1; i >= 0; i--) {
      const start = this.inStart[i];
      const ck = start + this.field[i];
      const end = Math.min(this.inEnd[i], copiedIn);
      if (ck + 2 > end) continue; // the checksum field itself was not kept
      const hc = (inBuf[ck] << 8) | inBuf[ck + 1];
      const kind = this.kind[i];
      if (kind === ScopeKind.UDP && hc === 0) continue;
      const outStart = this.outStart[i];
      const outEnd = mapOut(end);
      // Both sums include the scope's own checksum field, which still holds hc in the
      // output: it cancels out, so neither side needs it zeroed. The sums are taken in
      // one pass over both buffers when no bytes were removed inside the scope (almost
      // always), four bytes at a time: each big-endian 32-bit load is split into its two
      // 16-bit words, which keeps the totals small enough for fold's integer path. A
      // ones' complement sum is the same however its words are grouped, so the result
      // does not depend on the path taken.
      let oldSum = 0;
      let newSum = 0;
      if (outEnd - outStart === end - start) {
        let k = start;
        let o = outStart;
        for (; k + 4 <= end; k += 4, o += 4) {
          const a = inView.getUint32(k);
          const b = outView.getUint32(o);
          oldSum += (a >>> 16) + (a & 0xffff);
          newSum += (b >>> 16) + (b & 0xffff);
        }
        if (k + 2 <= end) {
          oldSum += inView.getUint16(k);
          newSum += outView.getUint16(o);
          k += 2;
          o += 2;
        }
        if (k < end) {
          oldSum += inBuf[k] * 256;
          newSum += out[o] * 256;
        }
      } else {
        oldSum = onesSum(inBuf, start, end);
        newSum = onesSum(out, outStart, outEnd);
      }
      const n = this.addrLen[i];
      let cut = 0;
      if (kind !== ScopeKind.PLAIN && n > 0) {
        // Pseudo-header: both addresses (4 or 16 bytes, whole 16-bit words).
        const inSrc = this.inSrc[i];
        const inDst = this.inDst[i];
        const outSrc = this.outSrc[i];
        const outDst = this.outDst[i];
        for (let k = 0; k < n; k += 2) {
          oldSum += inView.getUint16(inSrc + k) + inView.getUint16(inDst + k);
          newSum += outView.getUint16(outSrc + k) + outView.getUint16(outDst + k);
        }
        // The pseudo-header's length went down by lengthCut. Only the difference of the
        // sums matters, and a 32-bit length's words sum to the length modulo 0xffff, so
        // counting the cut on the old side is exact for IPv4 and IPv6 alike.
        cut = this.lengthCut[i];
      }
      let sum = updateChecksum(hc, fold(oldSum + cut), fold(newSum));
      if (kind === ScopeKind.UDP && sum === 0) sum = 0xffff;
      const o = outStart + this.field[i];
      out[o] = sum >>> 8;
      out[o + 1] = sum & 0xff;
    }
  }

}
