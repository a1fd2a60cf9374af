// The box's bundle medium (a block device, or a disk image file in tests and QEMU):
// a slot table stored twice, then two fixed-size slots A and B.
//
//   offset 0        slot table copy 0 (one 4 KiB block, 152 bytes used)
//   offset 4096     slot table copy 1
//   offset 1 MiB    slot A (slotBytes long)
//   1 MiB + slot    slot B
//
// Slot table (big-endian):
//   0   8  magic "SEALMED1"
//   8   4  layout version (1)
//   12  4  generation: the copy with the highest valid generation is current
//   16  8  slotBytes
//   24  1  active slot: 0 = A, 1 = B, 0xFF = none
//   25  3  zero
//   28  4  minimum security version (anti-rollback)
//   32  4  slot A bundle length (0 = empty)    36  32 slot A bundle BLAKE2b-256
//   68  4  slot B bundle length                72  32 slot B bundle BLAKE2b-256
//   104 16 zero
//   120 32 BLAKE2b-256 of bytes 0..119
//
// An update writes the next generation into the copy that is NOT current, then fsyncs.
// A torn write can only damage that copy, whose checksum then fails, and the reader
// keeps using the other one: the table write is the commit point of a flash.
import * as fs from 'fs';
import { BundleError, MAX_BUNDLE_BYTES } from './format';
import { blake2b256, HASH_BYTES } from './hash';

export const TABLE_MAGIC = Buffer.from('SEALMED1', 'latin1');
export const LAYOUT_VERSION = 1;
export const TABLE_BYTES = 152;
export const TABLE_COPY_OFFSETS = [0, 4096] as const;
export const SLOTS_OFFSET = 1024 * 1024;
/** A slot must hold the largest bundle the format allows. */
export const MIN_SLOT_BYTES = MAX_BUNDLE_BYTES;
export const DEFAULT_MEDIUM_BYTES = SLOTS_OFFSET + 2 * MIN_SLOT_BYTES;
const NO_SLOT = 0xff;
const CHECKSUM_AT = 120;

export type SlotName = 'A' | 'B';
export const SLOT_NAMES: readonly SlotName[] = ['A', 'B'];

export interface SlotRecord {
  /** Bundle length in bytes; 0 means the slot holds nothing. */
  length: number;
  /** BLAKE2b-256 of the bundle bytes, recorded when the slot was written. */
  hash: Buffer;
}

export interface SlotTable {
  generation: number;
  slotBytes: number;
  active: 0 | 1 | null;
  minSecurityVersion: number;
  slots: [SlotRecord, SlotRecord];
}

export class MediumError extends BundleError {}

export function encodeSlotTable(t: SlotTable): Buffer {
  const b = Buffer.alloc(TABLE_BYTES);
  TABLE_MAGIC.copy(b, 0);
  b.writeUInt32BE(LAYOUT_VERSION, 8);
  b.writeUInt32BE(t.generation, 12);
  b.writeBigUInt64BE(BigInt(t.slotBytes), 16);
  b.writeUInt8(t.active === null ? NO_SLOT : t.active, 24);
  b.writeUInt32BE(t.minSecurityVersion, 28);
  for (let i = 0; i < 2; i++) {
    b.writeUInt32BE(t.slots[i].length, 32 + i * 36);
    t.slots[i].hash.copy(b, 36 + i * 36);
  }
  blake2b256(b.subarray(0, CHECKSUM_AT)).copy(b, CHECKSUM_AT);
  return b;
}

/** The table in one copy, or why that copy is unusable. */
export function decodeSlotTable(b: Buffer, mediumBytes: number): SlotTable | string {
  if (b.length < TABLE_BYTES) return 'short read';
  if (!b.subarray(0, 8).equals(TABLE_MAGIC)) return 'no slot table (bad magic)';
  if (!blake2b256(b.subarray(0, CHECKSUM_AT)).equals(b.subarray(CHECKSUM_AT, CHECKSUM_AT + HASH_BYTES))) return 'checksum mismatch (torn or altered)';
  if (b.readUInt32BE(8) !== LAYOUT_VERSION) return `layout version ${b.readUInt32BE(8)} is not ${LAYOUT_VERSION}`;
  const slotBytes = Number(b.readBigUInt64BE(16));
  if (slotBytes < MIN_SLOT_BYTES || SLOTS_OFFSET + 2 * slotBytes > mediumBytes) return `slot size ${slotBytes} does not fit a ${mediumBytes}-byte medium`;
  const activeByte = b.readUInt8(24);
  if (activeByte !== 0 && activeByte !== 1 && activeByte !== NO_SLOT) return `active slot byte ${activeByte} is invalid`;
  const slots: SlotRecord[] = [];
  for (let i = 0; i < 2; i++) {
    const length = b.readUInt32BE(32 + i * 36);
    if (length > slotBytes || length > MAX_BUNDLE_BYTES) return `slot ${SLOT_NAMES[i]} length ${length} exceeds the slot`;
    slots.push({ length, hash: Buffer.from(b.subarray(36 + i * 36, 68 + i * 36)) });
  }
  return {
    generation: b.readUInt32BE(12),
    slotBytes,
    active: activeByte === NO_SLOT ? null : (activeByte as 0 | 1),
    minSecurityVersion: b.readUInt32BE(28),
    slots: [slots[0], slots[1]],
  };
}

export function slotOffset(table: SlotTable, slot: 0 | 1): number {
  return SLOTS_OFFSET + slot * table.slotBytes;
}

/** Size of an image file, or of a block device (whose stat size is 0) from sysfs. */
export function mediumBytes(fd: number, path: string): number {
  const st = fs.fstatSync(fd);
  if (st.isFile()) return st.size;
  if (st.isBlockDevice()) {
    const major = Math.floor(st.rdev / 256) & 0xfff;
    const minor = (st.rdev & 0xff) | ((Math.floor(st.rdev / 4096)) & ~0xff);
    const sectors = fs.readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim();
    return Number(sectors) * 512;
  }
  throw new MediumError(`${path} is neither a block device nor a disk image file`);
}

export interface OpenMedium {
  fd: number;
  path: string;
  bytes: number;
  table: SlotTable;
  /** Which table copy is current (the next update goes into the other one). */
  copy: 0 | 1;
  /** Why a table copy was unusable, if one was (a torn update is reported, not hidden). */
  damagedCopy: string | null;
}

function openFd(path: string, writable: boolean): number {
  try {
    return fs.openSync(path, writable ? 'r+' : 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new MediumError(`cannot open bundle medium ${path} (${code}): check the --device path (or bundleDevice in board/<name>/board.json)`);
  }
}

function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}

function writeAt(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done);
}

export function openMedium(path: string, writable: boolean): OpenMedium {
  const fd = openFd(path, writable);
  try {
    const bytes = mediumBytes(fd, path);
    const copies = TABLE_COPY_OFFSETS.map((off) => decodeSlotTable(readAt(fd, TABLE_BYTES, off), bytes));
    const valid = copies.map((c, i) => ({ c, i })).filter((x): x is { c: SlotTable; i: number } => typeof x.c !== 'string');
    if (valid.length === 0) {
      throw new MediumError(`${path} has no valid slot table (copy 0: ${copies[0] as string}; copy 1: ${copies[1] as string}): initialise it with \`sealtap bundle medium init --device ${path}\` (this erases it) and flash a bundle`);
    }
    const best = valid.reduce((a, b) => (b.c.generation > a.c.generation ? b : a));
    const bad = copies.findIndex((c) => typeof c === 'string');
    return { fd, path, bytes, table: best.c, copy: best.i as 0 | 1, damagedCopy: bad >= 0 ? `slot table copy ${bad}: ${copies[bad] as string}` : null };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

export function closeMedium(m: OpenMedium): void {
  fs.closeSync(m.fd);
}

/** The bundle bytes in a slot; the length was bounded by decodeSlotTable before this allocation. */
export function readSlot(m: OpenMedium, slot: 0 | 1): Buffer {
  const rec = m.table.slots[slot];
  return readAt(m.fd, rec.length, slotOffset(m.table, slot));
}

/** Commits a new table: next generation, into the other copy, fsynced. This is the commit point. */
export function commitSlotTable(m: OpenMedium, next: Omit<SlotTable, 'generation'>): void {
  if (m.table.generation === 0xffffffff) throw new MediumError(`${m.path}: slot table generation exhausted; re-initialise the medium`);
  const table: SlotTable = { ...next, generation: m.table.generation + 1 };
  const copy: 0 | 1 = m.copy === 0 ? 1 : 0;
  writeAt(m.fd, encodeSlotTable(table), TABLE_COPY_OFFSETS[copy]);
  fs.fsyncSync(m.fd);
  m.table = table;
  m.copy = copy;
}

export interface InitOptions {
  /** Size of a new image file; a block device or an existing file keeps its size. */
  size?: number;
  /** Overwrite a medium that already holds a slot table. */
  force?: boolean;
}

/** Writes an empty slot table (no active slot, minimum security version 0) into both copies. */
export function initMedium(path: string, opts: InitOptions = {}): SlotTable {
  const size = opts.size ?? DEFAULT_MEDIUM_BYTES;
  if (!Number.isSafeInteger(size) || size < DEFAULT_MEDIUM_BYTES) {
    throw new MediumError(`--size ${opts.size} is too small: a medium needs at least ${DEFAULT_MEDIUM_BYTES} bytes (1 MiB table area + two ${MIN_SLOT_BYTES}-byte slots)`);
  }
  const exists = fs.existsSync(path);
  let fd: number;
  try {
    fd = fs.openSync(path, exists ? 'r+' : 'wx+', 0o644);
  } catch (err) {
    throw new MediumError(`cannot open ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}): check the --device path`);
  }
  try {
    const isFile = fs.fstatSync(fd).isFile();
    const before = mediumBytes(fd, path);
    const holdsTable = TABLE_COPY_OFFSETS.some((off) => typeof decodeSlotTable(readAt(fd, TABLE_BYTES, off), before) !== 'string');
    if (holdsTable && !opts.force) throw new MediumError(`${path} already holds a bundle slot table: pass --force to erase it`);
    // An image file gets the requested size (sparse); a block device keeps its own.
    if (isFile && (opts.size !== undefined || before === 0)) {
      fs.ftruncateSync(fd, 0);
      fs.ftruncateSync(fd, size);
    }
    const bytes = mediumBytes(fd, path);
    const slotBytes = Math.floor((bytes - SLOTS_OFFSET) / 2 / 4096) * 4096;
    if (slotBytes < MIN_SLOT_BYTES) throw new MediumError(`${path} is ${bytes} bytes; a medium needs at least ${DEFAULT_MEDIUM_BYTES}`);
    const empty = { length: 0, hash: Buffer.alloc(HASH_BYTES) };
    const base = { slotBytes, active: null, minSecurityVersion: 0, slots: [empty, empty] as [SlotRecord, SlotRecord] };
    writeAt(fd, encodeSlotTable({ ...base, generation: 1 }), TABLE_COPY_OFFSETS[0]);
    writeAt(fd, encodeSlotTable({ ...base, generation: 0 }), TABLE_COPY_OFFSETS[1]);
    fs.fsyncSync(fd);
    return { ...base, generation: 1 };
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `data` in chunks, then fsyncs; chunkDelayMs (tests only) slows it down so a test can kill the process mid-write. */
export function writeSlotBytes(m: OpenMedium, slot: 0 | 1, data: Buffer, opts: { chunkBytes?: number; chunkDelayMs?: number; onProgress?: (done: number, total: number) => void } = {}): void {
  if (data.length > m.table.slotBytes) throw new MediumError(`the bundle is ${data.length} bytes, larger than a ${m.table.slotBytes}-byte slot`);
  const chunk = opts.chunkBytes ?? 64 * 1024;
  const base = slotOffset(m.table, slot);
  const sleeper = opts.chunkDelayMs ? new Int32Array(new SharedArrayBuffer(4)) : null;
  for (let at = 0; at < data.length; at += chunk) {
    writeAt(m.fd, data.subarray(at, Math.min(at + chunk, data.length)), base + at);
    opts.onProgress?.(Math.min(at + chunk, data.length), data.length);
    if (sleeper && at + chunk < data.length) {
      fs.fdatasyncSync(m.fd); // make the partial state visible to the test that kills us
      Atomics.wait(sleeper, 0, 0, opts.chunkDelayMs);
    }
  }
  fs.fsyncSync(m.fd);
}
