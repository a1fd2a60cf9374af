// Rewriting of ICMP and ICMPv6 headers: echo identifiers, the redirect gateway, neighbor
// discovery and MLD addresses, and the ND options (link-layer addresses, prefixes, DNS
// servers). The packet quoted by an error is rewritten by the same layer functions as
// any other header (rewriter.ts walks into it); its addresses follow icmp.quoted.
import { truncatePrefix } from '../../../anonymize/transforms';
import { applyAddressAction } from '../../anonymizer';
import { u16, put16 } from '../../../decode/bytes';
import { FieldId, numericField } from './fieldCodes';
import { ScopeKind } from './checksum';
import { addressField } from './ipFields';
import { macField } from './linkFields';
import type { PacketRewriter } from './rewriter';

function hasIcmpId(type: number): boolean {
  return type === 0 || type === 8 || (type >= 13 && type <= 18);
}

export function rewriteIcmp(r: PacketRewriter, p: number, o: number): void {
  const out = r.out;
  const type = out[o];
  r.scopes.add(ScopeKind.PLAIN, 2, p, r.ipEnd, o);
  if (hasIcmpId(type)) put16(out, o + 4, numericField(r.prim, r.f, FieldId['icmp.id'], u16(out, o + 4), 16));
  // Redirect: bytes 4..8 are the gateway the host should use, a router's address.
  else if (type === 5) addressField(r, FieldId['ip4.dst'], o + 4, 4);
}

export function rewriteIcmpv6(r: PacketRewriter, p: number, o: number, len: number): void {
  const out = r.out;
  const type = out[o];
  const s = r.scopes.add(ScopeKind.PSEUDO, 2, p, r.ipEnd, o);
  r.scopes.setPseudo(s, r.ipInSrc, r.pseudoInDst, r.ipOutSrc, r.pseudoOutDst, r.ipAddrLen);
  if (type === 128 || type === 129) {
    put16(out, o + 4, numericField(r.prim, r.f, FieldId['icmp.id'], u16(out, o + 4), 16));
    return;
  }
  // MLD multicast address, ND target, redirect target: nd.target.
  if (type >= 130 && type <= 137 && type !== 133 && type !== 134 && len >= 24) addressField(r, FieldId['nd.target'], o + 8, 16);
  if (type === 137 && len >= 40) addressField(r, FieldId['nd.target'], o + 24, 16);
}

const ND_SOURCE_LLADDR = 1;
const ND_TARGET_LLADDR = 2;
const ND_PREFIX_INFO = 3;
const ND_MTU = 5;
const ND_NONCE = 14;
const ND_ROUTE_INFO = 24;
const ND_RDNSS = 25;

/**
 * ND options in out[o, end). Link-layer addresses get nd.lladdr; prefixes (prefix
 * information, route information) and DNS servers get ip6.src, so they line up with
 * the anonymized addresses of the hosts inside them; MTU and nonce are kept; every
 * other option keeps its type and length with its contents zeroed (default-deny).
 */
export function rewriteNdOptions(r: PacketRewriter, o: number, end: number): void {
  const out = r.out;
  let i = o;
  while (i + 2 <= end) {
    const type = out[i];
    const olen = out[i + 1] * 8;
    if (olen === 0 || i + olen > end) break;
    switch (type) {
      case ND_SOURCE_LLADDR:
      case ND_TARGET_LLADDR:
        if (olen === 8) macField(r, FieldId['nd.lladdr'], i + 2);
        else out.fill(0, i + 2, i + olen);
        break;
      case ND_PREFIX_INFO:
        if (olen === 32) prefixField(r, i + 16, 16, out[i + 2]);
        else out.fill(0, i + 2, i + olen);
        break;
      case ND_ROUTE_INFO:
        if (olen <= 24) prefixField(r, i + 8, olen - 8, out[i + 2]);
        else out.fill(0, i + 2, i + olen);
        break;
      case ND_RDNSS:
        for (let a = i + 8; a + 16 <= i + olen; a += 16) applyAddressAction(r.prim, r.f.actions['ip6.src'], out, a, 16);
        break;
      case ND_MTU:
      case ND_NONCE:
        break;
      default:
        out.fill(0, i + 2, i + olen);
    }
    i += olen;
  }
  out.fill(0, i, end); // an option cut short or with length 0: nothing after it is trusted
}

/** A prefix of `bytes` (0..16) bytes and `bits` bits: anonymized as an address, then cut to its length. */
function prefixField(r: PacketRewriter, o: number, bytes: number, bits: number): void {
  const s = r.scratch16;
  s.fill(0);
  r.out.copy(s, 0, o, o + bytes);
  applyAddressAction(r.prim, r.f.actions['ip6.src'], s, 0, 16);
  truncatePrefix(s, 0, 16, Math.min(bits, bytes * 8));
  s.copy(r.out, o, 0, bytes);
}
