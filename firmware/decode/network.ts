// Network-layer headers: IPv4 (with options and fragments), IPv6 and its extension
// headers (hop-by-hop, routing, fragment, destination options, AH; ESP ends decoding),
// and ARP. An IP header inside an ICMP error quote fills the quoted* fields instead of
// the innermost-network fields, and does not narrow the datagram end (quotes are cut).
import { u16, u32 } from './bytes';
import { IpProto, Layer, LayerFlag } from './constants';
import { DecodeCounter } from './counters';
import { ipProtoNext, note, pushLayer, truncatedAt } from './layerStack';
import { PacketView } from './packetView';

/** Makes layer i the innermost IP header; an earlier one becomes a tunnel's outer header. */
function setInnermostIp(v: PacketView, i: number, version: number, addrOff: number, addrLen: number): void {
  if (v.ipLayer >= 0) {
    v.flags[v.ipLayer] |= LayerFlag.TUNNEL;
    v.tunnelDepth++;
  }
  v.ipLayer = i;
  v.ipVersion = version;
  v.ipOff = v.off[i];
  v.ipHeaderLen = v.len[i];
  v.ipSrcOff = addrOff;
  v.ipDstOff = addrOff + addrLen;
  v.ipAddrLen = addrLen;
  // A tunnel's inner packet has its own transport and fragmentation state.
  v.l4Layer = -1;
  v.l4Off = -1;
  v.srcPort = -1;
  v.dstPort = -1;
  v.tcpFlags = 0;
  v.tcpSeqOff = -1;
  v.tcpOptOff = -1;
  v.tcpOptLen = 0;
  v.payloadOff = -1;
  v.payloadLen = 0;
  v.isFragment = 0;
  v.fragOffset = 0;
  v.moreFragments = 0;
  v.fragId = 0;
}

function setQuotedIp(v: PacketView, version: number, addrOff: number, addrLen: number, proto: number): void {
  v.quotedIpVersion = version;
  v.quotedSrcOff = addrOff;
  v.quotedDstOff = addrOff + addrLen;
  v.quotedAddrLen = addrLen;
  v.quotedProto = proto;
}

export function decodeIpv4(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 20 > v.limit) return truncatedAt(v, Layer.IPV4);
  if (buf[p] >> 4 !== 4) return note(v, DecodeCounter.badIpVersion);
  const ihl = (buf[p] & 15) * 4;
  if (ihl < 20) return note(v, DecodeCounter.badIpv4HeaderLength);
  if (p + ihl > v.limit) return truncatedAt(v, Layer.IPV4);
  const total = u16(buf, p + 2);
  // 0 is what TCP segmentation offload leaves in locally sent packets: length unknown.
  if (total !== 0 && total < ihl) return note(v, DecodeCounter.badIpv4TotalLength);
  const proto = buf[p + 9];
  const i = pushLayer(v, Layer.IPV4, p, ihl);
  const frag = u16(buf, p + 6);
  const fragOffset = (frag & 0x1fff) * 8;
  if (v.inQuote) {
    setQuotedIp(v, 4, p + 12, 4, proto);
  } else {
    setInnermostIp(v, i, 4, p + 12, 4);
    v.ipProto = proto;
    v.ipTotalLen = total;
    if (total !== 0 && p + total < v.limit) v.limit = p + total;
    v.moreFragments = (frag >> 13) & 1;
    v.fragOffset = fragOffset;
    v.isFragment = v.moreFragments | (fragOffset !== 0 ? 1 : 0);
    v.fragId = u16(buf, p + 4);
  }
  if (fragOffset !== 0) return note(v, DecodeCounter.laterFragment);
  // IPv6 extension header numbers mean nothing after an IPv4 header.
  if (proto === IpProto.HOPOPTS || proto === IpProto.ROUTING || proto === IpProto.FRAGMENT || proto === IpProto.DSTOPTS) {
    return note(v, DecodeCounter.unknownIpProtocol);
  }
  return ipProtoNext(v, proto);
}

export function decodeIpv6(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 40 > v.limit) return truncatedAt(v, Layer.IPV6);
  if (buf[p] >> 4 !== 6) return note(v, DecodeCounter.badIpVersion);
  const payloadLen = u16(buf, p + 4);
  const next = buf[p + 6];
  const i = pushLayer(v, Layer.IPV6, p, 40);
  if (v.inQuote) {
    setQuotedIp(v, 6, p + 8, 16, next);
  } else {
    setInnermostIp(v, i, 6, p + 8, 16);
    v.ipProto = next;
    // Payload length 0 means a jumbogram (or offload): the captured length decides.
    v.ipTotalLen = payloadLen === 0 ? 0 : payloadLen + 40;
    if (payloadLen !== 0 && p + 40 + payloadLen < v.limit) v.limit = p + 40 + payloadLen;
  }
  return ipProtoNext(v, next);
}

function setUpperProto(v: PacketView, next: number): void {
  if (v.inQuote) v.quotedProto = next;
  else v.ipProto = next;
}

/** Hop-by-hop, routing and destination options share one length rule: (len + 1) * 8. */
export function decodeIpv6Options(kind: number, buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 2 > v.limit) return truncatedAt(v, kind);
  const len = (buf[p + 1] + 1) * 8;
  if (p + len > v.limit) return truncatedAt(v, kind);
  const next = buf[p];
  pushLayer(v, kind, p, len);
  setUpperProto(v, next);
  return ipProtoNext(v, next);
}

export function decodeIpv6Fragment(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 8 > v.limit) return truncatedAt(v, Layer.IPV6_FRAGMENT);
  const next = buf[p];
  const word = u16(buf, p + 2);
  const fragOffset = word & 0xfff8;
  pushLayer(v, Layer.IPV6_FRAGMENT, p, 8);
  setUpperProto(v, next);
  if (!v.inQuote) {
    v.isFragment = 1;
    v.fragOffset = fragOffset;
    v.moreFragments = word & 1;
    v.fragId = u32(buf, p + 4);
  }
  if (fragOffset !== 0) return note(v, DecodeCounter.laterFragment);
  return ipProtoNext(v, next);
}

/** Authentication header (IPv4 or IPv6): length in 4-byte units, minus 2. */
export function decodeAh(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 12 > v.limit) return truncatedAt(v, Layer.AH);
  const len = (buf[p + 1] + 2) * 4;
  if (len < 12 || p + len > v.limit) return truncatedAt(v, Layer.AH);
  const next = buf[p];
  pushLayer(v, Layer.AH, p, len);
  setUpperProto(v, next);
  return ipProtoNext(v, next);
}

/** ESP: SPI and sequence number are readable; everything after is encrypted. */
export function decodeEsp(v: PacketView): number {
  const p = v.cursor;
  if (p + 8 > v.limit) return truncatedAt(v, Layer.ESP);
  pushLayer(v, Layer.ESP, p, 8);
  return note(v, DecodeCounter.espEncrypted);
}

export function decodeArp(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 8 > v.limit) return truncatedAt(v, Layer.ARP);
  const hln = buf[p + 4];
  const pln = buf[p + 5];
  const len = 8 + 2 * (hln + pln);
  if (p + len > v.limit) return truncatedAt(v, Layer.ARP);
  pushLayer(v, Layer.ARP, p, len);
  v.arpOff = p;
  v.arpOp = u16(buf, p + 6);
  v.arpHln = hln;
  v.arpPln = pln;
  v.arpShaOff = p + 8;
  v.arpSpaOff = p + 8 + hln;
  v.arpThaOff = p + 8 + hln + pln;
  v.arpTpaOff = p + 8 + 2 * hln + pln;
  return Layer.NONE;
}
