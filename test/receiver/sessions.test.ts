// Late attach and reboots: the receiver syncs at a BOOT and keeps sessions apart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { receive } from '../../firmware/receiver/receive';
import { decodeBytes, recordLine } from '../lib/channel-recording';
import { makeEnd, tmpDir } from '../lib/channel-fixtures';

test('late attach: joining mid-frame, the receiver syncs at the next BOOT and misses nothing after', async () => {
  const { file } = await recordLine({ rounds: 30, perRound: 10, pauseMs: 5, bootEveryMs: 40 });
  const bytes = fs.readFileSync(file);
  const cut = Math.floor(bytes.length / 2) + 3;
  const { d, got } = decodeBytes(bytes.subarray(cut));
  const s = [...d.sessions.values()][0];
  assert.ok(s.opened(), 'synced at a BOOT');
  assert.ok(s.seq.first > 0, `started at frame ${s.seq.first}`);
  assert.is(s.seq.missing, 0);
  assert.is(d.badFrames, 0, 'the partial first frame is skipped, not counted bad');
  assert.ok(d.skippedBytes() > 0);
  assert.is(got.ends.length, 1);
  assert.is(s.closedBy, 'end');
});

test('late attach: frames before the first BOOT seen are held and delivered once it arrives', async () => {
  const { file } = await recordLine({ rounds: 30, perRound: 10, pauseMs: 5, bootEveryMs: 60 });
  const bytes = fs.readFileSync(file);
  const { d } = decodeBytes(bytes.subarray(Math.floor(bytes.length / 3)));
  const s = [...d.sessions.values()][0];
  // Held frames come before the BOOT: the first frame received is not a BOOT frame.
  assert.ok(s.frames > 0);
  assert.is(s.frames, s.seq.last() - s.seq.first + 1);
  assert.is(s.lostBeforeBoot, 0);
});

test('a recording with no BOOT at all yields no session and reports the frames it could not place', () => {
  // Just the end of a line: no BOOT follows.
  return recordLine({ rounds: 2, perRound: 5, bootEveryMs: 100000 }).then(({ file }) => {
    const bytes = fs.readFileSync(file);
    const { d } = decodeBytes(bytes.subarray(200));
    const s = [...d.sessions.values()][0];
    assert.not.ok(s.opened());
    assert.ok(s.lostBeforeBoot > 0);
  });
});

test('reboot mid-stream: the old session is closed with a gap report, the new one is complete', async () => {
  const first = await recordLine({ rounds: 10, perRound: 10 });
  const second = await recordLine({ rounds: 5, perRound: 10, end: makeEnd(777) });
  const a = fs.readFileSync(first.file);
  // The box lost power here, inside a frame: no END. (Where a delimiter stands on either
  // side of the cut, no frame is cut, and the recording's random bytes put one there
  // now and then.)
  let cutAt = Math.floor(a.length * 0.6);
  while (a[cutAt - 1] === 0 || a[cutAt] === 0) cutAt++;
  const dir = tmpDir('reboot');
  const line = path.join(dir, 'line.bin');
  fs.writeFileSync(line, Buffer.concat([a.subarray(0, cutAt), fs.readFileSync(second.file)]));
  const out = path.join(dir, 'out');
  const summary = await receive({ input: line, out });
  assert.is(summary.sessions.length, 2);
  const [s1, s2] = summary.sessions;
  assert.is(s1.session, first.session.toString('hex'));
  assert.is(s1.closedBy, 'new session');
  assert.is(s1.end, null);
  assert.is(s2.closedBy, 'end');
  assert.is(s2.missingFrames, 0);
  assert.is(summary.captured, 777, 'box counters come from the last END');
  assert.is(summary.complete, true);
  assert.is(summary.badFrames, 1, 'the frame cut by the power loss');
  const log = fs.readFileSync(path.join(out, 'log.txt'), 'utf8');
  assert.match(log, new RegExp(`session ${s1.session} closed by new session without END: last frame ${s1.lastSeq}`));
});

test('a recording cut before END: the session is closed by end of input and reported incomplete', async () => {
  const { file } = await recordLine({ rounds: 5, perRound: 10 });
  const bytes = fs.readFileSync(file);
  const dir = tmpDir('cut');
  fs.writeFileSync(path.join(dir, 'line.bin'), bytes.subarray(0, bytes.length - 300));
  const summary = await receive({ input: path.join(dir, 'line.bin'), out: path.join(dir, 'out') });
  assert.is(summary.complete, false);
  assert.is(summary.captured, null);
  assert.is(summary.sessions[0].closedBy, 'end of input');
});

test.run();
