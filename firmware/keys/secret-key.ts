// A key in libsodium secure memory (sodium_malloc: guard pages, mlock'ed, excluded
// from core dumps). The memory is no-access except inside use(): a stray read from
// anywhere else in the process — a log line, a debugger, a heap walk — faults
// instead of leaking the key. Never hand the Buffer given to use() to anything that
// keeps it: touching it after use() returns kills the process with SIGSEGV.
import * as util from 'util';
import * as sodium from 'sodium-native';

const REDACTED = '[secret]';

export class SecretKey {
  // ES private field: not enumerable, not cloned by structuredClone/postMessage,
  // not shown by util.inspect or JSON.stringify.
  readonly #buf: Buffer;
  #wiped = false;
  // Nested use() calls on one key must not revoke access while an outer call still
  // reads it, so only the outermost call changes the protection.
  #depth = 0;

  /** Length of the key in bytes (not secret). */
  readonly length: number;

  /** @internal Takes ownership of a sodium_malloc buffer; the caller must not keep it. */
  constructor(secureBuf: Buffer) {
    if (!(secureBuf as Buffer & { secure?: boolean }).secure) {
      throw new TypeError('SecretKey needs sodium_malloc memory: use SecretKey.fromBytes() for plain bytes');
    }
    this.#buf = secureBuf;
    this.length = secureBuf.length;
    sodium.sodium_mprotect_noaccess(this.#buf);
  }

  /**
   * Copies raw key bytes into secure memory and zeroes `src` (e.g. a subkey received
   * over the pipe from the supervisor). The caller should drop its reference to `src`.
   */
  static fromBytes(src: Buffer): SecretKey {
    if (src.length === 0) throw new RangeError('SecretKey.fromBytes: empty key');
    const buf = sodium.sodium_malloc(src.length);
    src.copy(buf);
    sodium.sodium_memzero(src);
    return new SecretKey(buf);
  }

  /**
   * Runs fn with read-only access to the key bytes and revokes access when fn
   * returns or throws. fn must be synchronous: an async continuation would run
   * after access is revoked and fault.
   */
  use<T>(fn: (key: Buffer) => T): T {
    if (this.#wiped) throw new Error('key was wiped');
    if (this.#depth === 0) sodium.sodium_mprotect_readonly(this.#buf);
    this.#depth++;
    let result: T;
    try {
      result = fn(this.#buf);
    } finally {
      this.#depth--;
      if (this.#depth === 0) sodium.sodium_mprotect_noaccess(this.#buf);
    }
    if (isThenable(result)) {
      throw new TypeError('SecretKey.use callback returned a promise: key access is synchronous only, do the async work outside use()');
    }
    return result;
  }

  /** Zeroes the key and leaves the memory no-access. Idempotent. */
  wipe(): void {
    sodium.sodium_mprotect_readwrite(this.#buf);
    sodium.sodium_memzero(this.#buf);
    sodium.sodium_mprotect_noaccess(this.#buf);
    this.#wiped = true;
  }

  get wiped(): boolean {
    return this.#wiped;
  }

  /** Tests only: true when every byte of the key memory is zero. */
  debugIsZeroed(): boolean {
    sodium.sodium_mprotect_readonly(this.#buf);
    try {
      return sodium.sodium_is_zero(this.#buf);
    } finally {
      sodium.sodium_mprotect_noaccess(this.#buf);
    }
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [util.inspect.custom](): string {
    return REDACTED;
  }
}

function isThenable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
