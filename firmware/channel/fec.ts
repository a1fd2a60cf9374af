// FEC repair frames: groups of frames protected by Reed-Solomon parity (reed-solomon.ts),
// so a receiver can rebuild up to m lost or damaged frames per group. Systematic: the
// data frames go out unchanged and a receiver may ignore the repair frames.
//
// Group geometry (fixed for a session, announced in BOOT as fec = {k, m}):
//   sequence numbers  g·(k+m) … g·(k+m)+k−1   k data frames (any type but FEC: BOOT,
//                                             results, CHECKPOINT, END…)
//                     g·(k+m)+k … +k+m−1      m repair frames (type FEC, flag FEC)
// Only the session's last group may be shorter: after END the box sends the m repair
// frames of the n < k data frames it has.
//
// Symbol of a data frame = u16 length ‖ raw frame (header ‖ payload ‖ crc, before COBS)
// zero-padded to 2 + the longest raw frame of the group, so a rebuilt symbol says how
// long its frame was.
//
// Repair frame body (big-endian):
//   0  u32 seq of the group's first data frame
//   4  u8  n: data frames in the group (k, or fewer for the last group)
//   5  u8  m: repair frames per group
//   6  u8  j: index of this repair frame, 0..m−1
//   7  u8  0
//   8  parity symbol j of the group's n data symbols
// Raw frames are at most ~1.1 KB (records above 1022 bytes are fragmented), so a repair
// body stays far below MAX_PAYLOAD_BYTES.
import { paritySymbol, MAX_DATA_SYMBOLS, MAX_PARITY_SYMBOLS } from './reed-solomon';

export interface FecParams {
  k: number;
  m: number;
}

/** On a tty unless run.json says otherwise: 2 repair frames per 16 (12.5% of the line) rebuild any 2 lost in 18. */
export const DEFAULT_TTY_FEC: FecParams = { k: 16, m: 2 };
export const MAX_FEC_K = 128;
export const MAX_FEC_M = 16;
export const REPAIR_HEADER_BYTES = 8;

export function checkFecParams(p: FecParams, where: string): void {
  if (!Number.isInteger(p.k) || p.k < 1 || p.k > MAX_FEC_K) throw new Error(`${where}.k must be a whole number from 1 to ${MAX_FEC_K}, got ${p.k}`);
  if (!Number.isInteger(p.m) || p.m < 1 || p.m > MAX_FEC_M) throw new Error(`${where}.m must be a whole number from 1 to ${MAX_FEC_M}, got ${p.m}`);
  // Kept within what the Cauchy code can hold.
  if (p.k > MAX_DATA_SYMBOLS || p.m > MAX_PARITY_SYMBOLS) throw new Error(`${where}: k=${p.k}, m=${p.m} is too large`);
}

/** The data symbols of a group: u16 length ‖ raw, zero-padded to a common length. */
export function dataSymbols(raws: Buffer[]): Buffer[] {
  let longest = 0;
  for (const r of raws) if (r.length > longest) longest = r.length;
  return raws.map((r) => {
    const s = Buffer.alloc(2 + longest);
    s.writeUInt16BE(r.length, 0);
    r.copy(s, 2);
    return s;
  });
}

/** The raw frame inside a (rebuilt) data symbol, or null if its length does not fit. */
export function frameOfSymbol(sym: Buffer): Buffer | null {
  if (sym.length < 2) return null;
  const len = sym.readUInt16BE(0);
  if (len === 0 || 2 + len > sym.length) return null;
  return sym.subarray(2, 2 + len);
}

export interface RepairBody {
  firstSeq: number;
  n: number;
  m: number;
  index: number;
  parity: Buffer;
}

export function buildRepairBody(firstSeq: number, n: number, m: number, index: number, parity: Buffer): Buffer {
  const b = Buffer.allocUnsafe(REPAIR_HEADER_BYTES + parity.length);
  b.writeUInt32BE(firstSeq >>> 0, 0);
  b[4] = n;
  b[5] = m;
  b[6] = index;
  b[7] = 0;
  parity.copy(b, REPAIR_HEADER_BYTES);
  return b;
}

export function parseRepairBody(body: Buffer): RepairBody | null {
  if (body.length < REPAIR_HEADER_BYTES + 3) return null; // a symbol holds at least a length and a byte
  const n = body[4];
  const m = body[5];
  const index = body[6];
  if (n < 1 || m < 1 || index >= m || body[7] !== 0) return null;
  return { firstSeq: body.readUInt32BE(0), n, m, index, parity: body.subarray(REPAIR_HEADER_BYTES) };
}

/**
 * Box side: collects the raw data frames of the current group and, when k are in (or
 * at the end of the session), yields the bodies of its m repair frames.
 */
export class RepairEncoder {
  private raws: Buffer[] = [];
  private firstSeq = 0;

  constructor(readonly params: FecParams) {
    checkFecParams(params, 'channel.fec');
  }

  /** Adds data frame `seq`; the repair bodies once the group is full, else null. */
  add(seq: number, raw: Buffer): Buffer[] | null {
    if (this.raws.length === 0) this.firstSeq = seq;
    this.raws.push(raw);
    return this.raws.length === this.params.k ? this.flush() : null;
  }

  /** Repair bodies of the group so far (the short last group of a session), or null if empty. */
  flush(): Buffer[] | null {
    if (this.raws.length === 0) return null;
    const symbols = dataSymbols(this.raws);
    const out: Buffer[] = [];
    for (let j = 0; j < this.params.m; j++) {
      out.push(buildRepairBody(this.firstSeq, symbols.length, this.params.m, j, paritySymbol(symbols, j, this.params.m)));
    }
    this.raws = [];
    return out;
  }
}
