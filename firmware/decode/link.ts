// Link-layer headers: the pcap link types, Ethernet, 802.1Q/QinQ tags, MPLS, PPPoE.
// Each decoder reads the header at v.cursor (bounded by v.limit), pushes it, and
// returns the kind of the next layer (Layer.NONE to stop).
import { u16, u32 } from './bytes';
import { Layer, LinkType } from './constants';
import { DecodeCounter } from './counters';
import { etherTypeNext, note, pushLayer, truncatedAt } from './layerStack';
import { MAX_VLAN_TAGS, PacketView } from './packetView';

/** First layer of a packet of this link type; Layer.NONE (counted) if unknown. */
export function firstLayer(linkType: number, buf: Buffer, v: PacketView): number {
  switch (linkType) {
    case LinkType.EN10MB: return Layer.ETHERNET;
    case LinkType.LINUX_SLL: return Layer.SLL;
    case LinkType.LINUX_SLL2: return Layer.SLL2;
    case LinkType.NULL:
    case LinkType.LOOP: return Layer.LOOPBACK;
    case LinkType.IPV4: return Layer.IPV4;
    case LinkType.IPV6: return Layer.IPV6;
    case LinkType.RAW:
    case LinkType.RAW_BSD12:
    case LinkType.RAW_BSD14: return ipByVersion(buf, v);
  }
  return note(v, DecodeCounter.unknownLinkType);
}

/** Raw IP and MPLS payloads say their version only in the first nibble. */
export function ipByVersion(buf: Buffer, v: PacketView): number {
  if (v.cursor >= v.limit) return truncatedAt(v, Layer.IPV4);
  const version = buf[v.cursor] >> 4;
  if (version === 4) return Layer.IPV4;
  if (version === 6) return Layer.IPV6;
  return note(v, DecodeCounter.badIpVersion);
}

export function decodeEthernet(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 14 > v.limit) return truncatedAt(v, Layer.ETHERNET);
  pushLayer(v, Layer.ETHERNET, p, 14);
  return etherTypeNext(v, u16(buf, p + 12));
}

export function decodeVlan(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 4 > v.limit) return truncatedAt(v, Layer.VLAN);
  pushLayer(v, Layer.VLAN, p, 4);
  if (v.vlanCount < MAX_VLAN_TAGS) v.vlanTci[v.vlanCount++] = u16(buf, p);
  return etherTypeNext(v, u16(buf, p + 2));
}

// Linux "cooked" header v1: packet type, ARPHRD type, address length, 8 address bytes,
// protocol. Protocol values below 1536 are Linux's own codes for non-ethertype frames.
export function decodeSll(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 16 > v.limit) return truncatedAt(v, Layer.SLL);
  pushLayer(v, Layer.SLL, p, 16);
  return etherTypeNext(v, u16(buf, p + 14));
}

// Linux cooked header v2: protocol first, then reserved, ifindex, ARPHRD, type, address.
export function decodeSll2(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 20 > v.limit) return truncatedAt(v, Layer.SLL2);
  pushLayer(v, Layer.SLL2, p, 20);
  return etherTypeNext(v, u16(buf, p));
}

// NULL and LOOP: a 4-byte address family. NULL is in the capturing host's byte order
// and LOOP in network order, but files of both kinds exist with either order, so the
// order is guessed: a family number is small, so its low 16 bits are never all zero.
export function decodeLoopback(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 4 > v.limit) return truncatedAt(v, Layer.LOOPBACK);
  pushLayer(v, Layer.LOOPBACK, p, 4);
  let family = buf.readUInt32LE(p);
  if ((family & 0xffff) === 0) family = u32(buf, p);
  if (family === 2) return Layer.IPV4;
  // AF_INET6 is 10 on Linux, 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS.
  if (family === 10 || family === 24 || family === 28 || family === 30) return Layer.IPV6;
  return note(v, DecodeCounter.unknownEthertype);
}

// MPLS: one layer per label stack entry; after the bottom of stack the payload's
// first nibble says IPv4 or IPv6 (anything else, e.g. a pseudowire, is not decoded).
export function decodeMpls(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 4 > v.limit) return truncatedAt(v, Layer.MPLS);
  pushLayer(v, Layer.MPLS, p, 4);
  if ((buf[p + 2] & 1) === 0) return Layer.MPLS;
  if (v.cursor >= v.limit) return truncatedAt(v, Layer.IPV4);
  const version = buf[v.cursor] >> 4;
  if (version === 4) return Layer.IPV4;
  if (version === 6) return Layer.IPV6;
  return note(v, DecodeCounter.unknownEthertype);
}

// PPPoE session stage: 6-byte PPPoE header plus the 2-byte PPP protocol, kept as one layer.
export function decodePppoe(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 8 > v.limit) return truncatedAt(v, Layer.PPPOE);
  pushLayer(v, Layer.PPPOE, p, 8);
  const end = p + 6 + u16(buf, p + 4);
  if (end >= p + 8 && end < v.limit) v.limit = end;
  const pppProto = u16(buf, p + 6);
  if (pppProto === 0x0021) return Layer.IPV4;
  if (pppProto === 0x0057) return Layer.IPV6;
  return note(v, DecodeCounter.unknownEthertype);
}
