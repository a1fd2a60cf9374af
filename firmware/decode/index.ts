// The packet decoder's public surface.
export { decodePacket } from './decode';
export { PacketView, MAX_LAYERS, MAX_VLAN_TAGS } from './packetView';
export { Layer, LayerFlag, LinkType, EtherType, IpProto, UdpTunnelPort, layerNames } from './constants';
export { DecodeCounter, decodeCounterNames, decodeCountersByName, TRUNCATED_BASE, DECODE_COUNTER_COUNT } from './counters';
