// Frames that arrive again after the CHECKPOINT that covers them: a USB host that comes
// back loses the start of the box's backlog in its cooked tty, and the box re-sends its
// recent frames once the line is read again (channel/line-resume.ts). The receiver
// must end with every frame, every checkpoint verified, and nothing counted twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { decodeBytes, recordLine } from '../lib/channel-recording';

const DELIMITER = Buffer.from([0]);

/** The recording's frames, each with its trailing delimiter (a line starts with one too). */
function framesOf(line: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    if (line[i] !== 0) continue;
    if (i > start) out.push(line.subarray(start, i + 1));
    start = i + 1;
  }
  return out;
}

async function frames(): Promise<Buffer[]> {
  const { file } = await recordLine({ rounds: 40, perRound: 12, pauseMs: 2, over: { checkpointEveryFrames: 8 } });
  const f = framesOf(fs.readFileSync(file));
  assert.ok(f.length > 80, `${f.length} frames recorded`);
  return f;
}

test('frames lost and written again after their checkpoint: every checkpoint verified, duplicates dropped', async () => {
  const f = await frames();
  const whole = decodeBytes(Buffer.concat([DELIMITER, ...f]));
  const want = [...whole.d.sessions.values()][0];
  // Frames 20-39 lost; 40-59 arrive; then the window again from 10 (a delimiter first).
  const line = Buffer.concat([DELIMITER, ...f.slice(0, 20), ...f.slice(40, 60), DELIMITER, ...f.slice(10)]);
  const { d, got } = decodeBytes(line);
  const s = [...d.sessions.values()][0];
  assert.is(s.seq.missing, 0, 'no frame missing');
  assert.is(s.seq.duplicates, 10 + 20, 'frames 10-19 and 40-59 dropped as duplicates');
  assert.is(s.checkpoints.failed, 0, `no checkpoint failed: ${JSON.stringify(s.checkpoints.unverifiedRanges)}`);
  assert.is(s.checkpoints.verified, want.checkpoints.verified);
  assert.equal(s.checkpoints.verifiedRanges, want.checkpoints.verifiedRanges);
  assert.equal(s.records, want.records);
  assert.is(got.ends.length, 1);
});

test('frames that never come again leave their checkpoint failed, and the rest verified', async () => {
  const f = await frames();
  const line = Buffer.concat([DELIMITER, ...f.slice(0, 20), ...f.slice(40, 60), DELIMITER, ...f.slice(30)]);
  const { d } = decodeBytes(line);
  const s = [...d.sessions.values()][0];
  assert.is(s.seq.missing, 10, 'frames 20-29 missing');
  assert.ok(s.checkpoints.failed >= 1, 'the checkpoint over 20-29 failed');
  assert.ok(s.checkpoints.unverifiedRanges.every((r) => r.from <= 29 && r.to >= 20), JSON.stringify(s.checkpoints.unverifiedRanges));
  for (const [a, b] of s.checkpoints.verifiedRanges) assert.ok(b < 20 || a > 29, `verified range [${a}, ${b}] holds no missing frame`);
  assert.ok(s.checkpoints.verified > 3, 'the others verified');
});

test.run();
