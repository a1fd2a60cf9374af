import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameSequencer } from '../../firmware/channel/sequencer';
import { MemoryOutbox } from '../../firmware/channel/outbox';
import {
  buildFrame, decodeFrame, frameBody, DecodedFrame, packRecords, unpackRecords, FLAG_FEC, LARGE_BODY_BYTES, MAX_RAW_FRAME_BYTES,
} from '../../firmware/channel/frame';
import { RecordType } from '../../firmware/channel/records';
import { RepairEncoder } from '../../firmware/channel/fec';

const session = Buffer.from('0102030405060708', 'hex');
const signer = { sign: (): Buffer => Buffer.alloc(64, 7) };

function records(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.alloc(40 + ((i * 97) % 900), i & 0xff));
}

/** Every frame the sequencer hands out, kept until the end, then decoded: scratch reuse must not reach them. */
function sendAll(seq: FrameSequencer, recs: Buffer[]): Buffer[] {
  const outbox = new MemoryOutbox(1 << 26);
  for (const r of recs) assert.ok(outbox.push(RecordType.PACKET, r));
  const wires: Buffer[] = [];
  for (let w = seq.next(outbox, false); w !== null; w = seq.next(outbox, false)) wires.push(w);
  return wires;
}

function decodedRecords(wires: Buffer[]): Buffer[] {
  const got: Buffer[] = [];
  for (const block of Buffer.concat(wires).toString('latin1').split('\0').filter((b) => b.length > 0)) {
    const f = decodeFrame(Buffer.from(block, 'latin1'));
    assert.type(f, 'object', 'every frame decodes');
    if (typeof f === 'string' || f.type !== RecordType.PACKET || f.flags & FLAG_FEC) continue;
    got.push(...(unpackRecords(frameBody(f) as Buffer) as Buffer[]));
  }
  return got;
}

test('buildFrame and packRecords into a scratch buffer write what the allocating calls write', () => {
  const recs = records(9);
  const scratch = Buffer.alloc(LARGE_BODY_BYTES, 0xee);
  const body = packRecords(recs, LARGE_BODY_BYTES - 2, scratch);
  assert.ok(body.equals(packRecords(recs, LARGE_BODY_BYTES - 2)));
  assert.is(body.buffer, scratch.buffer, 'the body is a view of the scratch buffer');
  const short = Buffer.alloc(10);
  assert.is.not(packRecords(recs, LARGE_BODY_BYTES - 2, short).buffer, short.buffer, 'a scratch buffer too short is not used');
  const raw = Buffer.alloc(MAX_RAW_FRAME_BYTES, 0xee);
  const f = { flags: 0, type: RecordType.PACKET, session, seq: 41, payload: body };
  assert.ok(buildFrame(f, raw).equals(buildFrame(f)));
});

test('frames from the sequencer stay intact after later frames are built: every record comes back in order', () => {
  for (const bodyBytes of [1024, LARGE_BODY_BYTES]) {
    for (const deflate of [false, true]) {
      const recs = records(500);
      const wires = sendAll(new FrameSequencer(session, signer, 64, null, null, deflate, bodyBytes), recs);
      assert.ok(wires.length > 10, `${wires.length} frames`);
      const got = decodedRecords(wires);
      assert.is(got.length, recs.length, `bodies of ${bodyBytes}, deflate ${deflate}`);
      for (let i = 0; i < recs.length; i++) assert.ok(got[i].equals(recs[i]), `record ${i}`);
    }
  }
});

test('with FEC, the repair frames are computed from the data frames as sent: kept raw frames are not overwritten by later ones', () => {
  const fec = { k: 8, m: 2 };
  const recs = records(300);
  const wires = sendAll(new FrameSequencer(session, signer, 64, null, fec, false, 1024), recs);
  const got = decodedRecords(wires);
  assert.is(got.length, recs.length);
  for (let i = 0; i < recs.length; i++) assert.ok(got[i].equals(recs[i]), `record ${i}`);
  // The same repairs again, from the frames decoded off the wire.
  const frames = Buffer.concat(wires).toString('latin1').split('\0').filter((b) => b.length > 0)
    .map((b) => decodeFrame(Buffer.from(b, 'latin1')) as DecodedFrame);
  const again = new RepairEncoder(fec);
  let expected: Buffer[] = [];
  let repairs = 0;
  for (const f of frames) {
    if (f.flags & FLAG_FEC) {
      assert.ok(expected.length > 0, 'a repair frame follows a complete group');
      assert.ok(f.payload.equals(expected.shift() as Buffer), `repair frame ${f.seq}`);
      repairs++;
      continue;
    }
    assert.is(expected.length, 0, 'repairs follow their group at once');
    expected = again.add(f.seq, f.raw) ?? [];
  }
  assert.ok(repairs >= 2 * fec.m, `${repairs} repair frames checked`);
});

test.run();
