// Transport headers of the innermost IP header: TCP, UDP, ICMP, ICMPv6. ICMP errors
// quote the offending packet: its IP header and ports are decoded as QUOTED layers.
// Inside a quote only the ports are read (an error quotes just 8 transport bytes).
import { u16 } from './bytes';
import { Layer, UdpTunnelPort } from './constants';
import { DecodeCounter } from './counters';
import { note, pushLayer, truncatedAt } from './layerStack';
import { PacketView } from './packetView';

/** TCP or UDP header inside an ICMP error quote: ports, and whatever fits up to 8 bytes. */
function decodeQuotedPorts(kind: number, buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 4 > v.limit) return truncatedAt(v, kind);
  v.quotedSrcPort = u16(buf, p);
  v.quotedDstPort = u16(buf, p + 2);
  pushLayer(v, kind, p, Math.min(8, v.limit - p));
  return Layer.NONE;
}

function setPayload(v: PacketView, off: number): void {
  v.payloadOff = off;
  v.payloadLen = v.limit > off ? v.limit - off : 0;
}

export function decodeTcp(buf: Buffer, v: PacketView): number {
  if (v.inQuote) return decodeQuotedPorts(Layer.TCP, buf, v);
  const p = v.cursor;
  if (p + 20 > v.limit) return truncatedAt(v, Layer.TCP);
  const hlen = (buf[p + 12] >> 4) * 4;
  if (hlen < 20) return note(v, DecodeCounter.badTcpHeaderLength);
  // Ports, flags and sequence numbers are set even when the options are cut by the
  // snap length, so that flows still see the packet; the layer itself is not pushed.
  v.l4Off = p;
  v.srcPort = u16(buf, p);
  v.dstPort = u16(buf, p + 2);
  v.tcpSeqOff = p + 4;
  v.tcpFlags = buf[p + 13] | ((buf[p + 12] & 1) << 8);
  if (p + hlen > v.limit) return truncatedAt(v, Layer.TCP);
  v.l4Layer = pushLayer(v, Layer.TCP, p, hlen);
  v.tcpOptOff = p + 20;
  v.tcpOptLen = hlen - 20;
  setPayload(v, p + hlen);
  return Layer.NONE;
}

export function decodeUdp(buf: Buffer, v: PacketView): number {
  if (v.inQuote) return decodeQuotedPorts(Layer.UDP, buf, v);
  const p = v.cursor;
  if (p + 8 > v.limit) return truncatedAt(v, Layer.UDP);
  v.l4Layer = pushLayer(v, Layer.UDP, p, 8);
  v.l4Off = p;
  v.srcPort = u16(buf, p);
  v.dstPort = u16(buf, p + 2);
  const len = u16(buf, p + 4);
  if (len >= 8 && p + len < v.limit) v.limit = p + len;
  setPayload(v, p + 8);
  // Mirrored cloud traffic arrives in VXLAN or Geneve: decode what they carry. A packet
  // that merely uses the port is decoded as far as it looks like the tunnel header.
  if (v.dstPort === UdpTunnelPort.VXLAN) return Layer.VXLAN;
  if (v.dstPort === UdpTunnelPort.GENEVE) return Layer.GENEVE;
  return Layer.NONE;
}

/** Starts decoding the packet quoted by an ICMP error at v.cursor. */
function enterQuote(buf: Buffer, v: PacketView): number {
  v.inQuote = 1;
  v.quotedOff = v.cursor;
  if (v.cursor >= v.limit) return Layer.NONE; // an error may quote nothing
  const version = buf[v.cursor] >> 4;
  if (version === 4) return Layer.IPV4;
  if (version === 6) return Layer.IPV6;
  return note(v, DecodeCounter.badIpVersion);
}

// ICMP: every message has a 4-byte type/code/checksum and 4 more bytes whose meaning
// depends on the type; the 8 bytes are the layer, the rest is payload or a quote.
export function decodeIcmp(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  if (p + 8 > v.limit) {
    if (!v.inQuote && p + 2 <= v.limit) {
      v.icmpType = buf[p];
      v.icmpCode = buf[p + 1];
    }
    return truncatedAt(v, Layer.ICMP);
  }
  const i = pushLayer(v, Layer.ICMP, p, 8);
  if (v.inQuote) return Layer.NONE;
  const type = buf[p];
  v.l4Layer = i;
  v.l4Off = p;
  v.icmpType = type;
  v.icmpCode = buf[p + 1];
  switch (type) {
    case 3: case 4: case 5: case 11: case 12: // unreachable, quench, redirect, time exceeded, parameter
      return enterQuote(buf, v);
    case 0: case 8: case 13: case 14: case 15: case 16: case 17: case 18: // echo, timestamp, info, mask
      v.icmpId = u16(buf, p + 4);
      break;
  }
  setPayload(v, p + 8);
  return Layer.NONE;
}

/** Fixed part of ICMPv6 messages whose addresses the decoder points at. */
function icmpv6FixedLen(type: number): number {
  switch (type) {
    case 130: case 131: case 132: return 24; // MLD: multicast address
    case 133: return 8; // router solicitation
    case 134: return 16; // router advertisement
    case 135: case 136: return 24; // neighbour solicitation / advertisement: target
    case 137: return 40; // redirect: target and destination
  }
  return 8;
}

export function decodeIcmpv6(buf: Buffer, v: PacketView): number {
  const p = v.cursor;
  const type = p + 2 <= v.limit ? buf[p] : -1;
  const fixed = icmpv6FixedLen(type);
  if (p + fixed > v.limit) {
    if (!v.inQuote && type >= 0) {
      v.icmpType = type;
      v.icmpCode = buf[p + 1];
    }
    return truncatedAt(v, Layer.ICMPV6);
  }
  const i = pushLayer(v, Layer.ICMPV6, p, fixed);
  if (v.inQuote) return Layer.NONE;
  v.l4Layer = i;
  v.l4Off = p;
  v.icmpType = type;
  v.icmpCode = buf[p + 1];
  if (type >= 1 && type <= 4) return enterQuote(buf, v); // errors
  if (type === 128 || type === 129) v.icmpId = u16(buf, p + 4);
  if (type >= 130 && type <= 132) v.ndTargetOff = p + 8;
  if (type >= 133 && type <= 137) {
    if (type >= 135) v.ndTargetOff = p + 8;
    if (type === 137) v.ndRedirectDstOff = p + 24;
    v.ndOptOff = p + fixed;
    v.ndOptLen = v.limit - v.ndOptOff;
  }
  setPayload(v, p + fixed);
  return Layer.NONE;
}
