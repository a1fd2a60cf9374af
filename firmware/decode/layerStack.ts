// Bookkeeping shared by the layer decoders: pushing a layer on the view's stack,
// counting why decoding stopped, and mapping ethertypes / IP protocols to layer kinds.
import { EtherType, IpProto, Layer, LayerFlag } from './constants';
import { DecodeCounter, TRUNCATED_BASE } from './counters';
import { PacketView } from './packetView';

/** Records a completely decoded header; the caller checked depth < MAX_LAYERS. */
export function pushLayer(v: PacketView, kind: number, off: number, len: number): number {
  const i = v.depth++;
  v.kind[i] = kind;
  v.flags[i] = v.inQuote ? LayerFlag.QUOTED : 0;
  v.off[i] = off;
  v.len[i] = len;
  v.lastParsedEnd = off + len;
  v.cursor = off + len;
  return i;
}

/** Counts an anomaly; the first one of a packet becomes v.problem. Returns Layer.NONE. */
export function note(v: PacketView, counter: number): number {
  v.counters[counter]++;
  if (v.problem === 0) v.problem = counter;
  return Layer.NONE;
}

/** The header of `kind` does not fit in the captured bytes. Returns Layer.NONE. */
export function truncatedAt(v: PacketView, kind: number): number {
  v.counters[DecodeCounter.truncated]++;
  return note(v, TRUNCATED_BASE + kind);
}

/** Layer that follows a header carrying an ethertype (Ethernet, VLAN, SLL, GRE). */
export function etherTypeNext(v: PacketView, type: number): number {
  switch (type) {
    case EtherType.IPV4: return Layer.IPV4;
    case EtherType.IPV6: return Layer.IPV6;
    case EtherType.ARP: return Layer.ARP;
    case EtherType.VLAN:
    case EtherType.QINQ:
    case EtherType.QINQ_OLD: return Layer.VLAN;
    case EtherType.MPLS:
    case EtherType.MPLS_MC: return Layer.MPLS;
    case EtherType.PPPOE_SESSION: return Layer.PPPOE;
    case EtherType.TEB: return Layer.ETHERNET;
    case EtherType.ERSPAN2:
    case EtherType.ERSPAN3: return Layer.ERSPAN;
  }
  // Values up to 1500 are 802.3 lengths: the frame carries LLC (STP, CDP, IPX...).
  return note(v, type <= 1500 ? DecodeCounter.llcFrame : DecodeCounter.unknownEthertype);
}

/** Layer that follows an IP header or IPv6 extension header with this next-header value. */
export function ipProtoNext(v: PacketView, proto: number): number {
  switch (proto) {
    case IpProto.TCP: return Layer.TCP;
    case IpProto.UDP: return Layer.UDP;
    case IpProto.ICMP: return Layer.ICMP;
    case IpProto.ICMPV6: return Layer.ICMPV6;
    case IpProto.GRE: return Layer.GRE;
    case IpProto.IPIP: return Layer.IPV4;
    case IpProto.IPV6: return Layer.IPV6;
    case IpProto.HOPOPTS: return Layer.IPV6_HOPOPTS;
    case IpProto.ROUTING: return Layer.IPV6_ROUTING;
    case IpProto.FRAGMENT: return Layer.IPV6_FRAGMENT;
    case IpProto.DSTOPTS: return Layer.IPV6_DSTOPTS;
    case IpProto.AH: return Layer.AH;
    case IpProto.ESP: return Layer.ESP;
    case IpProto.NONEXT: return Layer.NONE;
  }
  return note(v, DecodeCounter.unknownIpProtocol);
}
