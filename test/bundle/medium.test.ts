// The bundle medium: slot table copies, generations, torn updates, init safety.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  closeMedium, commitSlotTable, decodeSlotTable, DEFAULT_MEDIUM_BYTES, encodeSlotTable, initMedium, openMedium, SlotRecord, SLOTS_OFFSET,
  TABLE_BYTES, TABLE_COPY_OFFSETS,
} from '../../firmware/bundle/medium';
import { tempDir } from '../lib/bundle-fixtures';

function newImage(): string {
  const p = path.join(tempDir('medium'), 'medium.img');
  initMedium(p);
  return p;
}

function corruptByte(p: string, offset: number): void {
  const fd = fs.openSync(p, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, offset);
  b[0] ^= 0xff;
  fs.writeSync(fd, b, 0, 1, offset);
  fs.closeSync(fd);
}

test('init creates an image with an empty slot table and two slots', () => {
  const p = newImage();
  assert.is(fs.statSync(p).size, DEFAULT_MEDIUM_BYTES);
  const m = openMedium(p, false);
  assert.is(m.table.active, null);
  assert.is(m.table.minSecurityVersion, 0);
  assert.is(m.table.generation, 1);
  assert.ok(SLOTS_OFFSET + 2 * m.table.slotBytes <= m.bytes);
  assert.is(m.damagedCopy, null);
  closeMedium(m);
});

test('init refuses to erase an initialised medium without --force', () => {
  const p = newImage();
  assert.throws(() => initMedium(p), /already holds a bundle slot table: pass --force/);
  assert.not.throws(() => initMedium(p, { force: true }));
});

test('init refuses a size too small for two slots', () => {
  const p = path.join(tempDir('medium'), 'small.img');
  assert.throws(() => initMedium(p, { size: 1024 * 1024 }), /too small: a medium needs at least/);
});

test('the slot table round-trips and its checksum covers every field', () => {
  const t = { generation: 9, slotBytes: 16 * 1024 * 1024, active: 1 as const, minSecurityVersion: 4, slots: [{ length: 10, hash: Buffer.alloc(32, 1) }, { length: 20, hash: Buffer.alloc(32, 2) }] as [SlotRecord, SlotRecord] };
  const b = encodeSlotTable(t);
  assert.is(b.length, TABLE_BYTES);
  assert.equal(decodeSlotTable(b, DEFAULT_MEDIUM_BYTES), t);
  b[28 + 3] ^= 1; // minimum security version
  assert.match(decodeSlotTable(b, DEFAULT_MEDIUM_BYTES) as string, /checksum mismatch/);
});

test('an update goes into the other copy with the next generation', () => {
  const p = newImage();
  const m = openMedium(p, true);
  const first = m.copy;
  commitSlotTable(m, { ...m.table, minSecurityVersion: 5 });
  assert.is.not(m.copy, first);
  closeMedium(m);
  const again = openMedium(p, false);
  assert.is(again.table.generation, 2);
  assert.is(again.table.minSecurityVersion, 5);
  closeMedium(again);
});

test('a torn update of the newest copy falls back to the other copy', () => {
  const p = newImage();
  const m = openMedium(p, true);
  commitSlotTable(m, { ...m.table, minSecurityVersion: 5 });
  const newest = m.copy;
  closeMedium(m);
  corruptByte(p, TABLE_COPY_OFFSETS[newest] + 40);
  const back = openMedium(p, false);
  assert.is(back.table.generation, 1);
  assert.is(back.table.minSecurityVersion, 0);
  assert.match(back.damagedCopy ?? '', new RegExp(`slot table copy ${newest}: checksum mismatch`));
  closeMedium(back);
});

test('refuses a medium whose both table copies are damaged', () => {
  const p = newImage();
  corruptByte(p, TABLE_COPY_OFFSETS[0] + 12);
  corruptByte(p, TABLE_COPY_OFFSETS[1] + 12);
  assert.throws(() => openMedium(p, false), /has no valid slot table .*sealtap bundle medium init --device/);
});

test('refuses a medium that was never initialised', () => {
  const p = path.join(tempDir('medium'), 'blank.img');
  fs.writeFileSync(p, Buffer.alloc(64 * 1024));
  assert.throws(() => openMedium(p, false), /no slot table \(bad magic\)/);
});

test('refuses a missing device with a hint where it is configured', () => {
  assert.throws(() => openMedium('/nonexistent/medium.img', false), /cannot open bundle medium \/nonexistent\/medium\.img \(ENOENT\): check the --device path/);
});

test.run();
