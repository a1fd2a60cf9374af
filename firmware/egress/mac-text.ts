// Recognises MAC addresses written as text in outgoing records, so the guard can check
// them: aa:bb:cc:dd:ee:ff and aa-bb-cc-dd-ee-ff (groups of one or two digits, as
// some tools print them), Cisco's aabb.ccdd.eeff, and 12 bare hex digits, whole or
// inside longer text. Like address-text.ts it finds more than a record could mean to
// carry: every run of six or more groups is tried at each of its six-group windows,
// and every 12-digit window of a longer hex run (a hash, an id) is tried too. A false
// find costs one keyed hash and, at 2^-64 odds, a refused record; a missed one a leak.

const separated = /[0-9A-Fa-f]{1,2}(?:[:-][0-9A-Fa-f]{1,2}){5,}/g;
const ciscoDotted = /[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){2,}/g;
const bareHex = /[0-9A-Fa-f]{12,}/g;

/** Hex runs longer than this are refused unread (the guard's byte strings stop at 4096 bytes). */
export const maxHexRun = 8192;

const mac = Buffer.alloc(6);

function hexDigit(c: number): number {
  if (c <= 0x39) return c - 0x30;
  return (c | 0x20) - 0x57;
}

/**
 * Calls `found` with every MAC written anywhere in `text` (the Buffer is reused: copy
 * it to keep it); stops early when it returns true (and returns true). A hex run too
 * long to try every window of counts as found.
 */
export function someMacIn(text: string, found: (mac: Buffer) => boolean): boolean {
  if (text.length < 11) return false; // "a:b:c:d:e:f" is the shortest
  for (const m of text.matchAll(separated)) {
    const groups = m[0].split(/[:-]/);
    for (let w = 0; w + 6 <= groups.length; w++) {
      for (let k = 0; k < 6; k++) mac[k] = parseInt(groups[w + k], 16);
      if (found(mac)) return true;
    }
  }
  for (const m of text.matchAll(ciscoDotted)) {
    const digits = m[0].replace(/\./g, '');
    for (let w = 0; w + 12 <= digits.length; w += 4) if (tryDigits(digits, w, found)) return true;
  }
  for (const m of text.matchAll(bareHex)) {
    const run = m[0];
    if (run.length > maxHexRun) return true;
    // Every offset, not just even ones: "v1aabbccddeeff" holds a MAC at an odd one.
    for (let w = 0; w + 12 <= run.length; w++) if (tryDigits(run, w, found)) return true;
  }
  return false;
}

function tryDigits(s: string, at: number, found: (mac: Buffer) => boolean): boolean {
  for (let k = 0; k < 6; k++) mac[k] = (hexDigit(s.charCodeAt(at + 2 * k)) << 4) | hexDigit(s.charCodeAt(at + 2 * k + 1));
  return found(mac);
}
