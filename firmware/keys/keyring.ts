// One master secret per boot, drawn from the kernel RNG and kept only in secure
// memory; every component gets its own purpose subkey derived with crypto_kdf, so a
// key leaked from one purpose (say, the MAC permutation) says nothing about another
// (say, the spool). Nothing here ever writes a key anywhere: a reboot loses the
// master and makes the spool unreadable, which is the point.
import * as util from 'util';
import * as sodium from 'sodium-native';
import { SecretKey } from './secret-key';

export { SecretKey } from './secret-key';

/**
 * Subkey ids for crypto_kdf_derive_from_key. Changing or reusing an id makes two
 * purposes share a key (and changes every derived key): add new purposes at the end.
 */
export const KeyPurpose = {
  spool: 1,
  address: 2,
  mac: 3,
  ident: 4,
  time: 5,
  channel: 6,
  flow: 7,
  egress: 8,
  dmcrypt: 9,
} as const;

export type KeyPurposeName = keyof typeof KeyPurpose;
export type KeyPurposeId = (typeof KeyPurpose)[KeyPurposeName];

// crypto_kdf contexts are exactly 8 bytes; this one separates sealtap keys from
// anything else that might ever be derived from the same master.
const KDF_CONTEXT = Buffer.from('sealtap_', 'latin1');
const MASTER_BYTES = sodium.crypto_kdf_KEYBYTES; // 32

export class Keyring {
  readonly #master: SecretKey;
  readonly #issued: SecretKey[] = [];
  #wiped = false;

  private constructor(master: SecretKey) {
    this.#master = master;
  }

  /** Generates the per-boot master secret from the kernel RNG. */
  static generate(): Keyring {
    const buf = sodium.sodium_malloc(MASTER_BYTES);
    sodium.randombytes_buf(buf);
    return new Keyring(new SecretKey(buf)); // SecretKey makes it no-access at once
  }

  /**
   * Tests only: a keyring from a fixed master so derived keys are known. Copies the
   * bytes and leaves `master` untouched. Never call this on the box.
   */
  static debugFromBytes(master: Buffer): Keyring {
    if (master.length !== MASTER_BYTES) {
      throw new RangeError(`Keyring.debugFromBytes: master must be ${MASTER_BYTES} bytes, got ${master.length}`);
    }
    const buf = sodium.sodium_malloc(MASTER_BYTES);
    master.copy(buf);
    return new Keyring(new SecretKey(buf));
  }

  /**
   * Derives the subkey for a purpose (by name, e.g. 'spool', or by KeyPurpose id).
   * bytes is 16..64; dm-crypt wants 64. Each call returns a fresh SecretKey that the
   * keyring also wipes in wipe().
   */
  subkey(purpose: KeyPurposeName | KeyPurposeId, bytes = 32): SecretKey {
    if (this.#wiped) throw new Error('keyring was wiped: subkeys are only available before stop');
    const id = purposeId(purpose);
    if (!Number.isInteger(bytes) || bytes < sodium.crypto_kdf_BYTES_MIN || bytes > sodium.crypto_kdf_BYTES_MAX) {
      throw new RangeError(
        `subkey length ${bytes} is out of range: crypto_kdf derives ${sodium.crypto_kdf_BYTES_MIN}..${sodium.crypto_kdf_BYTES_MAX} bytes`,
      );
    }
    // The fresh buffer is read-write until SecretKey's constructor locks it.
    const out = sodium.sodium_malloc(bytes);
    try {
      this.#master.use((master) => sodium.crypto_kdf_derive_from_key(out, id, KDF_CONTEXT, master));
    } catch (err) {
      sodium.sodium_memzero(out);
      throw err;
    }
    const key = new SecretKey(out);
    this.#issued.push(key);
    return key;
  }

  /** Wipes the master and every subkey handed out. Idempotent. */
  wipe(): void {
    for (const key of this.#issued) key.wipe();
    this.#issued.length = 0;
    this.#master.wipe();
    this.#wiped = true;
  }

  get wiped(): boolean {
    return this.#wiped;
  }

  /** Tests only: true when the master secret's memory is all zero. */
  debugIsZeroed(): boolean {
    return this.#master.debugIsZeroed();
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [util.inspect.custom](): string {
    return '[secret]';
  }
}

function purposeId(purpose: KeyPurposeName | KeyPurposeId): number {
  if (typeof purpose === 'number') {
    if (Object.values(KeyPurpose).includes(purpose)) return purpose;
  } else if (Object.prototype.hasOwnProperty.call(KeyPurpose, purpose)) {
    return KeyPurpose[purpose];
  }
  throw new RangeError(`unknown key purpose ${String(purpose)}: use one of ${Object.keys(KeyPurpose).join(', ')}`);
}
