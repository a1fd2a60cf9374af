/** ARP for IPv4 over Ethernet (RFC 826). */

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export function arpPacket(op: number, senderMac: Buffer, senderIp: Buffer, targetMac: Buffer, targetIp: Buffer): Buffer {
  const p = Buffer.alloc(28);
  p.writeUInt16BE(1, 0); // hardware: Ethernet
  p.writeUInt16BE(0x0800, 2); // protocol: IPv4
  p[4] = 6;
  p[5] = 4;
  p.writeUInt16BE(op, 6);
  senderMac.copy(p, 8);
  senderIp.copy(p, 14);
  targetMac.copy(p, 18);
  targetIp.copy(p, 24);
  return p;
}
