// Builds segment bodies and headers for spool tests.
import { appendRecord, sealedSize, sealSegment, SegmentAead, SegmentHeaderInit } from '../../firmware/spool/segment';
import { SecretKey } from '../../firmware/keys/keyring';

export const TEST_RUN_ID = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');

/** A body of `count` records; each packet's bytes contain `marker` followed by filler. */
export function makeBody(count: number, marker: Buffer = Buffer.from('PLAINTEXT-MARKER'), size = 60): Buffer {
  const body = Buffer.alloc(count * (16 + size));
  let off = 0;
  for (let i = 0; i < count; i++) {
    const pkt = Buffer.alloc(size, i & 0xff);
    marker.copy(pkt, 0);
    off = appendRecord(body, off, 1_700_000_000 + i, i * 1000, pkt, size + 4);
  }
  return body.subarray(0, off);
}

export function makeHeader(seq: number, packetCount: number): SegmentHeaderInit {
  return {
    linkType: 1,
    runId: TEST_RUN_ID,
    seq,
    firstTsSec: 1_700_000_000,
    firstTsUsec: 0,
    lastTsSec: 1_700_000_000 + Math.max(0, packetCount - 1),
    lastTsUsec: Math.max(0, packetCount - 1) * 1000,
    packetCount,
  };
}

/** Seals a segment of `count` records with sequence `seq` and returns exactly its bytes. */
export function sealTestSegment(key: SecretKey, seq: number, count = 5, marker?: Buffer, aead: SegmentAead = SegmentAead.xchacha20poly1305): Buffer {
  const body = makeBody(count, marker);
  const out = Buffer.alloc(sealedSize(body.length));
  const n = sealSegment(key, { ...makeHeader(seq, count), aead }, body, out);
  return out.subarray(0, n);
}
