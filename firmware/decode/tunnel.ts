// Tunnel headers whose payload is decoded again: GRE (IP, Ethernet, ERSPAN inside),
// ERSPAN types I, II and III (Ethernet inside), VXLAN and Geneve (inside UDP). IP-in-IP needs no header of its own:
// network.ts maps protocols 4 and 41 straight to the inner IP header.
import { u16 } from './bytes';
import { EtherType, Layer } from './constants';
import { DecodeCounter } from './counters';
import { etherTypeNext, note, pushLayer, truncatedAt } from './layerStack';
import { PacketView } from './packetView';

const GRE_CHECKSUM = 0x8000;
const GRE_ROUTING = 0x4000;
const GRE_KEY = 0x2000;
const GRE_SEQUENCE = 0x1000;
const GRE_ACK = 0x0080; // version 1 (PPTP) only

export function decodeGre(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 4 > v.limit) return truncatedAt(v, Layer.GRE);
  const flags = u16(buf, p);
  const version = flags & 7;
  let len: number;
  if (version === 0) {
    // Source routing (RFC 1701) puts a variable list after the header: not decoded.
    if (flags & GRE_ROUTING) return note(v, DecodeCounter.unsupportedTunnel);
    len = 4 + (flags & GRE_CHECKSUM ? 4 : 0) + (flags & GRE_KEY ? 4 : 0) + (flags & GRE_SEQUENCE ? 4 : 0);
  } else if (version === 1) {
    // Enhanced GRE (PPTP): the key field (payload length, call id) is always present.
    len = 8 + (flags & GRE_SEQUENCE ? 4 : 0) + (flags & GRE_ACK ? 4 : 0);
  } else {
    return note(v, DecodeCounter.unsupportedTunnel);
  }
  if (p + len > v.limit) return truncatedAt(v, Layer.GRE);
  pushLayer(v, Layer.GRE, p, len);
  const proto = u16(buf, p + 2);
  // ERSPAN type I has no ERSPAN header (and no GRE sequence number): Ethernet follows.
  if (proto === EtherType.ERSPAN2 && !(flags & GRE_SEQUENCE)) return Layer.ETHERNET;
  return etherTypeNext(v, proto);
}

export function decodeErspan(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 8 > v.limit) return truncatedAt(v, Layer.ERSPAN);
  const version = buf[p] >> 4;
  let len: number;
  if (version === 1) len = 8;
  else if (version === 2) {
    if (p + 12 > v.limit) return truncatedAt(v, Layer.ERSPAN);
    len = 12 + (buf[p + 11] & 1 ? 8 : 0); // O bit: optional platform sub-header
  } else return note(v, DecodeCounter.unsupportedTunnel);
  if (p + len > v.limit) return truncatedAt(v, Layer.ERSPAN);
  pushLayer(v, Layer.ERSPAN, p, len);
  return Layer.ETHERNET;
}

/** VXLAN (RFC 7348): 8 bytes, the I flag says the VNI is valid; Ethernet follows. */
export function decodeVxlan(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 8 > v.limit) return truncatedAt(v, Layer.VXLAN);
  if (!(buf[p] & 0x08)) return note(v, DecodeCounter.unsupportedTunnel);
  pushLayer(v, Layer.VXLAN, p, 8);
  return Layer.ETHERNET;
}

/** Geneve (RFC 8926): 8 bytes plus options, then the frame named by an ethertype. */
export function decodeGeneve(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 8 > v.limit) return truncatedAt(v, Layer.GENEVE);
  if (buf[p] >> 6 !== 0) return note(v, DecodeCounter.unsupportedTunnel);
  const len = 8 + (buf[p] & 0x3f) * 4;
  if (p + len > v.limit) return truncatedAt(v, Layer.GENEVE);
  pushLayer(v, Layer.GENEVE, p, len);
  return etherTypeNext(v, u16(buf, p + 2));
}
