// The container of an analysis firmware bundle (.sfw): encoder, decoder and constants.
//
// Byte layout (all integers big-endian):
//
//   offset 0   8 bytes   magic "SEALSFW1"
//   then, per entry:
//              1 byte    name length N, 1..64 (0 marks the end of the archive)
//              N bytes   name, ASCII, a plain file name (see isPlainEntryName)
//              4 bytes   data length L (u32)
//              L bytes   data
//   then       1 byte    0x00, the end marker; nothing may follow it
//
// The container knows nothing about signatures; it only guarantees that every
// entry is well framed, plainly named and within its size limit. The order and
// meaning of the entries is checked in verify.ts. The decoder never allocates:
// every entry is a view into the input, and every length is compared with both
// its limit and the bytes that remain before it is used.

export const MAGIC = Buffer.from('SEALSFW1', 'latin1');

/** The data of the `format` entry: which bundle layout this is. */
export const FORMAT_MARKER = Buffer.from('sealtap analysis bundle v2\n', 'latin1');

export const ENTRY_FORMAT = 'format';
export const ENTRY_MANIFEST = 'manifest.json';
export const ENTRY_SIGNATURE = 'manifest.sig';
/** The payload, in the order it must appear in the archive and in the manifest. */
export const PAYLOAD_NAMES = ['module.js', 'policy.json', 'run.json'] as const;
export type PayloadName = (typeof PAYLOAD_NAMES)[number];

export const MAX_NAME_BYTES = 64;
export const MAX_ENTRIES = 16;
export const MAX_FORMAT_BYTES = 64;
/** A manifest lists three payloads; 64 KiB is generous and bounds JSON parsing. */
export const MAX_MANIFEST_BYTES = 64 * 1024;
/**
 * One approval: key id (8), role (32), manifest hash (32), Ed25519 signature (64); see
 * signing-keys.ts. manifest.sig holds 0 (unsigned) to MAX_SIGNATURES of them.
 */
export const SIGNATURE_RECORD_BYTES = 136;
export const MAX_SIGNATURES = 8;
export const MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;
/** The whole archive; a medium slot must be at least this large (see medium.ts). */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

const ENTRY_HEADER_BYTES = 1 + 4;

/** A bundle that must not be used. The message says what is wrong and how to fix it. */
export class BundleError extends Error {}

export interface ArchiveEntry {
  name: string;
  /** A view into the decoded buffer, not a copy. */
  data: Buffer;
}

/**
 * Names are plain file names only: no directory separators, no leading dot, no "..",
 * no control or non-ASCII bytes. A name that could mean a path anywhere (when someone
 * unpacks a bundle with a generic tool) makes the bundle invalid.
 */
export function isPlainEntryName(name: string): boolean {
  return name.length >= 1 && name.length <= MAX_NAME_BYTES && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) && !name.includes('..');
}

/** The size limit of an entry's data, by name. */
export function entryLimit(name: string): number {
  if (name === ENTRY_FORMAT) return MAX_FORMAT_BYTES;
  if (name === ENTRY_MANIFEST) return MAX_MANIFEST_BYTES;
  if (name === ENTRY_SIGNATURE) return MAX_SIGNATURES * SIGNATURE_RECORD_BYTES;
  return MAX_PAYLOAD_BYTES;
}

export function encodeArchive(entries: ArchiveEntry[]): Buffer {
  if (entries.length > MAX_ENTRIES) throw new BundleError(`an archive holds at most ${MAX_ENTRIES} entries, got ${entries.length}`);
  let total = MAGIC.length + 1;
  for (const e of entries) {
    if (!isPlainEntryName(e.name)) throw new BundleError(`entry name ${JSON.stringify(e.name)} is not a plain file name: use letters, digits, '.', '_' and '-' only`);
    if (e.data.length > entryLimit(e.name)) throw new BundleError(`${e.name} is ${e.data.length} bytes, over the ${entryLimit(e.name)}-byte limit`);
    total += ENTRY_HEADER_BYTES + e.name.length + e.data.length;
  }
  if (total > MAX_BUNDLE_BYTES) throw new BundleError(`the bundle would be ${total} bytes, over the ${MAX_BUNDLE_BYTES}-byte limit: make the payload smaller`);
  const out = Buffer.alloc(total);
  let at = MAGIC.copy(out, 0);
  for (const e of entries) {
    out.writeUInt8(e.name.length, at); at += 1;
    at += out.write(e.name, at, 'latin1');
    out.writeUInt32BE(e.data.length, at); at += 4;
    at += e.data.copy(out, at);
  }
  out.writeUInt8(0, at);
  return out;
}

/** A printable form of raw name bytes for error messages (names may be hostile). */
function showName(raw: Buffer): string {
  return JSON.stringify(raw.toString('latin1'));
}

export function decodeArchive(buf: Buffer): ArchiveEntry[] {
  if (buf.length === 0) throw new BundleError('the bundle is empty (0 bytes): rebuild it with `sealtap bundle build`');
  if (buf.length > MAX_BUNDLE_BYTES) throw new BundleError(`the bundle is ${buf.length} bytes, over the ${MAX_BUNDLE_BYTES}-byte limit`);
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new BundleError('not a sealtap bundle (bad magic): expected a .sfw file made by `sealtap bundle build`');
  }
  const entries: ArchiveEntry[] = [];
  let at = MAGIC.length;
  for (;;) {
    if (at >= buf.length) throw new BundleError(`the archive is truncated: it ends at byte ${buf.length} without its end marker; copy the .sfw file again`);
    const nameLength = buf.readUInt8(at); at += 1;
    if (nameLength === 0) break;
    if (entries.length === MAX_ENTRIES) throw new BundleError(`the archive has more than ${MAX_ENTRIES} entries`);
    if (nameLength > MAX_NAME_BYTES) throw new BundleError(`entry ${entries.length + 1} has a ${nameLength}-byte name, over the ${MAX_NAME_BYTES}-byte limit`);
    if (at + nameLength + 4 > buf.length) throw new BundleError(`the archive is truncated inside the header of entry ${entries.length + 1}; copy the .sfw file again`);
    const rawName = buf.subarray(at, at + nameLength); at += nameLength;
    const name = rawName.toString('latin1');
    if (!isPlainEntryName(name)) throw new BundleError(`entry name ${showName(rawName)} is not a plain file name (path-like names are refused): the bundle was not made by \`sealtap bundle build\``);
    const length = buf.readUInt32BE(at); at += 4;
    const limit = entryLimit(name);
    if (length > limit) throw new BundleError(`${name} is ${length} bytes, over the ${limit}-byte limit`);
    if (length > buf.length - at) throw new BundleError(`the archive is truncated: ${name} claims ${length} bytes but only ${buf.length - at} remain; copy the .sfw file again`);
    entries.push({ name, data: buf.subarray(at, at + length) });
    at += length;
  }
  if (at !== buf.length) throw new BundleError(`${buf.length - at} unexpected bytes follow the end of the archive: the file was altered or concatenated`);
  if (entries.length === 0) throw new BundleError('the bundle has no entries: rebuild it with `sealtap bundle build`');
  return entries;
}
