// Rewriting of the headers around IP: Ethernet, 802.1Q tags, Linux cooked headers,
// MPLS, PPPoE, ARP, and the tunnel headers GRE and ERSPAN. Each function rewrites one
// decoded header in the output buffer at `o` (the input copy is at `p` in r.inBuf,
// untouched, for reading raw values).
import { applyAddressAction } from '../../anonymizer';
import { u16, u32, put16, put32 } from '../../../decode/bytes';
import { Act, FieldId, numericField } from './fieldCodes';
import { ScopeKind } from './checksum';
import type { PacketRewriter } from './rewriter';

/** A MAC-valued field (id: FieldId): keyed permutation or zeros. */
export function macField(r: PacketRewriter, id: number, o: number): void {
  if (r.f.codeById[id] === Act.mac) r.prim.mac.anonymizeMacInto(r.out, o);
  else r.out.fill(0, o, o + 6);
}

export function rewriteEthernet(r: PacketRewriter, o: number): void {
  macField(r, FieldId['eth.dst'], o);
  macField(r, FieldId['eth.src'], o + 6);
}

/**
 * 802.1Q/802.1ad tag. VLAN 0 (priority tag, "no VLAN") stays 0; other ids are hashed
 * into 1..4094 so the result is still a usable VLAN id (0 and 4095 are reserved).
 */
export function rewriteVlan(r: PacketRewriter, o: number): void {
  const tci = u16(r.out, o);
  let pcp = tci >>> 13;
  const dei = (tci >>> 12) & 1;
  let vid = tci & 0xfff;
  if (r.f.code['vlan.pcp'] !== Act.keep) pcp = 0;
  vid = vlanId(r, vid);
  put16(r.out, o, (pcp << 13) | (dei << 12) | vid);
}

export function vlanId(r: PacketRewriter, vid: number): number {
  if (vid === 0) return 0;
  const code = r.f.code['vlan.id'];
  if (code === Act.keep) return vid;
  if (code === Act.hash) return 1 + (r.prim.hash.hashNumber(vid, 32) % 4094);
  return 0;
}

/** Linux cooked v1/v2: the link-layer address (up to 8 bytes); anything but a 6-byte MAC is zeroed. */
export function rewriteSllAddress(r: PacketRewriter, addrLenOff: number, addrOff: number): void {
  const halen = r.out[addrLenOff];
  if (halen === 6) {
    macField(r, FieldId['sll.src'], addrOff);
    r.out.fill(0, addrOff + 6, addrOff + 8);
  } else {
    r.out.fill(0, addrOff, addrOff + 8);
  }
}

/** MPLS: labels 0..15 are reserved signals (explicit null, router alert...) and stay; others are hashed above them. */
export function rewriteMpls(r: PacketRewriter, o: number): void {
  const word = u32(r.out, o);
  const label = word >>> 12;
  if (label < 16) return;
  const code = r.f.code['mpls.label'];
  let nl = label;
  if (code === Act.hash) nl = 16 + (r.prim.hash.hashNumber(label, 32) % ((1 << 20) - 16));
  else if (code !== Act.keep) nl = 0;
  put32(r.out, o, (nl << 12) | (word & 0xfff));
}

export function rewritePppoe(r: PacketRewriter, o: number): void {
  put16(r.out, o + 2, numericField(r.prim, r.f, FieldId['pppoe.session'], u16(r.out, o + 2), 16));
  // The PPPoE length covers the IP packet: shortened if IPv4 options are removed.
  r.addLengthField(o + 4);
}

/** ARP: hardware addresses that are not 6-byte MACs, and protocol addresses that are not IPv4, are zeroed. */
export function rewriteArp(r: PacketRewriter, o: number): void {
  const out = r.out;
  const hln = out[o + 4];
  const pln = out[o + 5];
  const ipv4 = u16(out, o + 2) === 0x0800 && pln === 4;
  const sha = o + 8;
  const spa = sha + hln;
  const tha = spa + pln;
  const tpa = tha + hln;
  if (hln === 6) {
    macField(r, FieldId['arp.sha'], sha);
    macField(r, FieldId['arp.tha'], tha);
  } else {
    out.fill(0, sha, sha + hln);
    out.fill(0, tha, tha + hln);
  }
  if (ipv4) {
    applyAddressAction(r.prim, r.f.actions['arp.spa'], out, spa, 4);
    applyAddressAction(r.prim, r.f.actions['arp.tpa'], out, tpa, 4);
  } else {
    out.fill(0, spa, spa + pln);
    out.fill(0, tpa, tpa + pln);
  }
}

/** GRE: key (version 0) or call id (version 1, PPTP) per gre.key; the optional checksum covers the tunnelled packet. */
export function rewriteGre(r: PacketRewriter, p: number, o: number): void {
  const out = r.out;
  const flags = u16(out, o);
  const version = flags & 7;
  let q = o + 4;
  if (version === 0) {
    if (flags & 0x8000) {
      r.scopes.add(ScopeKind.PLAIN, 4, p, r.ipEnd, o);
      q += 4;
    }
    if (flags & 0x2000) put32(out, q, numericField(r.prim, r.f, FieldId['gre.key'], u32(out, q), 32));
  } else if (version === 1) {
    put16(out, o + 6, numericField(r.prim, r.f, FieldId['gre.key'], u16(out, o + 6), 16));
  }
}

/**
 * ERSPAN II/III: the mirrored frame's VLAN gets vlan.id; the type III timestamp and
 * the optional platform sub-header (switch ids, timestamp high bits) are zeroed unless
 * the policy keeps time.
 */
export function rewriteErspan(r: PacketRewriter, o: number, len: number): void {
  const out = r.out;
  const word = u16(out, o);
  put16(out, o, (word & 0xf000) | vlanId(r, word & 0xfff));
  if (out[o] >> 4 === 2 && r.f.code.time !== Act.keep) {
    out.fill(0, o + 4, o + 8);
    if (len > 12) out.fill(0, o + 12, o + len);
  }
}
