// The byte format between the trusted analysis process and the sandboxed module
// process: length-prefixed frames on two pipes (the module's stdin and stdout), no
// Node IPC (its process.send would hand the module a channel to the supervisor).
//
//   frame = u32le length (of type + payload) ‖ u8 type ‖ payload
//
// Everything that comes back from the module is read by decodeRecord() as hostile:
// lengths, stream numbers, positions and every value are checked against the declared
// streams before anything is built from them. Encoding (encodeRecord) runs inside the
// module's process and is only a convenience for honest modules.
import type { FieldDecl, StreamDecl } from './schema';

export const ToModule = { INIT: 1, SEGMENT: 2, FINISH: 3 } as const;
export const FromModule = { READY: 1, HEARTBEAT: 2, POSITION: 3, RECORD: 4, REFUSED: 5, SEGMENT_DONE: 6, FINISHED: 7 } as const;

/** Stream number of a packet reference (emit.packet): the trusted side rewrites that packet. */
export const PACKET_REF = 0xff;
/** A frame larger than this from the module ends it: no honest frame comes near. */
export const MAX_FROM_MODULE_FRAME = 1 << 20;
/** Longest name field, in bytes (a DNS name's presentation form). */
export const MAX_NAME_BYTES = 253;

/** Why a record was refused: codes only, never the record's content. */
export const Refusal = {
  unknownStream: 1,
  shape: 2,
  range: 3,
  position: 4,
  rate: 5,
  belowK: 6,
  outsideHandler: 7,
  notDeclaredOutput: 8,
} as const;
export const refusalNames: Record<number, string> = Object.fromEntries(Object.entries(Refusal).map(([k, v]) => [v, k]));

/** Appends frames to one growing buffer; take() hands out what was written. */
export class FrameWriter {
  buf = Buffer.alloc(64 * 1024);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = Buffer.alloc(size);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }

  /** Starts a frame; returns its start, to close with end(). */
  begin(type: number): number {
    this.room(5);
    const at = this.len;
    this.buf[at + 4] = type;
    this.len += 5;
    return at;
  }

  end(at: number): void {
    this.buf.writeUInt32LE(this.len - at - 4, at);
  }

  u8(v: number): void { this.room(1); this.buf[this.len++] = v; }
  u16(v: number): void { this.room(2); this.buf.writeUInt16LE(v, this.len); this.len += 2; }
  u32(v: number): void { this.room(4); this.buf.writeUInt32LE(v >>> 0, this.len); this.len += 4; }
  f64(v: number): void { this.room(8); this.buf.writeDoubleLE(v, this.len); this.len += 8; }
  bytes(b: Uint8Array, start = 0, end = b.length): void {
    this.room(end - start);
    this.buf.set(b.subarray(start, end), this.len);
    this.len += end - start;
  }

  /** A whole frame of one type with an optional payload. */
  frame(type: number, payload?: Uint8Array): void {
    const at = this.begin(type);
    if (payload) this.bytes(payload);
    this.end(at);
  }

  /** Drops back to `at` (a frame begun but abandoned). */
  rewind(at: number): void { this.len = at; }

  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    return out;
  }
}

/**
 * Splits a byte stream into frames. Calls onFrame(type, payload) for each; payload is
 * valid only during the call. Returns false (and stops for good) on a frame whose
 * length is 0 or over max. A frame that spans chunks is gathered into one buffer of
 * its own size, so a segment of megabytes costs one copy, not one per chunk.
 */
export class FrameReader {
  private head = Buffer.alloc(0);
  private big: Buffer | null = null;
  private filled = 0;
  private broken = false;

  constructor(private readonly max: number, private readonly onFrame: (type: number, payload: Buffer) => void) {}

  push(chunk: Buffer): boolean {
    if (this.broken) return false;
    let b = chunk;
    if (this.big) {
      const n = Math.min(this.big.length - this.filled, b.length);
      b.copy(this.big, this.filled, 0, n);
      this.filled += n;
      b = b.subarray(n);
      if (this.filled < this.big.length) return true;
      const frame = this.big;
      this.big = null;
      this.onFrame(frame[4], frame.subarray(5));
    }
    if (this.head.length > 0) {
      b = Buffer.concat([this.head, b]);
      this.head = Buffer.alloc(0);
    }
    let off = 0;
    while (off + 5 <= b.length) {
      const len = b.readUInt32LE(off);
      if (len < 1 || len > this.max) {
        this.broken = true;
        return false;
      }
      if (off + 4 + len > b.length) {
        this.big = Buffer.allocUnsafe(4 + len);
        this.filled = b.copy(this.big, 0, off);
        return true;
      }
      this.onFrame(b[off + 4], b.subarray(off + 5, off + 4 + len));
      off += 4 + len;
    }
    // Fewer than 5 bytes: keep a copy, the chunk's memory may be reused by the stream.
    if (off < b.length) this.head = Buffer.from(b.subarray(off));
    return true;
  }
}

// ---- record values, field by field --------------------------------------------

/** A value as the module hands it over: bytes for address/mac/name, text for enum, numbers otherwise. */
export type FieldValue = number | string | Uint8Array | readonly number[];

function isWhole(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/**
 * Encodes one field (module side). Returns false when the value does not fit its
 * declaration; the caller abandons the record.
 */
export function encodeField(w: FrameWriter, f: FieldDecl, v: unknown): boolean {
  switch (f.type) {
    case 'address':
      if (!(v instanceof Uint8Array) || (v.length !== 4 && v.length !== 16)) return false;
      w.u8(v.length); w.bytes(v); return true;
    case 'mac':
      if (!(v instanceof Uint8Array) || v.length !== 6) return false;
      w.bytes(v); return true;
    case 'port': if (!isWhole(v, 65535)) return false; w.u16(v); return true;
    case 'protocol': if (!isWhole(v, 255)) return false; w.u8(v); return true;
    case 'count': if (!isWhole(v, f.max)) return false; w.f64(v); return true;
    case 'time': if (!isWhole(v, Number.MAX_SAFE_INTEGER)) return false; w.f64(v); return true;
    case 'duration': if (!isWhole(v, f.max)) return false; w.f64(v); return true;
    case 'flags': if (!isWhole(v, 2 ** f.bits - 1)) return false; w.u32(v); return true;
    case 'enum': {
      const i = typeof v === 'string' ? f.values.indexOf(v) : -1;
      if (i < 0) return false;
      w.u8(i); return true;
    }
    case 'name': {
      const b = typeof v === 'string' ? Buffer.from(v, 'latin1') : v instanceof Uint8Array ? v : null;
      if (!b || b.length > MAX_NAME_BYTES) return false;
      w.u8(b.length); w.bytes(b); return true;
    }
    case 'histogram':
      if (!Array.isArray(v) || v.length !== f.bins || !v.every((x) => isWhole(x, f.max))) return false;
      for (const x of v) w.f64(x);
      return true;
  }
}

/** A record's values as the trusted side read them: numbers, bytes (address/mac/name) or number lists. */
export type ReadValue = number | Buffer | number[];

/**
 * Reads the declared fields of one record (trusted side) from p[off..]. Returns the
 * values, or a Refusal code when anything does not fit: wrong length, a value out of
 * its range, bytes left over.
 */
export function decodeFields(p: Buffer, off: number, s: StreamDecl, out: ReadValue[]): number {
  out.length = 0;
  for (const f of Object.values(s.fields)) {
    const r = decodeField(p, off, f, out);
    if (r < 0) return -r;
    off = r;
  }
  return off === p.length ? 0 : Refusal.shape;
}

/** Next offset, or minus a Refusal code. */
function decodeField(p: Buffer, off: number, f: FieldDecl, out: ReadValue[]): number {
  const need = (n: number): boolean => off + n <= p.length;
  const wholeAt = (max: number): number => {
    if (!need(8)) return -Refusal.shape;
    const v = p.readDoubleLE(off);
    if (!Number.isInteger(v) || v < 0 || v > max) return -Refusal.range;
    out.push(v);
    return off + 8;
  };
  switch (f.type) {
    case 'address': {
      if (!need(1)) return -Refusal.shape;
      const n = p[off];
      if ((n !== 4 && n !== 16) || !need(1 + n)) return -Refusal.shape;
      out.push(Buffer.from(p.subarray(off + 1, off + 1 + n)));
      return off + 1 + n;
    }
    case 'mac':
      if (!need(6)) return -Refusal.shape;
      out.push(Buffer.from(p.subarray(off, off + 6)));
      return off + 6;
    case 'port':
      if (!need(2)) return -Refusal.shape;
      out.push(p.readUInt16LE(off));
      return off + 2;
    case 'protocol':
      if (!need(1)) return -Refusal.shape;
      out.push(p[off]);
      return off + 1;
    case 'count': return wholeAt(f.max);
    case 'time': return wholeAt(Number.MAX_SAFE_INTEGER);
    case 'duration': return wholeAt(f.max);
    case 'flags': {
      if (!need(4)) return -Refusal.shape;
      const v = p.readUInt32LE(off);
      if (f.bits < 32 && v >= 2 ** f.bits) return -Refusal.range;
      out.push(v);
      return off + 4;
    }
    case 'enum':
      if (!need(1)) return -Refusal.shape;
      if (p[off] >= f.values.length) return -Refusal.range;
      out.push(p[off]);
      return off + 1;
    case 'name': {
      if (!need(1)) return -Refusal.shape;
      const n = p[off];
      if (n > MAX_NAME_BYTES || !need(1 + n)) return -Refusal.shape;
      out.push(Buffer.from(p.subarray(off + 1, off + 1 + n)));
      return off + 1 + n;
    }
    case 'histogram': {
      if (!need(8 * f.bins)) return -Refusal.shape;
      const bins: number[] = [];
      for (let i = 0; i < f.bins; i++) {
        const v = p.readDoubleLE(off + 8 * i);
        if (!Number.isInteger(v) || v < 0 || v > f.max) return -Refusal.range;
        bins.push(v);
      }
      out.push(bins);
      return off + 8 * f.bins;
    }
  }
}
