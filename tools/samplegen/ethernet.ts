/** Ethernet II frames, optionally with one 802.1Q tag. */

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

/** Shortest frame on the wire without its 4-byte FCS; shorter frames are padded with zeros, as a NIC does. */
export const MIN_FRAME = 60;

export interface VlanTag {
  id: number;
  priority?: number;
}

export function ethernetFrame(dst: Buffer, src: Buffer, etherType: number, payload: Buffer, vlan?: VlanTag): Buffer {
  const header = vlan ? 18 : 14;
  const frame = Buffer.alloc(Math.max(MIN_FRAME, header + payload.length));
  dst.copy(frame, 0);
  src.copy(frame, 6);
  if (vlan) {
    frame.writeUInt16BE(ETHERTYPE_VLAN, 12);
    frame.writeUInt16BE(((vlan.priority ?? 0) << 13) | (vlan.id & 0x0fff), 14);
    frame.writeUInt16BE(etherType, 16);
  } else {
    frame.writeUInt16BE(etherType, 12);
  }
  payload.copy(frame, header);
  return frame;
}
