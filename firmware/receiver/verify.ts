// Checks a CHECKPOINT against the frames this receiver got (see channel/checkpoint.ts).
import { chainHash, CheckpointRecord, verifyCheckpointSignature } from '../channel/checkpoint';
import { SessionState } from './session';

export function verifyCheckpoint(s: SessionState, body: Record<string, unknown>, _cpSeq: number): void {
  const cp = body as unknown as CheckpointRecord;
  const from = Number(cp.firstSeq);
  const to = Number(cp.lastSeq);
  const fail = (reason: string): void => {
    s.checkpoints.failed++;
    s.checkpoints.unverifiedRanges.push({ from, to, reason });
    for (const k of [...s.digests.keys()]) if (k <= to) s.digests.delete(k);
  };
  if (!Number.isInteger(from) || !Number.isInteger(to) || to < from || to - from > 1_000_000) return fail('malformed checkpoint');
  if (!s.checkpointKey || !verifyCheckpointSignature(s.checkpointKey, s.sessionBytes, cp)) return fail('bad signature');
  const digests: Buffer[] = [];
  for (let q = from; q <= to; q++) {
    const d = s.digests.get(q);
    if (!d) return fail(`frame ${q} missing`);
    digests.push(d);
  }
  const hash = chainHash(Buffer.from(cp.prev, 'hex'), digests).toString('hex');
  if (hash !== cp.hash) return fail('hash mismatch');
  // The chain links to the previous checkpoint only if we verified that one too.
  if (s.lastVerifiedHash !== null && s.checkpoints.verifiedRanges.length > 0) {
    const lastRange = s.checkpoints.verifiedRanges[s.checkpoints.verifiedRanges.length - 1];
    if (lastRange[1] + 2 === from && s.lastVerifiedHash !== cp.prev) return fail('chain broken');
  }
  s.lastVerifiedHash = cp.hash;
  s.checkpoints.verified++;
  const ranges = s.checkpoints.verifiedRanges;
  const last = ranges[ranges.length - 1];
  // Adjacent ranges are separated only by the CHECKPOINT frame itself: merge them.
  if (last && from <= last[1] + 2) last[1] = to;
  else ranges.push([from, to]);
  for (const k of [...s.digests.keys()]) if (k <= to) s.digests.delete(k);
}
