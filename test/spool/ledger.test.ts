import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isReusable, SlotLedger, slotForSeq, windowStart, SLOT_ANALYSED, SLOT_FREE, SLOT_RESERVED, SLOT_UNANALYSED } from '../../firmware/spool/ledger';

function publishNext(l: SlotLedger): number {
  const r = l.reserve();
  if (r === null) throw new Error('ring unexpectedly full');
  l.published(r.slot);
  return r.seq;
}

test('slotForSeq wraps around the ring', () => {
  assert.equal([0, 1, 2, 3, 4, 5, 6, 7].map((s) => slotForSeq(s, 3)), [0, 1, 2, 0, 1, 2, 0, 1]);
});

test('windowStart is 0 until the ring has wrapped, then nextSeq - slots', () => {
  assert.is(windowStart(0, 4), 0);
  assert.is(windowStart(4, 4), 0);
  assert.is(windowStart(5, 4), 1);
  assert.is(windowStart(103, 4), 99);
});

test('only free and analysed slots are reusable', () => {
  assert.ok(isReusable(SLOT_FREE));
  assert.ok(isReusable(SLOT_ANALYSED));
  assert.not.ok(isReusable(SLOT_RESERVED));
  assert.not.ok(isReusable(SLOT_UNANALYSED));
});

test('reserve hands out sequence numbers from 0 in slot order', () => {
  const l = new SlotLedger(3);
  assert.equal(l.reserve(), { slot: 0, seq: 0 });
  assert.equal(l.reserve(), { slot: 1, seq: 1 });
  assert.equal(l.reserve(), { slot: 2, seq: 2 });
});

test('a full ring refuses reserve instead of overwriting unanalysed data', () => {
  const l = new SlotLedger(3);
  for (let i = 0; i < 3; i++) publishNext(l);
  assert.is(l.reserve(), null);
  assert.is(l.reserve(), null);
  assert.is(l.fill(), 1);
  assert.is(l.nextSequence(), 3);
});

test('a slot still being written is not handed out again', () => {
  const l = new SlotLedger(2);
  l.reserve();
  publishNext(l);
  l.markAnalysed(1);
  assert.is(l.reserve(), null); // slot 0 is still reserved for seq 0
});

test('markAnalysed frees the slot for the segment one ring later', () => {
  const l = new SlotLedger(3);
  for (let i = 0; i < 3; i++) publishNext(l);
  assert.ok(l.markAnalysed(0));
  assert.equal(l.reserve(), { slot: 0, seq: 3 });
  assert.is(l.reserve(), null); // slot 1 still holds unanalysed seq 1
});

test('markAnalysed of an unknown, repeated or overwritten seq changes nothing', () => {
  const l = new SlotLedger(2);
  publishNext(l);
  publishNext(l);
  assert.ok(l.markAnalysed(0));
  assert.not.ok(l.markAnalysed(0)); // repeat after an analysis restart
  assert.not.ok(l.markAnalysed(7)); // never published
  assert.not.ok(l.markAnalysed(-1));
  publishNext(l); // seq 2 overwrites seq 0 in slot 0
  assert.not.ok(l.markAnalysed(0));
  assert.is(l.fill(), 1); // seq 1 and seq 2, both unanalysed
});

test('oldestRetainedSeq is 0 for a fresh ring and stays at the oldest readable segment', () => {
  const l = new SlotLedger(4);
  assert.is(l.oldestRetainedSeq(), 0);
  publishNext(l);
  publishNext(l);
  l.markAnalysed(0);
  assert.is(l.oldestRetainedSeq(), 0); // analysed but still readable
});

test('oldestRetainedSeq moves on after wrap-around', () => {
  const l = new SlotLedger(4);
  for (let seq = 0; seq < 10; seq++) {
    publishNext(l);
    l.markAnalysed(seq);
  }
  // Slots hold seqs 6..9; 0..5 were overwritten.
  assert.is(l.oldestRetainedSeq(), 6);
  assert.not.ok(l.isRetained(5));
  assert.ok(l.isRetained(6));
  assert.ok(l.isRetained(9));
  assert.not.ok(l.isRetained(10));
});

test('a slot being rewritten no longer counts as retained', () => {
  const l = new SlotLedger(3);
  for (let seq = 0; seq < 3; seq++) {
    publishNext(l);
    l.markAnalysed(seq);
  }
  l.reserve(); // seq 3 takes slot 0: seq 0 is gone
  assert.is(l.oldestRetainedSeq(), 1);
  assert.not.ok(l.isRetained(0));
  assert.not.ok(l.isRetained(3));
});

test('with nothing published, oldestRetainedSeq is the first seq being written', () => {
  const l = new SlotLedger(3);
  l.reserve();
  assert.is(l.oldestRetainedSeq(), 0);
});

test('an abandoned reservation frees the slot and leaves a hole', () => {
  const l = new SlotLedger(2);
  const r = l.reserve()!;
  l.abandoned(r.slot);
  assert.not.ok(l.isRetained(0));
  assert.equal(l.reserve(), { slot: 1, seq: 1 });
  assert.equal(l.reserve(), { slot: 0, seq: 2 });
});

test('fill counts unanalysed and reserved slots', () => {
  const l = new SlotLedger(4);
  publishNext(l);
  l.reserve();
  assert.is(l.fill(), 0.5);
  l.markAnalysed(0);
  assert.is(l.fill(), 0.25);
});

test('refuses to publish a slot that was not reserved', () => {
  const l = new SlotLedger(2);
  assert.throws(() => l.published(0), /not reserved/);
  assert.throws(() => l.published(5), /does not exist/);
});

test('refuses a ring of fewer than 2 slots', () => {
  assert.throws(() => new SlotLedger(1), /at least 2 slots/);
});

test.run();
