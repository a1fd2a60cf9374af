/**
 * Endpoints as seen on the tapped link, and the one function that wraps a transport
 * payload into IPv4 or IPv6 (chosen by address length) and an Ethernet frame.
 */
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, VlanTag, ethernetFrame } from './ethernet';
import { ipv4Packet } from './ipv4';
import { ipv6Packet } from './ipv6';

export interface Endpoint {
  ip: Buffer;
  /** The MAC address frames to or from this IP carry on the tapped link (a router's, for remote hosts). */
  mac: Buffer;
  /** TTL or hop limit of packets this endpoint sends, as seen at the tap. */
  ttl: number;
}

export interface FrameOptions {
  ipId: number;
  vlan?: VlanTag;
  dontFragment?: boolean;
  hopLimit?: number;
}

export function ipFrame(from: Endpoint, to: Endpoint, protocol: number, transport: Buffer, o: FrameOptions): Buffer {
  if (from.ip.length !== to.ip.length) throw new Error('ipFrame: source and destination are of different IP versions');
  if (from.ip.length === 4) {
    const ip = ipv4Packet({ src: from.ip, dst: to.ip, protocol, id: o.ipId, ttl: from.ttl, dontFragment: o.dontFragment }, transport);
    return ethernetFrame(to.mac, from.mac, ETHERTYPE_IPV4, ip, o.vlan);
  }
  const ip = ipv6Packet({ src: from.ip, dst: to.ip, nextHeader: protocol, hopLimit: o.hopLimit ?? from.ttl, flowLabel: o.ipId & 0xfffff }, transport);
  return ethernetFrame(to.mac, from.mac, ETHERTYPE_IPV6, ip, o.vlan);
}
