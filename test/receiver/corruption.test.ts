// Damaged recordings of the line: every undamaged frame is recovered, the missing
// ones are reported exactly, duplicates are not counted twice, nothing crashes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { decodeBytes, recordLine } from '../lib/channel-recording';
import { DamagedLine } from '../lib/line-damage';
import { SessionState } from '../../firmware/receiver/session';

let original: Buffer;

async function recording(): Promise<Buffer> {
  if (!original) {
    // Many rounds with pauses so BOOT repeats often: a receiver can sync after any damage.
    // Checkpoints every 8 frames: short enough that some ranges survive every damage plan below.
    const { file } = await recordLine({ rounds: 40, perRound: 12, pauseMs: 4, bootEveryMs: 15, over: { checkpointEveryFrames: 8 } });
    original = fs.readFileSync(file);
  }
  return original;
}

function receivedSeqs(s: SessionState): Set<number> {
  const out = new Set<number>();
  for (let q = s.seq.first; q <= s.seq.last(); q++) if (!s.seq.isMissing(q)) out.add(q);
  return out;
}

function check(line: DamagedLine, label: string): { missing: number; duplicates: number } {
  const exp = line.expected();
  const { d } = decodeBytes(line.bytes(), 777);
  const sessions = [...d.sessions.values()].filter((s) => s.opened());
  assert.is(sessions.length, 1, `${label}: one session`);
  const s = sessions[0];
  const got = receivedSeqs(s);
  const missingExpected = Math.max(...exp.seqs) - Math.min(...exp.seqs) + 1 - exp.seqs.size;
  assert.equal([...got].sort((a, b) => a - b), [...exp.seqs].sort((a, b) => a - b), `${label}: exactly the undamaged frames`);
  assert.is(s.seq.missing, missingExpected, `${label}: missing frames reported exactly`);
  assert.is(s.seq.duplicates, exp.occurrences - exp.seqs.size, `${label}: duplicates`);
  assert.is(s.records.FLOW ?? 0, exp.records.FLOW ?? 0, `${label}: FLOW records of the surviving frames`);
  assert.is(s.records.DNS ?? 0, exp.records.DNS ?? 0, `${label}: DNS records`);
  // A checkpoint is only verified over frames that all arrived intact (merged ranges
  // include the CHECKPOINT frames between them, which arrived too).
  for (const [a, b] of s.checkpoints.verifiedRanges) {
    for (let q = a; q <= b; q++) assert.ok(got.has(q), `${label}: verified range holds frame ${q}`);
  }
  assert.ok(s.checkpoints.verified > 0, `${label}: some checkpoints verified`);
  return { missing: s.seq.missing, duplicates: s.seq.duplicates };
}

test('an undamaged recording decodes with nothing missing', async () => {
  const line = new DamagedLine(await recording(), 1);
  const { d } = decodeBytes(line.bytes());
  const s = [...d.sessions.values()][0];
  assert.is(d.badFrames, 0);
  assert.is(s.seq.missing, 0);
  assert.is(s.frames, line.expected().seqs.size);
});

test('random byte flips: every undamaged frame recovered, the rest reported missing', async () => {
  for (const seed of [11, 12, 13]) assert.ok(check(new DamagedLine(await recording(), seed).flip(40), `flips seed ${seed}`).missing > 0, 'the flips hit frames');
});

test('dropped spans: missing frames reported exactly', async () => {
  for (const seed of [21, 22, 23]) assert.ok(check(new DamagedLine(await recording(), seed).drop(8, 3000), `drops seed ${seed}`).missing > 0, 'the drops hit frames');
});

test('duplicated spans: duplicates ignored, not counted twice', async () => {
  for (const seed of [31, 32, 33]) assert.ok(check(new DamagedLine(await recording(), seed).duplicate(6, 5000), `dups seed ${seed}`).duplicates > 0, 'frames were duplicated');
});

test('garbage between frames: no frame lost', async () => {
  const line = new DamagedLine(await recording(), 41).garbage(30, 200, true);
  check(line, 'garbage between frames');
  const { d } = decodeBytes(line.bytes());
  const s = [...d.sessions.values()][0];
  assert.is(s.seq.missing, 0, 'garbage between frames loses nothing');
  assert.ok(d.totalBadFrames() > 0, 'the garbage is counted as bad frames');
});

test('everything at once, several seeds: no crash, exact accounting', async () => {
  for (const seed of [51, 52, 53, 54, 55]) {
    check(new DamagedLine(await recording(), seed).garbage(10, 100, false).flip(20).drop(4, 2000).duplicate(3, 3000).garbage(10, 300, true), `mixed seed ${seed}`);
  }
});

test('pure noise and long runs of zeros decode to nothing, without a crash', () => {
  const noise = Buffer.alloc(200_000);
  let x = 7;
  for (let i = 0; i < noise.length; i++) { x = (x * 1103515245 + 12345) >>> 0; noise[i] = x >>> 24; }
  const { d } = decodeBytes(Buffer.concat([noise, Buffer.alloc(5000), Buffer.alloc(20_000, 0x41), Buffer.from([0])]));
  assert.is(d.sessions.size, 0);
  assert.ok(d.totalBadFrames() > 100);
});

test.run();
