// Entry point of the packet decoder: walks the headers of one captured packet from the
// link layer inwards and records them in a reused PacketView. Decoding is a loop over
// "next layer kind" rather than recursion, so tunnels nest without growing the stack
// and stop at MAX_LAYERS. Every read is checked against the captured length: no input
// throws; what could not be decoded is counted in v.counters and named by v.problem.
import { Layer } from './constants';
import { DecodeCounter } from './counters';
import { note } from './layerStack';
import { decodeEthernet, decodeLoopback, decodeMpls, decodePppoe, decodeSll, decodeSll2, decodeVlan, firstLayer } from './link';
import { decodeAh, decodeArp, decodeEsp, decodeIpv4, decodeIpv6, decodeIpv6Fragment, decodeIpv6Options } from './network';
import { decodeIcmp, decodeIcmpv6, decodeTcp, decodeUdp } from './transport';
import { decodeErspan, decodeGeneve, decodeGre, decodeVxlan } from './tunnel';
import { MAX_LAYERS, PacketView } from './packetView';

/**
 * Decodes the packet at buf[off, off + caplen) captured with pcap link type `linkType`
 * and original length `origLen` into `v` (all previous contents replaced).
 */
export function decodePacket(linkType: number, buf: Buffer, off: number, caplen: number, origLen: number, v: PacketView): void {
  v.counters[DecodeCounter.packets]++;
  const start = off >= 0 && off <= buf.length ? off | 0 : buf.length;
  const end = caplen > 0 ? Math.min(buf.length, start + caplen) : start;
  v.reset(start, end);
  v.linkType = linkType;
  v.caplen = end - start;
  v.origLen = origLen;
  let next = firstLayer(linkType, buf, v);
  while (next !== Layer.NONE) {
    if (v.depth >= MAX_LAYERS) {
      note(v, DecodeCounter.tooManyLayers);
      break;
    }
    if (v.linkHeaderLen < 0 && (next === Layer.IPV4 || next === Layer.IPV6 || next === Layer.ARP)) {
      v.linkHeaderLen = v.cursor - start;
    }
    next = decodeLayer(next, buf, v);
  }
  if (v.linkHeaderLen < 0) v.linkHeaderLen = v.lastParsedEnd - start;
}

function decodeLayer(kind: number, buf: Buffer, v: PacketView): number {
  switch (kind) {
    case Layer.ETHERNET: return decodeEthernet(buf, v);
    case Layer.VLAN: return decodeVlan(buf, v);
    case Layer.SLL: return decodeSll(buf, v);
    case Layer.SLL2: return decodeSll2(buf, v);
    case Layer.LOOPBACK: return decodeLoopback(buf, v);
    case Layer.MPLS: return decodeMpls(buf, v);
    case Layer.PPPOE: return decodePppoe(buf, v);
    case Layer.ARP: return decodeArp(buf, v);
    case Layer.IPV4: return decodeIpv4(buf, v);
    case Layer.IPV6: return decodeIpv6(buf, v);
    case Layer.IPV6_HOPOPTS:
    case Layer.IPV6_ROUTING:
    case Layer.IPV6_DSTOPTS: return decodeIpv6Options(kind, buf, v);
    case Layer.IPV6_FRAGMENT: return decodeIpv6Fragment(buf, v);
    case Layer.AH: return decodeAh(buf, v);
    case Layer.ESP: return decodeEsp(v);
    case Layer.TCP: return decodeTcp(buf, v);
    case Layer.UDP: return decodeUdp(buf, v);
    case Layer.ICMP: return decodeIcmp(buf, v);
    case Layer.ICMPV6: return decodeIcmpv6(buf, v);
    case Layer.GRE: return decodeGre(buf, v);
    case Layer.ERSPAN: return decodeErspan(buf, v);
    case Layer.VXLAN: return decodeVxlan(buf, v);
    case Layer.GENEVE: return decodeGeneve(buf, v);
  }
  return Layer.NONE;
}
