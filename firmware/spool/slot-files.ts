// The slot files of a spool directory: their names, their preallocation, and the
// read-only access the analysis child uses (it has fs read permission on the spool
// directory and no SpoolRing of its own).
import * as fs from 'fs';
import * as path from 'path';
import { SEGMENT_HEADER_BYTES, peekSealedLength } from './segment';
import { batchBinding } from '../capture/batch-binding';

const ZERO_CHUNK_BYTES = 1 << 20;

/** File name of slot index `slot`: slot-000000.seg, ... */
export function slotFileName(slot: number): string {
  return `slot-${String(slot).padStart(6, '0')}.seg`;
}

/** Path of the slot file that holds segment seq in a ring of `slots` slots under dir. */
export function slotPathForSeq(dir: string, seq: number, slots: number): string {
  return path.join(dir, slotFileName(seq % slots));
}

/**
 * Reads the sealed segment in a slot file: the header, then exactly the sealed length
 * it announces. A header that is not plausible comes back alone (openSegment reports
 * it); a file shorter than announced comes back short (openSegment reports 'torn').
 * The header is not trusted beyond sizing this read.
 */
export function readSlotFile(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const header = Buffer.allocUnsafe(SEGMENT_HEADER_BYTES);
    const got = readFully(fd, header, 0);
    if (got < SEGMENT_HEADER_BYTES) return header.subarray(0, got);
    const sealedLength = peekSealedLength(header);
    if (sealedLength < 0) return header;
    const sealed = Buffer.allocUnsafe(sealedLength);
    header.copy(sealed);
    const rest = readFully(fd, sealed.subarray(SEGMENT_HEADER_BYTES), SEGMENT_HEADER_BYTES);
    return sealed.subarray(0, SEGMENT_HEADER_BYTES + rest);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Makes `slots` slot files of exactly slotBytes each, every block allocated now (a
 * sparse file could still hit ENOSPC at run time): with fallocate(2) where the file
 * system has it (ext4, xfs, tmpfs: the blocks read as zeros and none is written; a
 * 256 MiB spool took 0.45 s of zeros to write), else filled with real zeros. A slot
 * file left by an earlier run at full size and fully allocated is kept and only its
 * header zeroed, so it reads as empty; its old contents were sealed under a key that
 * died with that run.
 */
export function preallocateSlots(dir: string, slots: number, slotBytes: number): void {
  const zeros = Buffer.alloc(Math.min(ZERO_CHUNK_BYTES, slotBytes));
  for (let slot = 0; slot < slots; slot++) {
    const file = path.join(dir, slotFileName(slot));
    if (isFullyAllocated(file, slotBytes)) {
      const fd = fs.openSync(file, 'r+');
      try {
        writeFully(fd, zeros.subarray(0, Math.min(zeros.length, SEGMENT_HEADER_BYTES)), 0);
      } finally {
        fs.closeSync(fd);
      }
      continue;
    }
    const fd = fs.openSync(file, 'w', 0o600);
    try {
      const errno = batchBinding.allocate(fd, slotBytes);
      if (errno === 0) continue;
      // ENOSPC and EIO are real: the zeros below meet them and throw as before.
      for (let off = 0; off < slotBytes; off += zeros.length) {
        writeFully(fd, zeros.subarray(0, Math.min(zeros.length, slotBytes - off)), off);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * Bytes of existing slot files 0..slots-1 that preallocation can reuse. Walks the
 * directory listing rather than every possible slot, so a huge slot count in a bad
 * config costs nothing before it is refused.
 */
export function reusableSlotBytes(dir: string, slots: number, slotBytes: number): number {
  let n = 0;
  for (const name of fs.readdirSync(dir)) {
    const m = /^slot-(\d+)\.seg$/.exec(name);
    if (m === null || Number(m[1]) >= slots || name !== slotFileName(Number(m[1]))) continue;
    try {
      const st = fs.statSync(path.join(dir, name));
      if (st.isFile()) n += Math.min(st.blocks * 512, slotBytes);
    } catch {
      // vanished meanwhile: nothing to reuse
    }
  }
  return n;
}

function isFullyAllocated(file: string, slotBytes: number): boolean {
  try {
    const st = fs.statSync(file);
    return st.isFile() && st.size === slotBytes && st.blocks * 512 >= slotBytes;
  } catch {
    return false;
  }
}

function readFully(fd: number, buf: Buffer, position: number): number {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function writeFully(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, position + done);
}
