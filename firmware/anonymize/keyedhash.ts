// Keyed BLAKE2b for names and identifiers (DNS names, VLAN ids, flow labels): the
// same input always gives the same token within a run, different keys give unrelated
// tokens, and nobody without the key can test a guess ("is this www.example.com?").
// A plain hash would allow exactly that dictionary attack, hence the key.
import * as sodium from 'sodium-native';
import { KeyMaterial, withKeyBytes, secureCopy, wipeSecureCopy } from './key-material';

export const KEYED_HASH_KEY_BYTES = 32;
/** Length of every hashLabel() token: 12 base32 characters = 60 bits. */
export const LABEL_CHARS = 12;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'; // RFC 4648 alphabet, lowercase for DNS
const MAX_NAME = 1024;

export class KeyedHash {
  readonly #key: Buffer;
  readonly #out = Buffer.alloc(16);
  readonly #small = Buffer.alloc(4);
  #destroyed = false;

  /** key: a 32-byte SecretKey (keyring.subkey('ident', 32)) or Buffer. */
  constructor(key: KeyMaterial) {
    this.#key = withKeyBytes(key, KEYED_HASH_KEY_BYTES, 'keyed hash key', secureCopy);
  }

  /**
   * A fixed-length token (12 lowercase base32 characters, a valid DNS label) for a
   * label or identifier. Strings are hashed as UTF-8.
   */
  hashLabel(label: Buffer | string): string {
    this.#hash(typeof label === 'string' ? Buffer.from(label, 'utf8') : label);
    return base32Token(this.#out);
  }

  /**
   * Hashes a DNS name label by label, keeping the last `keepSuffixLabels` labels in
   * clear ("www.example.co.uk", 2 → "<t1>.<t2>.co.uk"). Each label is hashed together
   * with everything to its right, so names under the same domain keep sharing their
   * parent's token (the hierarchy survives, like Crypto-PAn's prefixes) while "www"
   * under two different domains gets two unrelated tokens (no frequency analysis of
   * common labels across domains). Case is folded first: DNS is case-insensitive and
   * resolvers randomize case (0x20 encoding). A trailing dot is kept.
   */
  hashName(name: string, keepSuffixLabels: number): string {
    if (!Number.isInteger(keepSuffixLabels) || keepSuffixLabels < 0) {
      throw new RangeError(`keepSuffixLabels must be a whole number >= 0, got ${keepSuffixLabels}`);
    }
    if (name.length > MAX_NAME) throw new RangeError(`DNS name longer than ${MAX_NAME} characters`);
    const rooted = name.endsWith('.') && name.length > 1;
    const body = (rooted ? name.slice(0, -1) : name).toLowerCase();
    if (body === '' || body === '.') return name;
    return this.hashLabels(body.split('.'), keepSuffixLabels) + (rooted ? '.' : '');
  }

  /**
   * hashName for a name already split into labels (as DNS carries it: a label may hold
   * any byte, '.' included, so it is never split on dots). Labels are compared as
   * lowercase ASCII; kept suffix labels are written in presentation form, with bytes
   * outside printable ASCII (and '.', '\\') as \DDD, so the text is always one name.
   */
  hashLabels(labels: readonly string[], keepSuffixLabels: number): string {
    if (!Number.isInteger(keepSuffixLabels) || keepSuffixLabels < 0) {
      throw new RangeError(`keepSuffixLabels must be a whole number >= 0, got ${keepSuffixLabels}`);
    }
    if (labels.length === 0) return '.';
    const lower = labels.map((l) => l.toLowerCase());
    const keepFrom = Math.max(0, lower.length - keepSuffixLabels);
    const out = lower.map(presentationLabel);
    for (let i = keepFrom - 1; i >= 0; i--) {
      // The context is the clear-text name to the right: hashing it with the label
      // chains the tokens without exposing the hashed parents.
      out[i] = this.hashLabel(`${lower[i]}\u0000${lower.slice(i + 1).join('.')}`);
    }
    return out.join('.');
  }

  /**
   * Keyed hash of a number (up to 32 bits) reduced to `bits` (1..32) bits, for numeric
   * fields such as VLAN ids (12), IPv4 ids (16), IPv6 flow labels (20). Reducing to a
   * few bits makes collisions likely, which is fine for grouping and adds deniability.
   * Allocation-free: safe on the per-packet path.
   */
  hashNumber(value: number, bits: number): number {
    this.#small.writeUInt32BE(value >>> 0, 0);
    this.#hash(this.#small);
    const v = this.#out.readUInt32BE(0);
    return bits >= 32 ? v : v >>> (32 - bits);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    wipeSecureCopy(this.#key);
  }

  #hash(input: Buffer): void {
    if (this.#destroyed) throw new Error('keyed hash was destroyed: make a new one with the key');
    sodium.crypto_generichash(this.#out, input, this.#key);
  }
}

/** First 60 bits of a digest as 12 base32 characters. */
function base32Token(d: Buffer): string {
  let s = '';
  let acc = 0;
  let bits = 0;
  let i = 0;
  while (s.length < LABEL_CHARS) {
    if (bits < 5) { acc = ((acc << 8) | d[i++]) & 0xffff; bits += 8; }
    s += BASE32[(acc >>> (bits - 5)) & 31];
    bits -= 5;
  }
  return s;
}

/** A label as DNS presentation text: printable ASCII kept, anything else as \DDD. */
function presentationLabel(label: string): string {
  let out = '';
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    out += c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c ? label[i] : `\\${String(c & 0xff).padStart(3, '0')}`;
  }
  return out;
}
