/**
 * Address text <-> bytes for the generator, and the address plan of the sample traffic.
 * Only documentation and private ranges are used (RFC 5737, RFC 1918, RFC 3849), so a
 * generated file can be published and never names a real host.
 */

export function ipv4(text: string): Buffer {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  }
  return Buffer.from(parts);
}

export function ipv6(text: string): Buffer {
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`not an IPv6 address: ${JSON.stringify(text)}`);
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) throw new Error(`not an IPv6 address: ${JSON.stringify(text)}`);
  const groups = [...head, ...new Array<string>(fill).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`not an IPv6 address: ${JSON.stringify(text)}`);
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  });
  return out;
}

export function mac(text: string): Buffer {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`not a MAC address: ${JSON.stringify(text)}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** Dotted quad, or RFC 5952 text for 16 bytes (lower case, longest zero run as ::). */
export function formatIp(b: Buffer, off = 0, len = b.length - off): string {
  if (len === 4) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(off + i * 2));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatMac(b: Buffer, off = 0): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(b[off + i].toString(16).padStart(2, '0'));
  return out.join(':');
}

/** Solicited-node multicast address (RFC 4291 §2.7.1) of an IPv6 unicast address. */
export function solicitedNode(addr: Buffer): Buffer {
  const out = ipv6('ff02::1:ff00:0');
  addr.copy(out, 13, 13, 16);
  return out;
}

/** Ethernet multicast address for an IPv6 multicast group (RFC 2464 §7). */
export function ipv6MulticastMac(group: Buffer): Buffer {
  return Buffer.from([0x33, 0x33, group[12], group[13], group[14], group[15]]);
}

export const BROADCAST_MAC = mac('ff:ff:ff:ff:ff:ff');
