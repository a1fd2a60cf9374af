// The outbox with its backlog of results sealed on the spool: RAM stays bounded, files
// are sealed, nothing is lost or reordered, damage is counted and never parsed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SpoolOutbox } from '../../firmware/channel/spool-outbox';
import { RecordType } from '../../firmware/channel/records';
import { fixedKeyring } from '../lib/fixed-keyring';
import { tmpDir } from '../lib/channel-fixtures';

const MARK = 'flow-record-plaintext-';
const flow = (i: number): Buffer => Buffer.from(JSON.stringify({ n: i, note: MARK + i, pad: 'x'.repeat(i % 200) }));

function outbox(memoryBytes = 64 * 1024, totalBytes = 64 * 1048576) {
  const dir = path.join(tmpDir('spill'), 'outbox');
  const keyring = fixedKeyring();
  return { o: new SpoolOutbox({ dir, key: keyring.subkey('channel'), memoryBytes, totalBytes }), dir, keyring };
}

function drain(o: SpoolOutbox): { type: number; rec: Buffer }[] {
  const out: { type: number; rec: Buffer }[] = [];
  for (let t = o.nextType(); t >= 0; t = o.nextType()) for (const r of o.takeBatch(t, 1024)) out.push({ type: t, rec: r });
  return out;
}

test('a backlog beyond the memory window goes to sealed files and comes back complete and in order', () => {
  const { o, dir, keyring } = outbox();
  const sent: Buffer[] = [];
  for (let i = 0; i < 20000; i++) {
    const r = flow(i);
    sent.push(r);
    assert.ok(o.push(RecordType.FLOW, r));
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sealed'));
  assert.ok(files.length >= 5, `only ${files.length} spill files`);
  assert.ok(o.spilledBytes() > 1048576, 'the backlog stayed in memory');
  // Sealed: no record's text is in any file.
  for (const f of files) assert.not.ok(fs.readFileSync(path.join(dir, f)).includes(MARK), `${f} holds plaintext`);
  const got = drain(o);
  assert.is(got.length, sent.length);
  for (let i = 0; i < sent.length; i++) assert.ok(got[i].rec.equals(sent[i]), `record ${i} out of order or changed`);
  assert.equal(o.dropped(), {});
  assert.is(o.backlogBytes(), 0);
  assert.equal(fs.readdirSync(dir), [], 'spill files left behind');
  keyring.wipe();
});

test('logs and status still go first while results wait on disk', () => {
  const { o, keyring } = outbox(8 * 1024);
  for (let i = 0; i < 2000; i++) o.push(RecordType.FLOW, flow(i));
  o.push(RecordType.LOG, Buffer.from('operator line'));
  o.push(RecordType.STATUS, Buffer.from('{}'));
  assert.is(o.nextType(), RecordType.STATUS);
  o.takeBatch(RecordType.STATUS, 1024);
  assert.is(o.nextType(), RecordType.LOG);
  keyring.wipe();
});

test('beyond outboxBytes new results are refused and counted, and what was kept still arrives', () => {
  const { o, keyring } = outbox(16 * 1024, 512 * 1024);
  let accepted = 0;
  for (let i = 0; i < 10000; i++) if (o.push(RecordType.PACKET, flow(i))) accepted++;
  assert.ok(accepted < 10000);
  assert.is(o.dropped().PACKET, 10000 - accepted);
  assert.ok(o.backlogBytes() <= 512 * 1024);
  assert.is(drain(o).length, accepted);
  keyring.wipe();
});

test('a tampered spill file is counted as dropped records and skipped, never parsed', () => {
  const { o, dir, keyring } = outbox();
  for (let i = 0; i < 20000; i++) o.push(RecordType.DNS, flow(i));
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sealed')).sort();
  const victim = path.join(dir, files[1]);
  const b = fs.readFileSync(victim);
  b[b.length >> 1] ^= 0x40;
  fs.writeFileSync(victim, b);
  const got = drain(o);
  assert.is(o.unreadableFiles, 1);
  const lost = o.dropped().DNS;
  assert.ok(lost > 0);
  assert.is(got.length + lost, 20000);
  // Everything that arrived is intact and in order.
  let last = -1;
  for (const g of got) {
    const n = JSON.parse(g.rec.toString()).n as number;
    assert.ok(n > last);
    last = n;
  }
  keyring.wipe();
});

test('files swapped between places are refused: each is bound to its type and sequence', () => {
  const { o, dir, keyring } = outbox();
  for (let i = 0; i < 20000; i++) o.push(RecordType.FLOW, flow(i));
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sealed')).sort();
  const a = path.join(dir, files[0]);
  const b = path.join(dir, files[1]);
  const ta = fs.readFileSync(a);
  fs.writeFileSync(a, fs.readFileSync(b));
  fs.writeFileSync(b, ta);
  drain(o);
  assert.is(o.unreadableFiles, 2);
  keyring.wipe();
});

test('dropAll counts what waited on disk and removes the files', () => {
  const { o, dir, keyring } = outbox();
  for (let i = 0; i < 20000; i++) o.push(RecordType.FLOW, flow(i));
  o.dropAll();
  assert.is(o.dropped().FLOW, 20000);
  assert.is(o.backlogBytes(), 0);
  assert.equal(fs.readdirSync(dir), []);
  keyring.wipe();
});

test('a full disk loses the records of that file, counted; the run goes on', () => {
  const { o, dir, keyring } = outbox(8 * 1024);
  fs.rmSync(dir, { recursive: true });
  fs.writeFileSync(dir, 'not a directory'); // every spill write now fails
  let accepted = 0;
  for (let i = 0; i < 5000; i++) if (o.push(RecordType.FLOW, flow(i))) accepted++;
  assert.ok(o.unwritableFiles > 0);
  const got = drain(o);
  assert.is(got.length + (o.dropped().FLOW ?? 0), 5000);
  keyring.wipe();
});

test.run();
