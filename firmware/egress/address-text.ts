// Recognises IPv4/IPv6 addresses in outgoing records, so the guard can check them:
// whole strings, addresses inside longer text ("src=10.1.2.3:443"), and byte arrays.
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

const dottedQuad = /\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/g;
const hexAndColons = /[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/g;

/**
 * Calls `found` with every address written anywhere in `text`; stops early when it
 * returns true (and returns true). Finds more than a record could mean to carry: a
 * false find costs a refused record, a missed one a leak.
 */
export function someAddressIn(text: string, found: (addr: Buffer) => boolean): boolean {
  const whole = parseAddress(text);
  if (whole && found(whole)) return true;
  if (text.length < 7) return false;
  for (const m of text.matchAll(dottedQuad)) {
    const a = parseAddress(m[0]);
    if (a && found(a)) return true;
  }
  for (const m of text.matchAll(hexAndColons)) {
    let t = m[0];
    // "[2001:db8::1]:443" and "2001:db8::1." leave stray separators around the address.
    while (t.length > 0 && (t.endsWith('.') || (t.endsWith(':') && !t.endsWith('::')))) t = t.slice(0, -1);
    const a = parseAddress(t);
    if (a && found(a)) return true;
  }
  return false;
}
