// The box's FEC repair frames: where they go on the line, what BOOT announces, defaults per line kind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RecordType } from '../../firmware/channel/records';
import { frameBody, unpackRecords, FLAG_FEC } from '../../firmware/channel/frame';
import { DEFAULT_TTY_FEC, parseRepairBody } from '../../firmware/channel/fec';
import { makeEnd, openPtyPair, tmpDir } from '../lib/channel-fixtures';
import { channelOn, recordLine, sendMix } from '../lib/channel-recording';
import { splitFrames } from '../lib/channel-sealed';

const bootOf = (bytes: Buffer): Record<string, any> => {
  const f = splitFrames(bytes).find((x) => x.frame.type === RecordType.BOOT)!.frame;
  return JSON.parse(unpackRecords(frameBody(f)!)![0].toString());
};

test('m repair frames follow every k data frames; the last short group follows END', async () => {
  const { file } = await recordLine({ rounds: 4, perRound: 15, over: { fec: { k: 4, m: 2 } } });
  const frames = splitFrames(fs.readFileSync(file)).map((x) => x.frame);
  const endAt = frames.findIndex((f) => f.type === RecordType.END);
  const endSeq = frames[endAt].seq;
  const lastGroup = endSeq - (endSeq % 6);
  for (const f of frames) {
    if (f.seq > endSeq || f.seq >= lastGroup) continue;
    assert.is(f.type === RecordType.FEC, f.seq % 6 >= 4, `frame ${f.seq}`);
    if (f.type === RecordType.FEC) {
      assert.ok(f.flags & FLAG_FEC);
      const r = parseRepairBody(frameBody(f)!)!;
      assert.equal([r.firstSeq, r.n, r.m, r.index], [f.seq - (f.seq % 6), 4, 2, (f.seq % 6) - 4]);
    }
  }
  const tail = frames.slice(endAt + 1);
  assert.is(tail.length, 2, 'END is followed by the repair frames of its group');
  for (const f of tail) {
    const r = parseRepairBody(frameBody(f)!)!;
    assert.is(r.firstSeq, lastGroup);
    assert.is(r.n, endSeq - lastGroup + 1);
  }
});

test('BOOT announces fec {k, m}; END and stats do not count repair frames as records', async () => {
  const dir = tmpDir('fec-boot');
  const file = path.join(dir, 'line');
  const { ch } = channelOn(file, { fec: { k: 5, m: 3 } });
  await sendMix(ch, 2, 10);
  await ch.close(makeEnd(), 2000);
  const bytes = fs.readFileSync(file);
  assert.equal(bootOf(bytes).fec, { k: 5, m: 3 });
  const frames = splitFrames(bytes).map((x) => x.frame);
  const repairs = frames.filter((f) => f.type === RecordType.FEC).length;
  assert.ok(repairs >= 3);
  assert.is(ch.stats().repairFramesSent, repairs);
  assert.is(ch.stats().framesSent, frames.length);
  const end = JSON.parse(unpackRecords(frameBody(frames.find((f) => f.type === RecordType.END)!)!)![0].toString());
  assert.is(end.records.FEC, undefined);
});

test('a recording file has no repair frames unless asked', async () => {
  const { file } = await recordLine({ rounds: 2, perRound: 10 });
  const bytes = fs.readFileSync(file);
  assert.is(bootOf(bytes).fec, null);
  assert.not.ok(splitFrames(bytes).some((x) => x.frame.type === RecordType.FEC));
});

test('a tty gets repair frames by default, and none with fec: false', async () => {
  for (const fec of [undefined, false] as const) {
    const pty = await openPtyPair();
    try {
      const { ch } = channelOn(pty.box, { baud: 921600, fec });
      await sendMix(ch, 2, 10);
      await ch.close(makeEnd(), 5000);
      assert.is(ch.stats().repairFramesSent > 0, fec === undefined, `fec ${fec}`);
      if (fec === undefined) assert.ok(ch.stats().repairFramesSent % DEFAULT_TTY_FEC.m === 0);
    } finally {
      await pty.close();
    }
  }
});

test('refuses fec parameters out of range, naming them', () => {
  const file = path.join(tmpDir('fec-bad'), 'line');
  assert.throws(() => channelOn(file, { fec: { k: 0, m: 2 } }), /channel\.fec\.k must be a whole number from 1 to 128/);
  assert.throws(() => channelOn(file, { fec: { k: 16, m: 17 } }), /channel\.fec\.m must be a whole number from 1 to 16/);
  assert.throws(() => channelOn(file, { fec: { k: 2.5, m: 1 } }), /channel\.fec\.k/);
});

test.run();
