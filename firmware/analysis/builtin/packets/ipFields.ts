// Rewriting of IPv4 and IPv6 headers and the IPv6 extension headers (hop-by-hop,
// routing, fragment, destination options, AH, ESP), outer, inner and quoted alike.
// p: the header's offset in the input, o: in the output buffer.
import { applyAddressAction } from '../../anonymizer';
import { u16, u32, put16, put32 } from '../../../decode/bytes';
import { Act, FieldId, numericField } from './fieldCodes';
import { ScopeKind } from './checksum';
import { fillIpv6Padding, keepIpv4Options, nopIpv4Options, rewriteIpv6Options } from './ipOptions';
import type { PacketRewriter } from './rewriter';

/**
 * An address field gets its field's action, inside an ICMP quote too: the quoted
 * packet's addresses come out as they did in the packet itself. (A quote under
 * icmp.quoted "zero" is zeroed whole before its layers are reached.)
 */
export function addressField(r: PacketRewriter, id: number, o: number, len: 4 | 16): void {
  applyAddressAction(r.prim, r.f.actionById[id], r.out, o, len);
}

export function rewriteIpv4(r: PacketRewriter, p: number, o: number, ihl: number, quoted: boolean): void {
  const out = r.out;
  r.scopes.add(ScopeKind.PLAIN, 10, p, p + ihl, o);
  if (!quoted) {
    // A quoted header's total length describes the original packet, not the quote.
    const total = u16(out, o + 2);
    if (total !== 0 && p + total < r.ipEnd) r.ipEnd = p + total;
    r.addLengthField(o + 2);
  }
  if (r.f.code['ip4.tos'] !== Act.keep) out[o + 1] = 0;
  put16(out, o + 4, numericField(r.prim, r.f, FieldId['ip4.id'], u16(out, o + 4), 16));
  out[o + 8] = numericField(r.prim, r.f, FieldId['ip4.ttl'], out[o + 8], 8);
  addressField(r, FieldId['ip4.src'], o + 12, 4);
  addressField(r, FieldId['ip4.dst'], o + 16, 4);
  r.setIp(p + 12, p + 16, o + 12, o + 16, 4);
  if (ihl <= 20) return;
  const code = r.f.code['ip4.options'];
  if (code === Act.keep) keepIpv4Options(r, o + 20, o + ihl);
  else if (code === Act.drop && !quoted) {
    // Removing the options shortens this header and every length that encloses it;
    // inside a quote there is no length to fix, so quoted options are padded instead.
    out[o] = (out[o] & 0xf0) | 5;
    r.removeBytes(p + 20, o + 20, ihl - 20);
  } else nopIpv4Options(out, o + 20, o + ihl);
}

export function rewriteIpv6(r: PacketRewriter, p: number, o: number, quoted: boolean): void {
  const out = r.out;
  const word = u32(out, o);
  let tclass = (word >>> 20) & 0xff;
  let flow = word & 0xfffff;
  if (r.f.code['ip6.tclass'] !== Act.keep) tclass = 0;
  // Flow label 0 means "unlabelled" and says nothing; hashing it would invent a label.
  if (flow !== 0) flow = numericField(r.prim, r.f, FieldId['ip6.flowlabel'], flow, 20);
  put32(out, o, (6 << 28) | (tclass << 20) | flow);
  if (!quoted) {
    const plen = u16(out, o + 4);
    if (plen !== 0 && p + 40 + plen < r.ipEnd) r.ipEnd = p + 40 + plen;
    r.addLengthField(o + 4);
  }
  out[o + 7] = numericField(r.prim, r.f, FieldId['ip6.hoplimit'], out[o + 7], 8);
  addressField(r, FieldId['ip6.src'], o + 8, 16);
  addressField(r, FieldId['ip6.dst'], o + 24, 16);
  r.setIp(p + 8, p + 24, o + 8, o + 24, 16);
}

/**
 * Hop-by-hop and destination options headers. "drop" takes every option out and
 * shortens the header to its 8-byte minimum (next header, length 0, one PadN), fixing
 * the enclosing lengths; inside an ICMP quote, where no length can be fixed, the
 * options are padded over instead.
 */
export function rewriteIpv6OptionsHeader(r: PacketRewriter, p: number, o: number, len: number, quoted: boolean): void {
  const code = r.f.code['ip6.options'];
  if (code === Act.drop && !quoted) {
    r.out[o + 1] = 0;
    fillIpv6Padding(r.out, o + 2, o + 8);
    if (len > 8) r.removeBytes(p + 8, o + 8, len - 8);
    return;
  }
  rewriteIpv6Options(r, o + 2, o + len, code === Act.keep ? 'keep' : code === Act.drop ? 'drop' : 'nop');
}

/**
 * Routing header: the addresses of types 0 (source route), 2 (mobile IPv6 home
 * address) and 4 (segment routing) get ip6.routing; other types (RPL's compressed
 * addresses among them) have their type-specific data zeroed. While segments are
 * left, TCP/UDP/ICMPv6 checksums use the final destination from this header, so it
 * becomes the pseudo-header's destination.
 */
export function rewriteIpv6Routing(r: PacketRewriter, p: number, o: number, len: number): void {
  const out = r.out;
  const type = out[o + 2];
  const segmentsLeft = out[o + 3];
  let count = 0;
  let final = -1;
  if (type === 0) {
    count = (len - 8) >> 4;
    final = count - 1;
  } else if (type === 2) {
    count = len >= 24 ? 1 : 0;
    final = 0;
  } else if (type === 4) {
    count = Math.min(out[o + 4] + 1, (len - 8) >> 4);
    final = 0;
  } else {
    out.fill(0, o + 8, o + len);
    return;
  }
  for (let k = 0; k < count; k++) addressField(r, FieldId['ip6.routing'], o + 8 + 16 * k, 16);
  if (segmentsLeft > 0 && final >= 0 && final < count) r.setPseudoDst(p + 8 + 16 * final, o + 8 + 16 * final);
}

/** IPv6 fragment header: its identification gets the ip4.id action (the same kind of per-host counter). */
export function rewriteIpv6Fragment(r: PacketRewriter, o: number): void {
  put32(r.out, o + 4, numericField(r.prim, r.f, FieldId['ip4.id'], u32(r.out, o + 4), 32));
}

/** AH: SPI per esp.spi; the integrity check value is zeroed (it was computed over the raw addresses). */
export function rewriteAh(r: PacketRewriter, o: number, len: number): void {
  put32(r.out, o + 4, numericField(r.prim, r.f, FieldId['esp.spi'], u32(r.out, o + 4), 32));
  r.out.fill(0, o + 12, o + len);
}

export function rewriteEsp(r: PacketRewriter, o: number): void {
  put32(r.out, o, numericField(r.prim, r.f, FieldId['esp.spi'], u32(r.out, o), 32));
}
