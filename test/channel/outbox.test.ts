import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryOutbox } from '../../firmware/channel/outbox';
import { RecordType } from '../../firmware/channel/records';

const rec = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill);

test('drains the most important type first, then the oldest', () => {
  const o = new MemoryOutbox(1 << 20);
  o.push(RecordType.PACKET, rec(10));
  o.push(RecordType.FLOW, rec(10));
  o.push(RecordType.DNS, rec(10));
  o.push(RecordType.LOG, rec(10));
  o.push(RecordType.STATUS, rec(10));
  const order: number[] = [];
  for (let t = o.nextType(); t >= 0; t = o.nextType()) {
    order.push(t);
    o.takeBatch(t, 1024);
  }
  assert.equal(order, [RecordType.STATUS, RecordType.LOG, RecordType.FLOW, RecordType.DNS, RecordType.PACKET]);
  assert.is(o.backlogBytes(), 0);
});

test('batches records of one type up to the byte limit', () => {
  const o = new MemoryOutbox(1 << 20);
  for (let i = 0; i < 10; i++) o.push(RecordType.FLOW, rec(100));
  assert.is(o.takeBatch(RecordType.FLOW, 500).length, 4); // 4 × (100 + 2) ≤ 500
  assert.is(o.backlogBytes(), 6 * 102);
});

test('a full outbox drops packets before flows before logs, and counts each', () => {
  const o = new MemoryOutbox(1000);
  for (let i = 0; i < 4; i++) assert.ok(o.push(RecordType.PACKET, rec(98)));
  for (let i = 0; i < 4; i++) assert.ok(o.push(RecordType.FLOW, rec(98)));
  assert.is(o.backlogBytes(), 800);
  for (let i = 0; i < 7; i++) assert.ok(o.push(RecordType.LOG, rec(98)), `log ${i} accepted`);
  const d = o.dropped();
  assert.is(d.PACKET, 4);
  assert.is(d.FLOW, 1);
  assert.is(d.LOG, undefined);
  assert.ok(o.backlogBytes() <= 1000);
});

test('refuses a record when only more important ones fill the outbox', () => {
  const o = new MemoryOutbox(300);
  assert.ok(o.push(RecordType.STATUS, rec(148)));
  assert.ok(o.push(RecordType.STATUS, rec(148)));
  assert.not.ok(o.push(RecordType.PACKET, rec(10)));
  assert.not.ok(o.push(RecordType.LOG, rec(10)));
  assert.equal(o.dropped(), { PACKET: 1, LOG: 1 });
  assert.is(o.nextType(), RecordType.STATUS);
});

test('refuses a record larger than the whole budget', () => {
  const o = new MemoryOutbox(100);
  assert.not.ok(o.push(RecordType.BOOT, rec(200)));
  assert.equal(o.dropped(), { BOOT: 1 });
});

test('dropAll empties the outbox and counts what it dropped', () => {
  const o = new MemoryOutbox(1 << 20);
  o.push(RecordType.FLOW, rec(10));
  o.push(RecordType.PACKET, rec(10));
  o.push(RecordType.PACKET, rec(10));
  assert.is(o.dropAll(), 36);
  assert.equal(o.dropped(), { FLOW: 1, PACKET: 2 });
  assert.is(o.nextType(), -1);
});

test('refuses a zero budget', () => {
  assert.throws(() => new MemoryOutbox(0), /positive/);
});

test.run();
