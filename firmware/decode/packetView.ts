// What decodePacket found in one packet. One PacketView is allocated per analysis
// process and reused for every packet: fields are numbers and fixed-size typed arrays,
// so decoding allocates nothing. Offsets are absolute offsets into the packet's Buffer;
// -1 means "not present in this packet".
import { DECODE_COUNTER_COUNT } from './counters';

/** Deepest layer stack kept; deeper packets stop decoding and count tooManyLayers. */
export const MAX_LAYERS = 16;
/** 802.1Q tags remembered (outermost first); more tags are decoded but not remembered. */
export const MAX_VLAN_TAGS = 4;

export class PacketView {
  /** Counters of decodePacket across all packets decoded with this view (see counters.ts). */
  readonly counters = new Float64Array(DECODE_COUNTER_COUNT);

  linkType = 0;
  /** First byte of the packet in the Buffer, and one past the last captured byte. */
  start = 0;
  end = 0;
  caplen = 0;
  origLen = 0;
  /** Bytes of link-layer headers before the first IP/ARP header (all decoded bytes if none). */
  linkHeaderLen = 0;
  /** Counter index of the first thing that stopped decoding early; 0 when fully decoded. */
  problem = 0;
  /** End of the last header decoded completely: a rewriter keeps bytes before it. */
  lastParsedEnd = 0;

  /** The layer stack, outermost first: kind (Layer.*), flags (LayerFlag.*), offset, header length. */
  depth = 0;
  readonly kind = new Uint8Array(MAX_LAYERS);
  readonly flags = new Uint8Array(MAX_LAYERS);
  readonly off = new Int32Array(MAX_LAYERS);
  readonly len = new Int32Array(MAX_LAYERS);

  /** 802.1Q / 802.1ad tags: TCI values (priority, DEI, VLAN id), outermost first. */
  vlanCount = 0;
  readonly vlanTci = new Uint16Array(MAX_VLAN_TAGS);

  // Innermost network layer that is not inside an ICMP error quote.
  ipLayer = -1;
  ipVersion = 0;
  ipOff = -1;
  ipHeaderLen = 0;
  ipSrcOff = -1;
  ipDstOff = -1;
  ipAddrLen = 0;
  /** Upper-layer protocol after IPv6 extension headers (or the IPv4 protocol field). */
  ipProto = -1;
  /** IPv4 total length; IPv6 payload length + 40. 0 when the header says 0 (TSO, jumbo). */
  ipTotalLen = 0;
  /** Number of IP headers before the innermost one (0: not tunnelled). */
  tunnelDepth = 0;
  isFragment = 0;
  /** Fragment offset in bytes, more-fragments bit, identification (IPv4 16 bit, IPv6 32 bit). */
  fragOffset = 0;
  moreFragments = 0;
  fragId = 0;

  // Transport of the innermost network layer.
  l4Layer = -1;
  l4Off = -1;
  srcPort = -1;
  dstPort = -1;
  tcpFlags = 0;
  /** Sequence number at tcpSeqOff, acknowledgment at tcpSeqOff + 4. */
  tcpSeqOff = -1;
  tcpOptOff = -1;
  tcpOptLen = 0;
  payloadOff = -1;
  /** Captured payload bytes (within the IP datagram's declared end). */
  payloadLen = 0;

  icmpType = -1;
  icmpCode = -1;
  /** ICMP echo/timestamp/information identifier, ICMPv6 echo identifier. */
  icmpId = -1;
  /** Start of the packet quoted by an ICMP/ICMPv6 error (its IP header). */
  quotedOff = -1;
  quotedIpVersion = 0;
  quotedSrcOff = -1;
  quotedDstOff = -1;
  quotedAddrLen = 0;
  quotedProto = -1;
  quotedSrcPort = -1;
  quotedDstPort = -1;
  /** ICMPv6 ND (NS, NA, redirect) target address, or MLD multicast address (16 bytes). */
  ndTargetOff = -1;
  /** ICMPv6 redirect destination address (16 bytes). */
  ndRedirectDstOff = -1;
  /** ICMPv6 ND options (they carry link-layer addresses) and their captured length. */
  ndOptOff = -1;
  ndOptLen = 0;

  // ARP (only when hardware and protocol address lengths fit the captured bytes).
  arpOff = -1;
  arpOp = 0;
  arpHln = 0;
  arpPln = 0;
  arpShaOff = -1;
  arpSpaOff = -1;
  arpThaOff = -1;
  arpTpaOff = -1;

  /** Decoder scratch: where the next header starts and where the current datagram ends. */
  cursor = 0;
  limit = 0;
  /** Decoder scratch: 1 while decoding the packet quoted inside an ICMP error. */
  inQuote = 0;

  reset(start: number, end: number): void {
    this.start = start;
    this.end = end;
    this.linkHeaderLen = -1;
    this.problem = 0;
    this.lastParsedEnd = start;
    this.depth = 0;
    this.vlanCount = 0;
    this.ipLayer = -1;
    this.ipVersion = 0;
    this.ipOff = -1;
    this.ipHeaderLen = 0;
    this.ipSrcOff = -1;
    this.ipDstOff = -1;
    this.ipAddrLen = 0;
    this.ipProto = -1;
    this.ipTotalLen = 0;
    this.tunnelDepth = 0;
    this.isFragment = 0;
    this.fragOffset = 0;
    this.moreFragments = 0;
    this.fragId = 0;
    this.l4Layer = -1;
    this.l4Off = -1;
    this.srcPort = -1;
    this.dstPort = -1;
    this.tcpFlags = 0;
    this.tcpSeqOff = -1;
    this.tcpOptOff = -1;
    this.tcpOptLen = 0;
    this.payloadOff = -1;
    this.payloadLen = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.icmpId = -1;
    this.quotedOff = -1;
    this.quotedIpVersion = 0;
    this.quotedSrcOff = -1;
    this.quotedDstOff = -1;
    this.quotedAddrLen = 0;
    this.quotedProto = -1;
    this.quotedSrcPort = -1;
    this.quotedDstPort = -1;
    this.ndTargetOff = -1;
    this.ndRedirectDstOff = -1;
    this.ndOptOff = -1;
    this.ndOptLen = 0;
    this.arpOff = -1;
    this.arpOp = 0;
    this.arpHln = 0;
    this.arpPln = 0;
    this.arpShaOff = -1;
    this.arpSpaOff = -1;
    this.arpThaOff = -1;
    this.arpTpaOff = -1;
    this.cursor = start;
    this.limit = end;
    this.inQuote = 0;
  }

  /** Index of the first layer of a kind at or after `from`, or -1. */
  findLayer(kind: number, from = 0): number {
    for (let i = from; i < this.depth; i++) if (this.kind[i] === kind) return i;
    return -1;
  }
}
