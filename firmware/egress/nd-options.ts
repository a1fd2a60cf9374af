// Neighbour discovery options in an outgoing packet, walked as the rewriter writes them
// (rewriteNdOptions in analysis/builtin/packets/icmpFields.ts): link-layer addresses get the
// MAC permutation, prefixes and DNS servers are anonymized as addresses, MTU and nonce
// are kept, and every other option keeps its type and length with its contents zeroed;
// after an option cut short or of length 0 everything is zeroed. The decoder does not
// parse options, so the guard does it here: what the rewriter zeroes must be zero, and
// the MACs and addresses it anonymizes are looked up like header fields.
import type { RawValueTest } from './packet-record';

const ND_SOURCE_LLADDR = 1;
const ND_TARGET_LLADDR = 2;
const ND_PREFIX_INFO = 3;
const ND_MTU = 5;
const ND_NONCE = 14;
const ND_ROUTE_INFO = 24;
const ND_RDNSS = 25;

export function isZero(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Where the well-formed options in b[from, end) end (what follows must be zero), or -1
 * when an option holds bytes the rewriter would have zeroed.
 */
export function ndOptionsEnd(b: Buffer, from: number, end: number): number {
  let i = from;
  while (i + 2 <= end) {
    const type = b[i];
    const olen = b[i + 1] * 8;
    if (olen === 0 || i + olen > end) break;
    let kept: boolean;
    switch (type) {
      case ND_SOURCE_LLADDR:
      case ND_TARGET_LLADDR: kept = olen === 8; break;
      case ND_PREFIX_INFO: kept = olen === 32; break;
      case ND_ROUTE_INFO: kept = olen <= 24; break;
      case ND_RDNSS:
      case ND_MTU:
      case ND_NONCE: kept = true; break;
      default: kept = false;
    }
    if (!kept && !isZero(b, i + 2, i + olen)) return -1;
    i += olen;
  }
  return i;
}

/** True when a link-layer address option's MAC or an RDNSS option's address in b[from, end) was seen raw. */
export function ndOptionsCarryRaw(b: Buffer, from: number, end: number, t: RawValueTest): boolean {
  for (let i = from; i + 2 <= end;) {
    const type = b[i];
    const olen = b[i + 1] * 8;
    if (olen === 0 || i + olen > end) return false;
    if ((type === ND_SOURCE_LLADDR || type === ND_TARGET_LLADDR) && olen === 8 && t.rawAt(b, i + 2, 6)) return true;
    if (type === ND_RDNSS) for (let a = i + 8; a + 16 <= i + olen; a += 16) if (t.rawAt(b, a, 16)) return true;
    i += olen;
  }
  return false;
}
