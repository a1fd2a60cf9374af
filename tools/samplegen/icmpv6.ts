/** ICMPv6 messages (RFC 4443, RFC 4861): echo and neighbour discovery. */
import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum';
import { PROTO_ICMPV6 } from './ipv4';

export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;

const OPT_SOURCE_LINK_ADDR = 1;
const OPT_TARGET_LINK_ADDR = 2;
const NA_ROUTER = 0x80000000;
const NA_SOLICITED = 0x40000000;
const NA_OVERRIDE = 0x20000000;

function icmpv6Message(type: number, code: number, rest: number, body: Buffer, src: Buffer, dst: Buffer): Buffer {
  const m = Buffer.alloc(8 + body.length);
  m[0] = type;
  m[1] = code;
  m.writeUInt32BE(rest >>> 0, 4);
  body.copy(m, 8);
  m.writeUInt16BE(finishChecksum(pseudoHeaderSum(src, dst, PROTO_ICMPV6, m.length) + sumWords(m)), 2);
  return m;
}

export function icmpv6Echo(request: boolean, id: number, seq: number, data: Buffer, src: Buffer, dst: Buffer): Buffer {
  const type = request ? ICMPV6_ECHO_REQUEST : ICMPV6_ECHO_REPLY;
  return icmpv6Message(type, 0, ((id & 0xffff) << 16) | (seq & 0xffff), data, src, dst);
}

function linkAddrOption(type: number, mac: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, 1]), mac]);
}

/** Neighbour solicitation for target, carrying the sender's link-layer address. */
export function neighborSolicitation(target: Buffer, senderMac: Buffer, src: Buffer, dst: Buffer): Buffer {
  const body = Buffer.concat([target, linkAddrOption(OPT_SOURCE_LINK_ADDR, senderMac)]);
  return icmpv6Message(ICMPV6_NEIGHBOR_SOLICITATION, 0, 0, body, src, dst);
}

/** Solicited neighbour advertisement from a router, carrying its link-layer address. */
export function neighborAdvertisement(target: Buffer, targetMac: Buffer, src: Buffer, dst: Buffer): Buffer {
  const body = Buffer.concat([target, linkAddrOption(OPT_TARGET_LINK_ADDR, targetMac)]);
  return icmpv6Message(ICMPV6_NEIGHBOR_ADVERTISEMENT, 0, NA_ROUTER | NA_SOLICITED | NA_OVERRIDE, body, src, dst);
}
