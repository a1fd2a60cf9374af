// FEC on real recordings of the line: frames lost or damaged within what the repair
// frames cover are rebuilt and every record arrives in order; beyond that the loss is
// reported exactly; a receiver that ignores repair frames still decodes the rest.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RecordType } from '../../firmware/channel/records';
import { buildFrame, compressBody, DecodedFrame, frameBody, unpackRecords, FLAG_FEC, FLAG_FRAGMENT } from '../../firmware/channel/frame';
import { buildRepairBody } from '../../firmware/channel/fec';
import { SessionState } from '../../firmware/receiver/session';
import { missingDataFrames } from '../../firmware/receiver/summary';
import { receive } from '../../firmware/receiver/receive';
import { makeEnd, makePacket, tmpDir } from '../lib/channel-fixtures';
import { channelOn, recordLine } from '../lib/channel-recording';
import { decodeWith, researcherKey, rewriteFrames, splitFrames } from '../lib/channel-sealed';
import { runBox, sampleTrace, tempDir } from '../lib/run-box';
import { DamagedLine } from '../lib/line-damage';

const K = 8;
const M = 2;
const SPAN = K + M;

let cached: Buffer | null = null;
async function fecRecording(): Promise<Buffer> {
  if (!cached) {
    const { file } = await recordLine({ rounds: 24, perRound: 20, over: { fec: { k: K, m: M }, checkpointEveryFrames: 16 } });
    cached = fs.readFileSync(file);
  }
  return cached;
}

const only = (d: ReturnType<typeof decodeWith>['d']): SessionState => {
  const all = [...d.sessions.values()].filter((s) => s.opened());
  assert.is(all.length, 1);
  return all[0];
};

const isData = (seq: number): boolean => seq % SPAN < K;

/** Damage plan: at most `perGroup` data frames per group, starting with the interesting ones. */
function plan(frames: DecodedFrame[], perGroup: number, firstPicks: number[], every: number): Map<number, 'drop' | 'corrupt'> {
  const out = new Map<number, 'drop' | 'corrupt'>();
  const used = new Map<number, number>();
  // Data frames only (the short last group's repair frames sit at data positions).
  const data = new Set(frames.filter((f) => f.type !== RecordType.FEC).map((f) => f.seq));
  const take = (seq: number): void => {
    const g = seq - (seq % SPAN);
    if (seq <= 0 || !data.has(seq) || !isData(seq) || out.has(seq) || (used.get(g) ?? 0) >= perGroup) return;
    used.set(g, (used.get(g) ?? 0) + 1);
    out.set(seq, out.size % 2 === 0 ? 'drop' : 'corrupt');
  };
  for (const s of firstPicks) take(s);
  const last = frames[frames.length - 1].seq;
  for (let g = SPAN; g < last; g += every) {
    take(g + 1);
    take(g + 6);
  }
  return out;
}

function damage(bytes: Buffer, picks: Map<number, 'drop' | 'corrupt'>): Buffer {
  return rewriteFrames(bytes, (f) => picks.get(f.seq) ?? null);
}

test('up to m frames dropped or corrupted in many groups: nothing missing, every record arrives in order', async () => {
  const bytes = await fecRecording();
  const frames = splitFrames(bytes).map((x) => x.frame);
  const firstFragment = frames.find((f) => f.flags & FLAG_FRAGMENT && isData(f.seq))!.seq;
  const endSeq = frames.find((f) => f.type === RecordType.END)!.seq;
  // A group takes at most M damaged frames, and the fragment takes two: the CHECKPOINT
  // must sit in another group (where frames fall depends on how the writer batched).
  const group = (seq: number): number => seq - (seq % SPAN);
  const firstCheckpoint = frames.find((f) => f.type === RecordType.CHECKPOINT && isData(f.seq) && group(f.seq) !== group(firstFragment) && group(f.seq) !== group(endSeq))!.seq;
  const picks = plan(frames, M, [firstFragment, firstFragment + 1, firstCheckpoint, endSeq], 2 * SPAN);
  assert.ok(picks.has(firstFragment) && picks.has(firstCheckpoint) && picks.has(endSeq), 'a fragment, a CHECKPOINT and END are among the damaged');
  assert.ok(picks.size >= 12, `${picks.size} frames damaged`);

  const want = decodeWith(bytes, {});
  const got = decodeWith(damage(bytes, picks), {});
  const s = only(got.d);
  assert.is(got.d.badFrames, [...picks.values()].filter((v) => v === 'corrupt').length, 'the corrupted frames fail their CRC');
  assert.is(s.repairedFrames, picks.size);
  assert.is(missingDataFrames(s), 0);
  assert.is(s.fec!.unrepairableGroups, 0);
  assert.is(got.got.flows, want.got.flows);
  assert.is(got.got.dns, want.got.dns);
  assert.equal(got.got.packets, want.got.packets, 'every packet, fragmented ones included, in order');
  assert.equal(got.got.logs, want.got.logs, 'log lines in order');
  assert.equal(got.got.ends, want.got.ends);
  assert.equal(s.records, s.end!.records, 'records equal END');
  assert.is(s.checkpoints.failed, 0, 'rebuilt frames verify against the signed checkpoints');
  assert.ok(s.checkpoints.verified > 3);
});

test('a lost data frame and a lost repair frame in the same group: rebuilt; the lost repair frame is not missing data', async () => {
  const bytes = await fecRecording();
  const picks = new Map<number, 'drop' | 'corrupt'>();
  for (const g of [SPAN, 4 * SPAN, 7 * SPAN]) {
    picks.set(g + 3, 'drop');
    picks.set(g + K + 1, 'corrupt');
  }
  const got = decodeWith(damage(bytes, picks), {});
  const want = decodeWith(bytes, {});
  const s = only(got.d);
  assert.is(s.repairedFrames, 3);
  assert.is(s.fec!.missingRepairFrames, 3);
  assert.is(s.seq.missing, 3, 'the sequence gaps are the three repair frames');
  assert.is(missingDataFrames(s), 0);
  assert.is(got.got.flows, want.got.flows);
  assert.equal(got.got.packets, want.got.packets);
});

test('m+1 lost frames in one group: reported missing and unrepairable, everything else arrives, no crash', async () => {
  const bytes = await fecRecording();
  const frames = splitFrames(bytes).map((x) => x.frame);
  // Three data frames of one group that are whole FLOW/DNS/LOG batches, so exactly their
  // records are lost. Which frames those are depends on how the run batched its records:
  // any three in a row within a group's data frames will do.
  const plain = (f: DecodedFrame | undefined): boolean => !!f && !(f.flags & FLAG_FRAGMENT) && [RecordType.FLOW, RecordType.DNS, RecordType.LOG].includes(f.type as 4);
  const bySeq = new Map(frames.map((f) => [f.seq, f]));
  const lastSeq = Math.max(...bySeq.keys());
  let g = SPAN;
  // g + 2 stays among the group's K data frames: past that, the next group's first.
  const nextStart = (q: number): number => (q % SPAN + 3 < K ? q + 1 : q - (q % SPAN) + SPAN);
  while (g <= lastSeq && !(plain(bySeq.get(g)) && plain(bySeq.get(g + 1)) && plain(bySeq.get(g + 2)))) g = nextStart(g);
  assert.ok(g <= lastSeq, `no group of this recording has three whole FLOW/DNS/LOG frames in a row (${lastSeq + 1} frames)`);
  const lost = [g, g + 1, g + 2];
  const lostRecords = { FLOW: 0, DNS: 0, LOG: 0 } as Record<string, number>;
  for (const q of lost) {
    const f = bySeq.get(q)!;
    lostRecords[f.type === RecordType.FLOW ? 'FLOW' : f.type === RecordType.DNS ? 'DNS' : 'LOG'] += unpackRecords(frameBody(f)!)!.length;
  }
  const got = decodeWith(damage(bytes, new Map(lost.map((q) => [q, 'drop']))), {});
  const want = decodeWith(bytes, {});
  const s = only(got.d);
  assert.is(s.fec!.unrepairableGroups, 1);
  assert.is(s.repairedFrames, 0);
  assert.is(missingDataFrames(s), 3);
  assert.equal(s.seq.holes, [[g, g + 2]]);
  assert.is(got.got.flows, want.got.flows - lostRecords.FLOW);
  assert.is(got.got.dns, want.got.dns - lostRecords.DNS);
  assert.is(got.got.logs.length, want.got.logs.length - lostRecords.LOG);
  assert.equal(got.got.packets, want.got.packets);
  assert.is(got.got.ends.length, 1);
  assert.ok(s.checkpoints.unverifiedRanges.some((r) => r.from <= g && r.to >= g), 'the checkpoint over the lost frames is not verified');
});

test('whole groups lost in a row are counted, and the line after them decodes', async () => {
  const bytes = await fecRecording();
  const from = 3 * SPAN;
  const to = 8 * SPAN - 1;
  const got = decodeWith(rewriteFrames(bytes, (f) => (f.seq >= from && f.seq <= to ? 'drop' : null)), {});
  const s = only(got.d);
  assert.is(s.fec!.unrepairableGroups, 5);
  assert.is(s.fec!.missingRepairFrames, 5 * M);
  assert.is(missingDataFrames(s), 5 * K);
  assert.is(got.got.ends.length, 1);
});

test('a receiver that ignores repair frames decodes everything else, fragments across repair frames included', async () => {
  const dir = tmpDir('fec-ignore');
  const file = path.join(dir, 'line');
  const { ch } = channelOn(file, { fec: { k: 4, m: 2 } });
  const big: Buffer[] = [];
  for (let i = 0; i < 12; i++) {
    big.push(makePacket(i, 4000 + i * 10));
    ch.send(RecordType.PACKET, big[i]);
  }
  await ch.close(makeEnd(), 2000);
  const bytes = fs.readFileSync(file);
  const frames = splitFrames(bytes).map((x) => x.frame);
  const crossing = frames.some((f, i) => f.type === RecordType.FEC && frames[i - 1]?.type === RecordType.PACKET && frames[i - 1].flags & FLAG_FRAGMENT
    && frames[i + 2]?.flags & FLAG_FRAGMENT && frameBody(frames[i + 2])!.readUInt32BE(4) > 0);
  assert.ok(crossing, 'some repair frames sit between two pieces of one packet');
  const plainRx = decodeWith(bytes, { ignoreFec: true });
  const s = only(plainRx.d);
  assert.is(s.fec, null);
  assert.ok(s.repairFrames > 0);
  assert.equal(plainRx.got.packets, big);
  assert.is(s.lostFragmentedRecords, 0);
  assert.is(plainRx.got.ends.length, 1);
  assert.equal(s.records, s.end!.records);
});

test('a receiver that ignores repair frames still decodes every undamaged frame of a damaged line', async () => {
  const bytes = await fecRecording();
  const picks = new Map<number, 'drop' | 'corrupt'>([[SPAN + 2, 'drop'], [5 * SPAN + 4, 'corrupt']]);
  const got = decodeWith(damage(bytes, picks), { ignoreFec: true });
  const s = only(got.d);
  assert.is(s.repairedFrames, 0);
  assert.is(s.seq.missing, 2);
  assert.is(got.got.ends.length, 1);
});

test('with encryption: repair frames cover ciphertext; a frame that fails authentication is rebuilt', async () => {
  const key = researcherKey();
  const { file } = await recordLine({ rounds: 12, perRound: 20, over: { fec: { k: K, m: M }, recipient: key.publicKey } });
  const bytes = fs.readFileSync(file);
  let forged = -1;
  const damaged = rewriteFrames(bytes, (f) => {
    if (f.seq === SPAN + 1 || f.seq === 3 * SPAN + 5) return 'drop';
    if (forged < 0 && f.seq > 4 * SPAN && isData(f.seq) && (f.type === RecordType.FLOW || f.type === RecordType.PACKET)) {
      forged = f.seq;
      const payload = Buffer.from(f.payload);
      payload[5] ^= 1;
      return buildFrame({ ...f, payload }); // valid CRC, fails the AEAD tag
    }
    return null;
  });
  const want = decodeWith(bytes, { resultsKey: key });
  const got = decodeWith(damaged, { resultsKey: key });
  const s = only(got.d);
  assert.ok(forged > 0, 'a result frame was forged');
  assert.is(got.d.badFrameReasons.auth, 1);
  assert.is(s.repairedFrames, 3);
  assert.is(missingDataFrames(s), 0);
  assert.is(got.got.flows, want.got.flows);
  assert.equal(got.got.packets, want.got.packets);
  assert.is(s.checkpoints.failed, 0);
});

test('a repair frame that does not fit the group geometry is counted and ignored, never a crash', async () => {
  const bytes = await fecRecording();
  const damaged = rewriteFrames(bytes, (f) => {
    if (f.seq !== 2 * SPAN + K) return null;
    const { payload, flags } = compressBody(buildRepairBody(7, K, M, 0, Buffer.alloc(300, 0x41)));
    return buildFrame({ ...f, flags: flags | FLAG_FEC, payload });
  });
  const got = decodeWith(damaged, {});
  const want = decodeWith(bytes, {});
  const s = only(got.d);
  assert.is(s.fec!.badRepairFrames, 1);
  assert.is(got.got.flows, want.got.flows);
  assert.is(missingDataFrames(s), 0);
});

test('summary.json reports repaired frames and unrepairable groups', async () => {
  const bytes = await fecRecording();
  const dir = tmpDir('fec-summary');
  const input = path.join(dir, 'damaged.raw');
  const picks = new Map<number, 'drop' | 'corrupt'>([[SPAN + 1, 'drop'], [SPAN + 2, 'corrupt'], [3 * SPAN + 4, 'drop']]);
  for (let q = 6 * SPAN; q < 6 * SPAN + 3; q++) picks.set(q, 'drop');
  fs.writeFileSync(input, damage(bytes, picks));
  const summary = await receive({ input, out: path.join(dir, 'out'), print: () => undefined });
  assert.is(summary.channel.repairedFrames, 3);
  assert.is(summary.channel.unrepairableGroups, 1);
  assert.is(summary.missingFrames, 3);
  assert.ok(summary.channel.repairFrames > 0);
  assert.equal(summary.sessions[0].fec, { k: K, m: M });
  const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'summary.json'), 'utf8'));
  assert.is(onDisk.channel.repairedFrames, 3);
  assert.is(onDisk.channel.unrepairableGroups, 1);
});

test('a frame with a forged far sequence number (valid CRC) does not stall the receiver', async () => {
  const bytes = await fecRecording();
  const forgedAt = 4 * SPAN + 2;
  const damaged = rewriteFrames(bytes, (f) => (f.seq === forgedAt ? buildFrame({ ...f, seq: 0xffffff00 }) : null));
  const started = Date.now();
  const got = decodeWith(damaged, {});
  assert.ok(Date.now() - started < 5000, 'decoded in time');
  const want = decodeWith(bytes, {});
  const s = only(got.d);
  assert.ok(s.fec!.unrepairableGroups > 1000, 'the forged gap is counted in one step');
  assert.is(got.got.flows, want.got.flows, 'every record still arrives');
  assert.is(got.got.ends.length, 1);
});

test('random damage with FEC on: no crash; received = undamaged frames + rebuilt ones, all exactly as sent', async () => {
  // BOOT often, so the receiver syncs whatever is hit.
  const { file } = await recordLine({ rounds: 30, perRound: 12, pauseMs: 4, bootEveryMs: 15, over: { fec: { k: K, m: M }, checkpointEveryFrames: 16 } });
  const bytes = fs.readFileSync(file);
  let repairedAll = 0;
  for (const seed of [61, 62, 63, 64, 65]) {
    const line = new DamagedLine(bytes, seed).garbage(5, 100, false).flip(12).drop(3, 600).duplicate(2, 2000).garbage(5, 200, true);
    const exp = line.expected();
    const { d } = decodeWith(line.bytes(), {}, 777);
    const s = only(d);
    const got = new Set<number>();
    for (let q = s.seq.first; q <= s.seq.last(); q++) if (!s.seq.isMissing(q)) got.add(q);
    for (const q of exp.seqs) assert.ok(got.has(q), `seed ${seed}: undamaged frame ${q} received`);
    assert.is(got.size, exp.seqs.size + s.repairedFrames, `seed ${seed}: the rest were rebuilt`);
    assert.is(s.badRebuilds, 0);
    assert.not.ok(s.checkpoints.unverifiedRanges.some((r) => r.reason === 'hash mismatch'), `seed ${seed}: rebuilt frames hash as sent`);
    repairedAll += s.repairedFrames;
  }
  assert.ok(repairedAll > 5, `${repairedAll} frames rebuilt over all seeds`);
});

test('run.json channel.fec: the box sends repair frames and a damaged line still gives every packet', async () => {
  const work = tempDir('fec-run');
  const sample = sampleTrace(work);
  const box = await runBox({ config: { source: { pcap: sample.file }, outputs: ['packets', 'flows'], channel: { fec: { k: K, m: M } } } });
  assert.is(box.code, 0, box.console.join('\n'));
  const bytes = fs.readFileSync(box.linePath);
  const frames = splitFrames(bytes).map((x) => x.frame);
  const picks = plan(frames, M, [], 3 * SPAN);
  assert.ok(picks.size >= 4, `${picks.size} frames damaged`);
  const input = path.join(work, 'damaged.raw');
  fs.writeFileSync(input, damage(bytes, picks));
  const summary = await receive({ input, out: path.join(work, 'out'), print: () => undefined });
  const ses = summary.sessions[0];
  assert.is(summary.channel.repairedFrames, picks.size, JSON.stringify({ picks: [...picks], holes: ses.missingRanges }));
  assert.is(summary.missingFrames, 0);
  assert.is(summary.records.PACKET, sample.expect.packets);
  assert.is(summary.recordsMatchEnd, true);
});

test.run();
