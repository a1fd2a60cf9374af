// A BOOT longer than one frame, put together from the frames held before a session is
// synced. Stream declarations (BOOT.streams) make BOOT longer than the 1022 bytes one
// frame carries, so it travels as fragments; without this a receiver could never open
// such a session: every frame would wait for a BOOT it cannot read, and be lost.
//
// Before BOOT the receiver does not know the FEC geometry, so pieces must follow each
// other as the framer sends them: consecutive sequence numbers, with only repair frames
// (type FEC) held between them. Each piece arrived with a good CRC and this session's id;
// the JSON that results is parsed and checked like any BOOT.
import { BootRecord, RecordType } from '../channel/records';
import { frameBody, parseFragment, FLAG_FRAGMENT } from '../channel/frame';

export interface HeldFrame {
  seq: number;
  type: number;
  flags: number;
  payload: Buffer;
  raw: Buffer;
}

/**
 * The whole BOOT record whose last piece is `last` (already among `held`), or null if
 * `last` does not end a BOOT or an earlier piece is missing.
 */
export function assembleHeldBoot(held: readonly HeldFrame[], last: HeldFrame): Buffer | null {
  const bySeq = new Map<number, HeldFrame>();
  for (const h of held) bySeq.set(h.seq, h);
  const end = pieceOf(last);
  if (!end || end.offset + end.bytes.length !== end.total) return null;
  const record = Buffer.allocUnsafe(end.total);
  end.bytes.copy(record, end.offset);
  let need = end.offset;
  let seq = last.seq - 1;
  while (need > 0) {
    let h = bySeq.get(seq);
    while (h && h.type === RecordType.FEC) h = bySeq.get(--seq);
    const p = h ? pieceOf(h) : null;
    if (!p || p.total !== end.total || p.offset + p.bytes.length !== need) return null;
    p.bytes.copy(record, p.offset);
    need = p.offset;
    seq--;
  }
  return record;
}

/** A BOOT body, whole: a JSON object, or null (then the frame counts as a bad record). */
export function parseBootJson(r: Buffer): BootRecord | null {
  try {
    const boot: unknown = JSON.parse(r.toString('utf8'));
    return typeof boot === 'object' && boot !== null && !Array.isArray(boot) ? (boot as BootRecord) : null;
  } catch {
    return null;
  }
}

const NO_SESSION = Buffer.alloc(0);

function pieceOf(h: HeldFrame): ReturnType<typeof parseFragment> {
  if (h.type !== RecordType.BOOT || !(h.flags & FLAG_FRAGMENT)) return null;
  const body = frameBody({ ...h, session: NO_SESSION }); // reads flags and payload only
  return body ? parseFragment(body) : null;
}
