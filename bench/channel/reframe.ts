// The framing's own overhead, with nothing gained from encoding: the same flows as JSON
// bodies (what the payload counts), batched by the real outbox, packed, framed and
// COBS-encoded by the real frame.ts, neither the compact form (result-codec.ts) nor
// deflate applied. Payload bytes over these line bytes is the efficiency of the frame
// format itself, the figure the 0.95 target is about.
import { MemoryOutbox } from '../../firmware/channel/outbox';
import { buildFrame, frameToWire, packRecords, TARGET_BODY_BYTES } from '../../firmware/channel/frame';
import { RecordType } from '../../firmware/channel/records';
import { FlowPool } from './feed';

export function flowLineBytesWithoutDeflate(pool: FlowPool, count: number): { frames: number; bytes: number } {
  const outbox = new MemoryOutbox(Number.MAX_SAFE_INTEGER);
  const n = pool.json.length;
  for (let k = 0; k < count; k++) outbox.push(RecordType.FLOW, Buffer.from(pool.json[k % n]));
  const session = Buffer.alloc(8, 0x5a);
  let frames = 0;
  let bytes = 0;
  while (outbox.nextType() === RecordType.FLOW) {
    const body = packRecords(outbox.takeBatch(RecordType.FLOW, TARGET_BODY_BYTES));
    bytes += frameToWire(buildFrame({ flags: 0, type: RecordType.FLOW, session, seq: frames, payload: body })).length;
    frames++;
  }
  return { frames, bytes };
}
