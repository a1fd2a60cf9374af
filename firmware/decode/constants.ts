// Numbers of the formats the decoder understands: pcap link types, ethertypes, IP
// protocol numbers, and the layer kinds it records in a PacketView.
// Layer kinds are small integers because PacketView stores them in a Uint8Array.

/** pcap LINKTYPE_* values accepted by decodePacket. */
export const LinkType = {
  NULL: 0, // 4-byte address family in the capturing host's byte order
  EN10MB: 1,
  RAW_BSD12: 12, // DLT_RAW on OpenBSD and some others
  RAW_BSD14: 14, // DLT_RAW on BSD/OS
  RAW: 101,
  LOOP: 108, // 4-byte address family in network byte order
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  TEB: 0x6558, // transparent Ethernet bridging (Ethernet inside GRE)
  VLAN: 0x8100,
  IPV6: 0x86dd,
  MPLS: 0x8847,
  MPLS_MC: 0x8848,
  PPPOE_SESSION: 0x8864,
  QINQ: 0x88a8,
  ERSPAN2: 0x88be,
  ERSPAN3: 0x22eb,
  QINQ_OLD: 0x9100,
} as const;

export const IpProto = {
  HOPOPTS: 0,
  ICMP: 1,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONEXT: 59,
  DSTOPTS: 60,
} as const;

/** Kinds of the layers on a PacketView's stack. 0 means "nothing more to decode". */
export const Layer = {
  NONE: 0,
  ETHERNET: 1,
  VLAN: 2,
  SLL: 3,
  SLL2: 4,
  LOOPBACK: 5, // NULL / LOOP 4-byte family header
  MPLS: 6,
  PPPOE: 7,
  ARP: 8,
  IPV4: 9,
  IPV6: 10,
  IPV6_HOPOPTS: 11,
  IPV6_ROUTING: 12,
  IPV6_FRAGMENT: 13,
  IPV6_DSTOPTS: 14,
  AH: 15,
  ESP: 16,
  TCP: 17,
  UDP: 18,
  ICMP: 19,
  ICMPV6: 20,
  GRE: 21,
  ERSPAN: 22,
  VXLAN: 23,
  GENEVE: 24,
} as const;

export const layerNames: readonly string[] = [
  'none', 'ethernet', 'vlan', 'sll', 'sll2', 'loopback', 'mpls', 'pppoe', 'arp', 'ipv4',
  'ipv6', 'ipv6-hopopts', 'ipv6-routing', 'ipv6-fragment', 'ipv6-dstopts', 'ah', 'esp',
  'tcp', 'udp', 'icmp', 'icmpv6', 'gre', 'erspan', 'vxlan', 'geneve',
];

/** UDP destination ports of the tunnels decoded inside UDP (IANA assignments). */
export const UdpTunnelPort = {
  VXLAN: 4789,
  GENEVE: 6081,
} as const;
export const LAYER_KIND_COUNT = layerNames.length;

/** PacketView.flags bits of one layer. */
export const LayerFlag = {
  /** Inside the packet quoted by an ICMP/ICMPv6 error: not the packet's own headers. */
  QUOTED: 1,
  /** An IP header that carries another IP header (tunnel outer header). */
  TUNNEL: 2,
} as const;
