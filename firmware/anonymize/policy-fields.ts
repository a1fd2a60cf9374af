// Every header field the decoder knows, with the actions a policy may give it. This
// table is the default-deny list: a policy must name an action for each field here
// (or extend the built-in default), so a field added here is refused by every policy
// that has not thought about it — add its default to default-policy.json at the same
// time. Keeping raw addresses or MACs is not on offer for any field: the egress guard
// would refuse every record anyway (design.md, invariant 1).

export const ACTION_NAMES = ['keep', 'zero', 'drop', 'cryptopan', 'mac', 'hash', 'bucket', 'offset', 'coarsen', 'truncate', 'nop'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

export type Action =
  | { action: 'keep' | 'zero' | 'drop' | 'cryptopan' | 'mac' | 'hash' | 'offset' | 'nop' }
  | { action: 'bucket'; edges: number[] }
  | { action: 'coarsen'; granularityUs: number; shift: boolean }
  | { action: 'truncate'; prefixLen: number };

export interface FieldSpec {
  /** Actions this field accepts, in the order error messages list them. */
  actions: readonly ActionName[];
  /** Largest value of a numeric field (bucket edges must not exceed it). */
  max?: number;
  /** Address width in bits, for truncate's prefix length. */
  addrBits?: 32 | 128;
  /** One line for docs and errors. */
  what: string;
}

const ADDR_V4: readonly ActionName[] = ['zero', 'cryptopan', 'truncate'];
const ADDR_V6: readonly ActionName[] = ['zero', 'cryptopan', 'truncate'];
const MAC: readonly ActionName[] = ['zero', 'mac'];
const PORT: readonly ActionName[] = ['keep', 'zero', 'bucket'];
const IDENT: readonly ActionName[] = ['keep', 'zero', 'hash'];
const OPTION: readonly ActionName[] = ['keep', 'drop', 'nop'];

export const FIELDS = {
  'eth.src': { actions: MAC, what: 'Ethernet source MAC' },
  'eth.dst': { actions: MAC, what: 'Ethernet destination MAC' },
  'sll.src': { actions: MAC, what: 'link-layer address in Linux cooked (SLL/SLL2) headers' },
  'vlan.id': { actions: IDENT, what: '802.1Q/QinQ VLAN id (customer VLANs identify customers)' },
  'vlan.pcp': { actions: ['keep', 'zero'], what: '802.1Q priority' },
  'mpls.label': { actions: IDENT, what: 'MPLS label (reveals the provider\'s paths)' },
  'pppoe.session': { actions: IDENT, what: 'PPPoE session id (one per subscriber line)' },
  'arp.sha': { actions: MAC, what: 'ARP sender MAC' },
  'arp.spa': { actions: ADDR_V4, addrBits: 32, what: 'ARP sender IPv4 address' },
  'arp.tha': { actions: MAC, what: 'ARP target MAC' },
  'arp.tpa': { actions: ADDR_V4, addrBits: 32, what: 'ARP target IPv4 address' },
  'ip4.src': { actions: ADDR_V4, addrBits: 32, what: 'IPv4 source address' },
  'ip4.dst': { actions: ADDR_V4, addrBits: 32, what: 'IPv4 destination address' },
  'ip4.id': { actions: IDENT, what: 'IPv4 identification (a per-host counter on many systems)' },
  'ip4.ttl': { actions: PORT, max: 255, what: 'IPv4 TTL (fingerprints the OS and the distance)' },
  'ip4.tos': { actions: ['keep', 'zero'], what: 'IPv4 DSCP and ECN' },
  'ip4.options': { actions: OPTION, what: 'IPv4 options (record route and timestamps carry addresses)' },
  'ip6.src': { actions: ADDR_V6, addrBits: 128, what: 'IPv6 source address' },
  'ip6.dst': { actions: ADDR_V6, addrBits: 128, what: 'IPv6 destination address' },
  'ip6.flowlabel': { actions: IDENT, what: 'IPv6 flow label' },
  'ip6.hoplimit': { actions: PORT, max: 255, what: 'IPv6 hop limit' },
  'ip6.tclass': { actions: ['keep', 'zero'], what: 'IPv6 traffic class' },
  'ip6.options': { actions: OPTION, what: 'options in IPv6 hop-by-hop and destination option headers' },
  'ip6.routing': { actions: ADDR_V6, addrBits: 128, what: 'addresses inside IPv6 routing headers' },
  'gre.key': { actions: IDENT, what: 'GRE key' },
  'esp.spi': { actions: IDENT, what: 'IPsec ESP/AH security parameter index' },
  'tcp.sport': { actions: PORT, max: 65535, what: 'TCP source port' },
  'tcp.dport': { actions: PORT, max: 65535, what: 'TCP destination port' },
  'tcp.seq': { actions: ['keep', 'zero', 'offset'], what: 'TCP sequence number' },
  'tcp.ack': { actions: ['keep', 'zero', 'offset'], what: 'TCP acknowledgment number' },
  'tcp.window': { actions: PORT, max: 65535, what: 'TCP window' },
  'tcp.options.timestamp': { actions: ['keep', 'zero', 'drop', 'nop'], what: 'TCP timestamps option (reveals uptime and clock rate)' },
  'tcp.options.sack': { actions: ['keep', 'drop', 'nop', 'offset'], what: 'TCP SACK blocks (sequence numbers)' },
  'tcp.options.mss': { actions: OPTION, what: 'TCP MSS option' },
  'tcp.options.wscale': { actions: OPTION, what: 'TCP window scale option' },
  'tcp.options.unknown': { actions: OPTION, what: 'any other TCP option (TFO cookies, MPTCP keys, ...)' },
  'udp.sport': { actions: PORT, max: 65535, what: 'UDP source port' },
  'udp.dport': { actions: PORT, max: 65535, what: 'UDP destination port' },
  'icmp.id': { actions: IDENT, what: 'ICMP/ICMPv6 echo identifier' },
  'icmp.quoted': { actions: ['zero', 'drop', 'cryptopan'], what: 'the packet quoted inside ICMP/ICMPv6 errors' },
  'nd.target': { actions: ADDR_V6, addrBits: 128, what: 'IPv6 neighbor discovery target (and redirect destination)' },
  'nd.lladdr': { actions: MAC, what: 'link-layer address options of neighbor discovery' },
  payload: { actions: ['zero', 'drop'], what: 'everything after the last parsed header' },
  time: { actions: ['keep', 'coarsen'], what: 'packet and record timestamps' },
} as const satisfies Record<string, FieldSpec>;

export type FieldName = keyof typeof FIELDS;
export const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];
export type FieldActions = Record<FieldName, Action>;

export function isFieldName(name: string): name is FieldName {
  return Object.prototype.hasOwnProperty.call(FIELDS, name);
}

export function fieldSpec(name: FieldName): FieldSpec {
  return FIELDS[name];
}
