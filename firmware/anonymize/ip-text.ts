// Text forms of IPv4 and IPv6 addresses and prefixes, for the cryptopan CLI, policy
// files (disclose) and tests. Written here rather than taken from node:net because
// code that runs on the box must not load network modules. Output follows RFC 5952
// (lowercase, no leading zeros, the longest run of zero groups as "::") so that it
// compares equal to what other Crypto-PAn implementations print.

/**
 * Parses a dotted quad ("192.0.2.1") into a u32, or returns -1: four decimal numbers up
 * to 255 joined by dots, nothing else. No leading zeros ("010" is octal to some parsers
 * and decimal to others) unless `leadingZeros` (the receiver's IPFIX writer takes a flow
 * record's text as it comes). A character loop: the egress guard reads every address
 * text of the records it checks with it, often in code run too few times to be optimized.
 */
export function parseIPv4(text: string, leadingZeros = false): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let parts = 0;
  let v = 0;
  let part = 0;
  let digits = 0;
  let lead = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || parts === 4 || part > 255 || (digits > 1 && lead === 0x30 && !leadingZeros)) return -1;
      v = v * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 3) return -1;
      if (digits === 0) lead = c;
      part = part * 10 + (c - 0x30);
      digits++;
    } else {
      return -1;
    }
  }
  return parts === 4 ? v : -1;
}

export function formatIPv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Parses IPv6 text (with "::" and a trailing dotted quad allowed) into 16 bytes, or null. */
export function parseIPv6(text: string): Buffer | null {
  if (text.length < 2 || text.length > 45) return null;
  const groups: number[] = [];
  let gap = -1; // index in groups where "::" stands
  let rest = text;
  const dbl = rest.indexOf('::');
  if (dbl >= 0 && rest.indexOf('::', dbl + 1) >= 0) return null;
  const parseSide = (side: string, isLast: boolean): boolean => {
    if (side === '') return true;
    const items = side.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (isLast && i === items.length - 1 && it.includes('.')) {
        const v4 = parseIPv4(it);
        if (v4 < 0) return false;
        groups.push(v4 >>> 16, v4 & 0xffff);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return false;
      groups.push(parseInt(it, 16));
    }
    return true;
  };
  if (dbl >= 0) {
    if (!parseSide(rest.slice(0, dbl), false)) return null;
    gap = groups.length;
    rest = rest.slice(dbl + 2);
    if (!parseSide(rest, true)) return null;
    if (groups.length > 7) return null;
  } else {
    if (!parseSide(rest, true) || groups.length !== 8) return null;
  }
  const out = Buffer.alloc(16);
  const tail = gap >= 0 ? groups.length - gap : 0;
  for (let i = 0; i < groups.length; i++) {
    const pos = gap >= 0 && i >= gap ? 8 - tail + (i - gap) : i;
    out.writeUInt16BE(groups[i], pos * 2);
  }
  return out;
}

/** RFC 5952 text of 16 bytes at buf[off]. */
export function formatIPv6(buf: Buffer, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(off + i * 2));
  // Longest run of at least two zero groups; the first one wins a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

export interface Prefix {
  family: 4 | 6;
  /** 4 or 16 bytes, host bits zero. */
  bytes: Buffer;
  length: number;
}

/**
 * Parses "192.0.2.0/24" or "2001:db8::/32". Returns an error string (without the
 * field path) when the text is not a prefix or has host bits set.
 */
export function parsePrefix(text: string): Prefix | string {
  const slash = text.indexOf('/');
  if (slash < 0) return `"${text}" has no prefix length; write it as address/length, e.g. 192.0.2.0/24`;
  const addr = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  let family: 4 | 6;
  let bytes: Buffer;
  const v4 = parseIPv4(addr);
  if (v4 >= 0) {
    family = 4;
    bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(v4, 0);
  } else {
    const v6 = parseIPv6(addr);
    if (!v6) return `"${text}": "${addr}" is not an IPv4 or IPv6 address`;
    family = 6;
    bytes = v6;
  }
  const max = family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > max) {
    return `"${text}": prefix length must be a whole number from 0 to ${max}`;
  }
  const length = Number(lenText);
  const masked = Buffer.from(bytes);
  truncateBits(masked, 0, masked.length, length);
  if (!masked.equals(bytes)) {
    const fixed = family === 4 ? formatIPv4(masked.readUInt32BE(0)) : formatIPv6(masked);
    return `"${text}" has bits set after the first ${length}; did you mean ${fixed}/${length}?`;
  }
  return { family, bytes, length };
}

export function formatPrefix(p: Prefix): string {
  const addr = p.family === 4 ? formatIPv4(p.bytes.readUInt32BE(0)) : formatIPv6(p.bytes);
  return `${addr}/${p.length}`;
}

/** Zeroes every bit after the first `keep` bits of buf[off .. off+len). In place. */
export function truncateBits(buf: Buffer, off: number, len: number, keep: number): void {
  const full = keep >>> 3;
  const rem = keep & 7;
  let i = full;
  if (rem !== 0 && i < len) {
    buf[off + i] &= (0xff00 >>> rem) & 0xff;
    i++;
  }
  for (; i < len; i++) buf[off + i] = 0;
}
