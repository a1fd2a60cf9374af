// Checks a CHECKPOINT against the frames this receiver got (see channel/checkpoint.ts).
//
// A checkpoint whose frames are only missing is not given up at once: a box re-sends
// its recent frames when a USB host comes back (channel/line-resume.ts), so frames lost
// in the host's first moments arrive again after the CHECKPOINT that covers them. Such
// a checkpoint is kept, with the digests of the frames it already has, and verified when
// the last of them arrives; until then it counts as failed.
import { chainHash, CheckpointRecord, verifyCheckpointSignature } from '../channel/checkpoint';
import { SessionState } from './session';

/** Checkpoints kept waiting for late frames, per session; the oldest is given up beyond this. */
export const MAX_WAITING_CHECKPOINTS = 8;
/**
 * Frame digests are kept this many frames behind a checkpoint's range for an earlier
 * checkpoint that has yet to arrive (re-sent): more frames than a replay window holds.
 */
export const DIGEST_HORIZON_FRAMES = 8192;
/** Hashes of verified checkpoints kept for the chain link of later ones. */
const MAX_VERIFIED_HASHES = 64;

export function verifyCheckpoint(s: SessionState, body: Record<string, unknown>, _cpSeq: number): void {
  const cp = body as unknown as CheckpointRecord;
  const from = Number(cp.firstSeq);
  const to = Number(cp.lastSeq);
  const fail = (reason: string): void => {
    s.checkpoints.failed++;
    s.checkpoints.unverifiedRanges.push({ from, to, reason });
    forgetDigests(s, from, to);
  };
  if (!Number.isInteger(from) || !Number.isInteger(to) || to < from || to - from > 1_000_000) return fail('malformed checkpoint');
  if (!s.checkpointKey || !verifyCheckpointSignature(s.checkpointKey, s.sessionBytes, cp)) return fail('bad signature');
  const missing = firstMissing(s, from, to);
  if (missing !== null) {
    s.checkpoints.failed++;
    s.checkpoints.unverifiedRanges.push({ from, to, reason: `frame ${missing} missing` });
    s.waitingCheckpoints.push(cp);
    if (s.waitingCheckpoints.length > MAX_WAITING_CHECKPOINTS) s.waitingCheckpoints.shift();
    return forgetDigests(s, from, to);
  }
  const hash = chainHash(Buffer.from(cp.prev, 'hex'), digestsOf(s, from, to)).toString('hex');
  if (hash !== cp.hash) return fail('hash mismatch');
  if (!linksToPrevious(s, cp, from)) return fail('chain broken');
  verified(s, cp, from, to);
  forgetDigests(s, from, to);
}

/**
 * A frame `seq` arrived after frames beyond it: verifies the waiting checkpoints that
 * now have all their frames (their signatures were checked when they arrived).
 */
export function lateFrame(s: SessionState, seq: number): void {
  for (const cp of [...s.waitingCheckpoints]) {
    const from = Number(cp.firstSeq);
    const to = Number(cp.lastSeq);
    if (seq < from || seq > to || firstMissing(s, from, to) !== null) continue;
    s.waitingCheckpoints.splice(s.waitingCheckpoints.indexOf(cp), 1);
    const u = s.checkpoints.unverifiedRanges.findIndex((r) => r.from === from && r.to === to);
    const hash = chainHash(Buffer.from(cp.prev, 'hex'), digestsOf(s, from, to)).toString('hex');
    const why = hash !== cp.hash ? 'hash mismatch' : !linksToPrevious(s, cp, from) ? 'chain broken' : null;
    if (why === null) {
      s.checkpoints.failed--;
      if (u >= 0) s.checkpoints.unverifiedRanges.splice(u, 1);
      verified(s, cp, from, to);
    } else if (u >= 0) {
      s.checkpoints.unverifiedRanges[u].reason = why;
    }
    forgetDigests(s, from, to);
  }
}

function firstMissing(s: SessionState, from: number, to: number): number | null {
  for (let q = from; q <= to; q++) if (!s.digests.has(q)) return q;
  return null;
}

function digestsOf(s: SessionState, from: number, to: number): Buffer[] {
  const out: Buffer[] = [];
  for (let q = from; q <= to; q++) out.push(s.digests.get(q) as Buffer);
  return out;
}

/** The chain links to the previous checkpoint (ending just before this one's CHECKPOINT frame) if that one was verified. */
function linksToPrevious(s: SessionState, cp: CheckpointRecord, from: number): boolean {
  const prev = s.verifiedHashes.get(from - 2);
  return prev === undefined || prev === cp.prev;
}

function verified(s: SessionState, cp: CheckpointRecord, from: number, to: number): void {
  s.checkpoints.verified++;
  s.verifiedHashes.set(to, cp.hash);
  if (s.verifiedHashes.size > MAX_VERIFIED_HASHES) s.verifiedHashes.delete(s.verifiedHashes.keys().next().value as number);
  addVerifiedRange(s, from, to);
}

/**
 * Drops the digests of frames [from, to] and of those far behind, except what a waiting
 * checkpoint still needs. Digests just before `from` stay: their checkpoint may come
 * again in a replay (verify.ts, top).
 */
function forgetDigests(s: SessionState, from: number, to: number): void {
  const waiting = (k: number): boolean => s.waitingCheckpoints.some((cp) => k >= Number(cp.firstSeq) && k <= Number(cp.lastSeq));
  for (let k = from; k <= to; k++) if (!waiting(k)) s.digests.delete(k);
  // The map is in arrival order, which is sequence order but for late frames.
  for (const k of s.digests.keys()) {
    if (k >= from - DIGEST_HORIZON_FRAMES) break;
    if (!waiting(k)) s.digests.delete(k);
  }
}

/** Ranges stay in order; adjacent ones (separated only by the CHECKPOINT frame itself) merge. */
function addVerifiedRange(s: SessionState, from: number, to: number): void {
  const ranges = s.checkpoints.verifiedRanges;
  let i = ranges.length;
  while (i > 0 && ranges[i - 1][0] > from) i--;
  ranges.splice(i, 0, [from, to]);
  for (let j = Math.max(1, i); j < ranges.length && j <= i + 1; ) {
    if (ranges[j][0] <= ranges[j - 1][1] + 2) {
      ranges[j - 1][1] = Math.max(ranges[j - 1][1], ranges[j][1]);
      ranges.splice(j, 1);
    } else j++;
  }
}
