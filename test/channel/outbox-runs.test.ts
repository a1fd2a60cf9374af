// PACKET records queued as runs (Outbox.pushPackets): what leaves the outbox, what it
// refuses, drops and counts, and the frames on the line are exactly what the same
// records pushed one by one give, in memory and through the spill files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MemoryOutbox, Outbox } from '../../firmware/channel/outbox';
import { SpoolOutbox } from '../../firmware/channel/spool-outbox';
import { FrameSequencer } from '../../firmware/channel/sequencer';
import { LARGE_BODY_BYTES, TARGET_BODY_BYTES } from '../../firmware/channel/frame';
import { RecordType } from '../../firmware/channel/records';
import { fixedKeyring } from '../lib/fixed-keyring';
import { tmpDir } from '../lib/channel-fixtures';
import { batchBinding } from '../../firmware/capture/batch-binding';

/** n pcap records, caplen 0 to `maxCaplen`, each one's bytes its own. */
function pcapRecords(n: number, seed: number, maxCaplen = 1600): Buffer[] {
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  return Array.from({ length: n }, (_, i) => {
    const caplen = Math.floor(rnd() ** 3 * maxCaplen);
    const r = Buffer.alloc(16 + caplen, (i * 7 + 1) & 0xff);
    r.writeUInt32LE(i, 0);
    r.writeUInt32LE(0, 4);
    r.writeUInt32LE(caplen, 8);
    r.writeUInt32LE(caplen + (i % 3), 12);
    return r;
  });
}

/** The records pushed in runs of varied lengths (1 to 60); returns how many were queued. */
function pushInRuns(o: Outbox, recs: Buffer[], seed: number): number {
  let accepted = 0;
  for (let i = 0; i < recs.length;) {
    const n = Math.min(recs.length - i, 1 + ((i * 31 + seed) % 60));
    accepted += o.pushPackets(Buffer.concat(recs.slice(i, i + n)), n);
    i += n;
  }
  return accepted;
}

function pushEachRecord(o: Outbox, recs: Buffer[]): number {
  let accepted = 0;
  for (const r of recs) if (o.push(RecordType.PACKET, r)) accepted++;
  return accepted;
}

/** Batches of `maxBytes` until the outbox is empty, each as the list of its records. */
function batches(o: Outbox, maxBytes: number): Buffer[][] {
  const out: Buffer[][] = [];
  for (let t = o.nextType(); t >= 0; t = o.nextType()) out.push(o.takeBatch(t, maxBytes));
  return out;
}

test('runs come out in the same batches as the same records pushed one by one, at every batch size', () => {
  const recs = pcapRecords(2000, 3);
  for (const maxBytes of [64, 300, 1024, LARGE_BODY_BYTES]) {
    const one = new MemoryOutbox(1 << 26);
    const runs = new MemoryOutbox(1 << 26);
    pushEachRecord(one, recs);
    assert.is(pushInRuns(runs, recs, maxBytes), recs.length);
    assert.is(runs.backlogBytes(), one.backlogBytes(), 'the same bytes counted against the budget');
    const a = batches(one, maxBytes);
    const b = batches(runs, maxBytes);
    assert.is(b.length, a.length, `batches of ${maxBytes} bytes`);
    for (let i = 0; i < a.length; i++) {
      assert.is(b[i].length, a[i].length, `batch ${i} of ${maxBytes} bytes`);
      for (let j = 0; j < a[i].length; j++) assert.ok(b[i][j].equals(a[i][j]), `batch ${i} record ${j}`);
    }
    assert.is(runs.backlogBytes(), 0);
  }
});

test('a full outbox takes of a run what it would take one by one, refuses the rest and counts it', () => {
  const recs = pcapRecords(400, 5, 300);
  const one = new MemoryOutbox(20000);
  const runs = new MemoryOutbox(20000);
  const a = pushEachRecord(one, recs);
  const b = pushInRuns(runs, recs, 7);
  assert.ok(a > 0 && a < recs.length, `the budget takes part of the records (${a})`);
  assert.is(b, a);
  assert.equal(runs.dropped(), one.dropped());
  assert.is(runs.backlogBytes(), one.backlogBytes());
  assert.equal(batches(runs, 1024).flat().map((r) => r.readUInt32LE(0)), batches(one, 1024).flat().map((r) => r.readUInt32LE(0)));
});

test('records that need room evict only the newest records of a run, as many as one by one', () => {
  const recs = pcapRecords(300, 9, 400);
  const one = new MemoryOutbox(30000);
  const runs = new MemoryOutbox(30000);
  pushEachRecord(one, recs);
  pushInRuns(runs, recs, 11);
  // Logs are more important than packets: each evicts the newest packets it needs room for.
  for (let i = 0; i < 40; i++) {
    const log = Buffer.alloc(150 + i * 13, 0x4c);
    assert.ok(one.push(RecordType.LOG, log));
    assert.ok(runs.push(RecordType.LOG, log));
    assert.equal(runs.dropped(), one.dropped(), `after log ${i}`);
    assert.is(runs.backlogBytes(), one.backlogBytes(), `after log ${i}`);
  }
  assert.ok((one.dropped().PACKET ?? 0) > 0, 'the logs evicted packets');
  const ids = (o: Outbox): number[] => batches(o, 2048).flat().filter((r) => r[0] !== 0x4c || r.length < 16).map((r) => r.length);
  assert.equal(ids(runs), ids(one));
});

test('the framer packs runs into the same frames as records pushed one by one, long records in fragments', () => {
  // Up to 1600-byte packets: longer than a 1 KiB body, so some go in fragments.
  const recs = pcapRecords(3000, 13);
  for (const bodyBytes of [TARGET_BODY_BYTES, LARGE_BODY_BYTES]) {
    const session = Buffer.from('0102030405060708', 'hex');
    const signer = { sign: (): Buffer => Buffer.alloc(64, 7) };
    const wires = (push: (o: Outbox) => void): { wire: Buffer; sent: Record<string, number> } => {
      const o = new MemoryOutbox(1 << 26);
      push(o);
      const seq = new FrameSequencer(session, signer, 64, null, null, false, bodyBytes);
      const out: Buffer[] = [];
      for (let w = seq.next(o, false); w !== null; w = seq.next(o, false)) out.push(w);
      return { wire: Buffer.concat(out), sent: seq.recordsSent() };
    };
    const a = wires((o) => pushEachRecord(o, recs));
    const b = wires((o) => pushInRuns(o, recs, 17));
    assert.ok(b.wire.equals(a.wire), `the same line bytes with ${bodyBytes}-byte bodies`);
    assert.equal(b.sent, a.sent);
    assert.is(b.sent.PACKET, recs.length);
  }
});

test('the addon\'s packRecords packs a run\'s records behind their lengths while they fit the room, stops before the first that does not, and refuses bad arguments', () => {
  const recs = pcapRecords(5, 21, 300);
  const run = Buffer.concat(recs);
  const body = Buffer.alloc(4096, 0xee);
  const done = new Int32Array(3);
  const room = recs[0].length + recs[1].length + 4 + 1; // the first two, and not the third
  batchBinding.packRecords(run, 0, 5, body, 10, room, done);
  assert.equal([...done], [2, recs[0].length + recs[1].length, recs[0].length + recs[1].length + 4]);
  assert.is(body.readUInt16BE(10), recs[0].length);
  assert.ok(body.subarray(12, 12 + recs[0].length).equals(recs[0]));
  assert.is(body.readUInt16BE(12 + recs[0].length), recs[1].length);
  assert.is(body[10 + done[2]], 0xee, 'nothing written after them');
  // From where it stopped, at most `count` records.
  batchBinding.packRecords(run, done[1], 2, body, 0, 4096, done);
  assert.equal([...done], [2, recs[0].length + recs[1].length + recs[2].length + recs[3].length, recs[2].length + recs[3].length + 4]);
  // A first record longer than the room: nothing, for the visitor to take alone.
  batchBinding.packRecords(run, 0, 5, body, 0, recs[0].length + 1, done);
  assert.equal([...done], [0, 0, 0]);
  assert.throws(() => batchBinding.packRecords(run, run.length + 1, 1, body, 0, 100, done), /0 <= off <= its length/);
  assert.throws(() => batchBinding.packRecords(run, 0, 1, body, 4097, 100, done), /0 <= bodyOff <= its length/);
  assert.throws(() => batchBinding.packRecords(run, 0, 1, body, 0, 100, new Int32Array(2)), /Int32Array of 3/);
  assert.throws(() => batchBinding.packRecords(run, 0, -1, body, 0, 100, done), /a count/);
});

function spoolOutbox(memoryBytes: number, totalBytes = 64 * 1048576): { o: SpoolOutbox; dir: string } {
  const dir = path.join(tmpDir('runs'), 'outbox');
  return { o: new SpoolOutbox({ dir, key: fixedKeyring().subkey('channel'), memoryBytes, totalBytes }), dir };
}

test('runs beyond the memory window go to sealed files and come back whole and in order', () => {
  const recs = pcapRecords(6000, 19);
  const { o, dir } = spoolOutbox(64 * 1024);
  assert.is(pushInRuns(o, recs, 23), recs.length);
  assert.ok(o.filesWritten > 0, 'some runs were spilled');
  assert.ok(fs.readdirSync(dir).some((f) => f.endsWith('.sealed')));
  const got = batches(o, LARGE_BODY_BYTES).flat();
  assert.is(got.length, recs.length);
  for (let i = 0; i < recs.length; i++) assert.ok(got[i].equals(recs[i]), `record ${i}`);
  assert.equal(o.dropped(), {});
  assert.is(o.backlogBytes(), 0);
});

test('a damaged spill file of runs counts every record in it as dropped, and the rest still comes', () => {
  const recs = pcapRecords(6000, 29);
  const { o, dir } = spoolOutbox(64 * 1024);
  pushInRuns(o, recs, 31);
  const first = fs.readdirSync(dir).filter((f) => f.endsWith('.sealed')).sort()[0];
  const file = path.join(dir, first);
  const bytes = fs.readFileSync(file);
  bytes[bytes.length >> 1] ^= 1;
  fs.writeFileSync(file, bytes);
  const got = batches(o, LARGE_BODY_BYTES).flat();
  assert.is(o.unreadableFiles, 1);
  const dropped = o.dropped().PACKET ?? 0;
  assert.ok(dropped > 1, `the damaged file's records are counted (${dropped})`);
  assert.is(got.length + dropped, recs.length, 'every record either came or was counted');
  // What came is in order: record numbers only go up.
  for (let i = 1; i < got.length; i++) assert.ok(got[i].readUInt32LE(0) > got[i - 1].readUInt32LE(0), `order at ${i}`);
});

test('a spool outbox fills its memory window from a run as one by one would: the same evictions, drops and order', () => {
  for (const seed of [43, 47, 53]) {
    const recs = pcapRecords(3000, seed, 200);
    const one = spoolOutbox(16 * 1024, 64 * 1024).o;
    const runs = spoolOutbox(16 * 1024, 64 * 1024).o;
    let i = 0;
    let round = 0;
    while (i < recs.length) {
      const n = Math.min(recs.length - i, 1 + ((i * 13 + seed) % 40));
      const part = recs.slice(i, i + n);
      assert.is(runs.pushPackets(Buffer.concat(part), n), pushEachRecord(one, part), `records ${i}-${i + n} queued`);
      i += n;
      // Logs that need room evict packets from memory; some batches go out between.
      const log = Buffer.alloc(100 + (round * 37) % 2000, 0x4c);
      assert.is(runs.push(RecordType.LOG, log), one.push(RecordType.LOG, log));
      if (round % 3 === 0) {
        for (const t of [RecordType.LOG, RecordType.PACKET]) {
          const a = one.takeBatch(t, 1024);
          const b = runs.takeBatch(t, 1024);
          assert.equal(b.map((r) => r.length), a.map((r) => r.length), `round ${round}`);
        }
      }
      assert.equal(runs.dropped(), one.dropped(), `seed ${seed} round ${round}`);
      assert.is(runs.backlogBytes(), one.backlogBytes(), `seed ${seed} round ${round}`);
      round++;
    }
    assert.ok((one.dropped().PACKET ?? 0) > 0, 'logs evicted packets from memory');
    const a = batches(one, 1024).flat();
    const b = batches(runs, 1024).flat();
    assert.is(b.length, a.length);
    for (let k = 0; k < a.length; k++) assert.ok(b[k].equals(a[k]), `record ${k}`);
  }
});

test('dropAll counts every record of the runs waiting, in memory and on disk', () => {
  const recs = pcapRecords(6000, 37);
  const { o } = spoolOutbox(64 * 1024);
  pushInRuns(o, recs, 41);
  // Take a few batches first: a run partly taken counts only what is left of it.
  let taken = 0;
  for (let i = 0; i < 5; i++) taken += o.takeBatch(RecordType.PACKET, 1024).length;
  o.dropAll();
  assert.is(o.dropped().PACKET, recs.length - taken);
  assert.is(o.nextType(), -1);
});

test.run();
