import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RecordType } from '../../firmware/channel/records';
import { buildFrame, decodeFrame, frameToWire, DecodedFrame, FLAG_FRAGMENT } from '../../firmware/channel/frame';
import { makeEnd, makePacket, tmpDir } from '../lib/channel-fixtures';
import { channelOn, decodeBytes, decodeFile, recordLine, sendMix } from '../lib/channel-recording';
import { until } from '../lib/until';
import { splitFrames } from '../lib/channel-sealed';

test('BOOT goes first and END last; END counts every record type as sent', async () => {
  const { file, end } = await recordLine({ rounds: 5, perRound: 30 });
  const { d, got } = decodeFile(file);
  assert.is(got.types[0], RecordType.BOOT);
  assert.is(got.types[got.types.length - 1], RecordType.END);
  const s = [...d.sessions.values()][0];
  assert.equal(got.ends[0].records, s.records);
  assert.is(got.ends[0].records.FLOW, 150);
  assert.is(got.ends[0].records.PACKET, 150);
  assert.is(got.ends[0].records.END, 1);
  assert.is(got.ends[0].captured, end.captured);
  assert.is(got.ends[0].outboxDropped, 0);
});

test('re-sends BOOT every bootEveryMs so a late receiver can sync', async () => {
  const { file } = await recordLine({ rounds: 10, perRound: 2, pauseMs: 25, bootEveryMs: 40 });
  const { d } = decodeFile(file);
  const s = [...d.sessions.values()][0];
  assert.ok(s.records.BOOT >= 4, `BOOT sent ${s.records.BOOT} times in 250 ms`);
});

test('updateBoot: the BOOT sent at once and every repeated one carry the update; the channel\'s own fields still win', async () => {
  const file = path.join(tmpDir('update-boot'), 'line.bin');
  const { ch } = channelOn(file, { bootEveryMs: 20 });
  assert.ok(ch.updateBoot({ linkType: 105, checkpointKey: 'not the channel\'s' }));
  await until('two repeated BOOTs', () => (ch.stats().recordsSent.BOOT ?? 0) >= 4);
  await ch.close(makeEnd(), 1000);
  const { got } = decodeFile(file);
  assert.ok(got.boots.length >= 4, `${got.boots.length} BOOTs`);
  assert.is(got.boots[0].linkType, 1, 'the BOOT at open, before the update');
  for (const b of got.boots.slice(1)) {
    assert.is(b.linkType, 105);
    assert.is(b.checkpointKey, got.boots[0].checkpointKey);
  }
});

test('signs a CHECKPOINT every N frames and the receiver verifies every one', async () => {
  const { file } = await recordLine({ rounds: 20, perRound: 20, over: { checkpointEveryFrames: 8 } });
  const { d } = decodeFile(file);
  const s = [...d.sessions.values()][0];
  assert.ok(s.checkpoints.verified >= 10, `verified ${s.checkpoints.verified}`);
  assert.is(s.checkpoints.failed, 0);
  assert.is(s.checkpoints.verifiedRanges.length, 1, 'one contiguous verified range');
  assert.is(s.checkpoints.verifiedRanges[0][0], 0);
});

test('a frame altered with a valid CRC fails its checkpoint ("hash mismatch")', async () => {
  const { file } = await recordLine({ rounds: 4, perRound: 10, over: { checkpointEveryFrames: 8 } });
  const bytes = fs.readFileSync(file);
  // Rebuild frame 3 with a different body and a correct CRC: only the signed chain can tell.
  const blocks: Buffer[] = [];
  let start = 1;
  for (let i = 1; i < bytes.length; i++) if (bytes[i] === 0) { blocks.push(bytes.subarray(start, i)); start = i + 1; }
  const f = decodeFrame(blocks[3]) as DecodedFrame;
  const payload = Buffer.from(f.payload);
  payload[payload.length - 1] ^= 1;
  blocks[3] = frameToWire(buildFrame({ ...f, payload })).subarray(0, -1);
  const forged = Buffer.concat([Buffer.from([0]), ...blocks.map((b) => Buffer.concat([b, Buffer.from([0])]))]);
  const { d } = decodeBytes(forged);
  const s = [...d.sessions.values()][0];
  assert.is(d.badFrames, 0, 'the forged frame passes its CRC');
  assert.ok(s.checkpoints.failed >= 1);
  assert.ok(s.checkpoints.unverifiedRanges.some((r) => r.reason === 'hash mismatch' && r.from <= 3 && r.to >= 3));
});

test('a tiny outbox drops packets first, keeps logs, and END reports the drops', async () => {
  const dir = tmpDir('tiny');
  const { ch } = channelOn(path.join(dir, 'line.bin'), { outboxBytes: 4096 });
  let refused = 0;
  for (let i = 0; i < 60; i++) {
    if (!ch.send(RecordType.PACKET, makePacket(i, 200))) refused++;
    if (!ch.send(RecordType.LOG, { uptimeMs: i, severity: 6, msg: `log line ${i}` })) refused++;
  }
  const st = ch.stats();
  assert.ok((st.dropped.PACKET ?? 0) > 30, `packets dropped: ${st.dropped.PACKET}`);
  assert.is(st.dropped.LOG, undefined, 'no log dropped while packets could be');
  assert.ok(st.backlogBytes <= 4096 + 2048);
  const r = await ch.close(makeEnd(), 2000);
  assert.ok(r.drained);
  const { got } = decodeFile(path.join(dir, 'line.bin'));
  const end = got.ends[0];
  assert.is(end.outboxDropped, st.dropped.PACKET);
  assert.is(end.records.LOG, 60);
  assert.is(end.records.PACKET + st.dropped.PACKET, 60);
  assert.is(got.logs.length, 60);
  assert.ok(refused > 0 && refused <= st.dropped.PACKET, `refused ${refused}`);
});

test('records sent after close are refused and counted', async () => {
  const dir = tmpDir('closed');
  const { ch } = channelOn(path.join(dir, 'line.bin'));
  const closing = ch.close(makeEnd(), 1000);
  assert.not.ok(ch.send(RecordType.FLOW, { x: 1 }));
  await closing;
  assert.is(ch.stats().dropped.FLOW, 1);
});

test('END and CHECKPOINT cannot be sent by callers', async () => {
  const dir = tmpDir('own');
  const { ch } = channelOn(path.join(dir, 'line.bin'));
  assert.not.ok(ch.send(RecordType.END, makeEnd()));
  assert.not.ok(ch.send(RecordType.CHECKPOINT, {}));
  await ch.close(makeEnd(), 1000);
  const { got } = decodeFile(path.join(dir, 'line.bin'));
  assert.is(got.ends.length, 1);
});

test('fragments a PACKET longer than a frame and the receiver gets it whole', async () => {
  const dir = tmpDir('frag');
  const file = path.join(dir, 'line.bin');
  const { ch } = channelOn(file);
  const big = makePacket(1, 9000);
  ch.send(RecordType.PACKET, big);
  await ch.close(makeEnd(), 1000);
  const { got } = decodeFile(file);
  assert.is(got.packets.length, 1);
  assert.equal(got.packets[0], big);
});

test('a recording file carries 4 KiB frame bodies, a line with FEC 1 KiB ones; both decode whole', async () => {
  const dir = tmpDir('body-size');
  const sent = Array.from({ length: 40 }, (_, i) => makePacket(i, 1400 + i * 70));
  const record = async (file: string, over: Parameters<typeof channelOn>[1]): Promise<DecodedFrame[]> => {
    // The channel's own choice of body size, not the helper's tty-like 1 KiB.
    const { ch } = channelOn(file, { deflate: false, frameBodyBytes: undefined, ...over });
    for (const p of sent) assert.ok(ch.send(RecordType.PACKET, p));
    await ch.close(makeEnd(), 2000);
    assert.equal(decodeFile(file).got.packets, sent, 'every packet whole, in order');
    return splitFrames(fs.readFileSync(file)).map((b) => b.frame).filter((f) => f.type === RecordType.PACKET);
  };
  const large = await record(path.join(dir, 'file.bin'), {});
  const small = await record(path.join(dir, 'fec.bin'), { fec: { k: 4, m: 1 } });
  const longest = (fs: DecodedFrame[]): number => Math.max(...fs.map((f) => f.payload.length));
  // Records of 1416..4146 bytes: on the file only those over 4078 bytes are cut in
  // pieces; with FEC every one is.
  assert.ok(longest(large) > 3000 && longest(large) <= 4080, `file: longest body ${longest(large)}`);
  assert.ok(longest(small) <= 1024, `FEC: longest body ${longest(small)}`);
  const fragmented = (fs: DecodedFrame[]): number => fs.filter((f) => f.flags & FLAG_FRAGMENT && f.payload.readUInt32BE(4) === 0).length;
  assert.is(fragmented(large), sent.filter((p) => p.length > 4078).length);
  assert.is(fragmented(small), sent.length);
  assert.ok(large.length * 2 < small.length, `${large.length} frames on the file, ${small.length} with FEC`);
});

test('stats count frames, bytes and records; backlog returns to zero', async () => {
  const dir = tmpDir('stats');
  const file = path.join(dir, 'line.bin');
  const { ch } = channelOn(file);
  const sent = await sendMix(ch, 3, 10);
  await until(() => `backlog ${ch.stats().backlogBytes} bytes`, () => ch.stats().backlogBytes === 0 && ch.stats().bytesWritten === fs.statSync(file).size);
  const st = ch.stats();
  assert.is(st.backlogBytes, 0);
  assert.is(st.recordsSent.FLOW, sent.FLOW);
  assert.ok(st.framesSent > 3);
  assert.is(st.bytesWritten, fs.statSync(file).size);
  await ch.close(makeEnd(), 1000);
});

test('refuses a session id that is not 8 bytes', () => {
  assert.throws(() => channelOn('/tmp/never', { session: Buffer.alloc(4) }), /8 bytes/);
});

test.run();
