// The key of a bidirectional flow, read straight from a decoded packet: innermost IP
// version, protocol, both addresses and both "ports". For ICMP the ports are replaced by
// one value built from the request type, code and identifier, the same in both
// directions, so an echo request and its reply land in the same flow.
import { PacketView } from '../../../decode/packetView';

const ICMP = 1;
const ICMPV6 = 58;
const TCP = 6;
const UDP = 17;

/** Request type of an ICMP/ICMPv6 query pair (echo, timestamp, info, mask), or -1. */
export function icmpRequestType(proto: number, type: number): number {
  if (proto === ICMP) {
    switch (type) {
      case 8: case 0: return 8;
      case 13: case 14: return 13;
      case 15: case 16: return 15;
      case 17: case 18: return 17;
    }
  } else if (type === 128 || type === 129) return 128;
  return -1;
}

/**
 * Key value used as both ports of an ICMP/ICMPv6 packet: request type, code and
 * identifier packed in a signed 32-bit integer (FlowStore keeps ports in an Int32Array).
 */
export function icmpKey(v: PacketView): number {
  if (v.icmpType < 0) return 0;
  const req = icmpRequestType(v.ipProto, v.icmpType);
  if (req >= 0) return (req << 24) | (v.icmpId & 0xffff);
  return (v.icmpType << 24) | (v.icmpCode << 16);
}

/** Source port as keyed: TCP/UDP port, ICMP key, 0 for other protocols and later fragments. */
export function keySrcPort(v: PacketView): number {
  const p = v.ipProto;
  if (p === TCP || p === UDP) return v.srcPort < 0 ? 0 : v.srcPort;
  if (p === ICMP || p === ICMPV6) return icmpKey(v);
  return 0;
}

export function keyDstPort(v: PacketView): number {
  const p = v.ipProto;
  if (p === TCP || p === UDP) return v.dstPort < 0 ? 0 : v.dstPort;
  if (p === ICMP || p === ICMPV6) return icmpKey(v);
  return 0;
}

// FNV-1a over one endpoint (address bytes, then port); the two endpoints are combined
// by addition so that both directions of a flow hash alike.
function endpointHash(buf: Buffer, off: number, len: number, port: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ buf[off + i], 0x01000193);
  h = Math.imul(h ^ (port & 0xffff), 0x01000193);
  return Math.imul(h ^ (port >>> 16), 0x01000193);
}

export function flowHash(buf: Buffer, v: PacketView, sport: number, dport: number): number {
  let h = (endpointHash(buf, v.ipSrcOff, v.ipAddrLen, sport) + endpointHash(buf, v.ipDstOff, v.ipAddrLen, dport)) | 0;
  h = Math.imul(h ^ (v.ipProto * 0x9e3779b1 + v.ipVersion), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** ICMP "ports" in a record: source 0, destination type * 256 + code (as NetFlow does). */
export function icmpRecordPort(key: number): number {
  return ((key >>> 24) << 8) | ((key >>> 16) & 0xff);
}

export { ICMP, ICMPV6, TCP, UDP };
