// Recognises IPv4/IPv6 address text in outgoing records, so the guard can check it.
import { parseIPv4, parseIPv6 } from '../anonymize/ip-text';

/** The address's bytes (4 or 16), or null when the text is not an IP address. */
export function parseAddress(text: string): Buffer | null {
  if (text.length < 2 || text.length > 64) return null;
  const slash = text.indexOf('/');
  const t = slash >= 0 ? text.slice(0, slash) : text;
  if (t.includes(':')) return parseIPv6(t);
  const v4 = parseIPv4(t);
  if (v4 < 0) return null;
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v4 >>> 0, 0);
  return b;
}
