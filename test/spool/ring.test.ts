import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { MAX_SLOTS, PositionalWrite, SpoolRing, writeHiddenThenPublished } from '../../firmware/spool/ring';
import { openSegment, SEGMENT_HEADER_BYTES } from '../../firmware/spool/segment';
import { readSlotFile, slotFileName, slotPathForSeq } from '../../firmware/spool/slot-files';
import { fixedKeyring, fixedMaster } from '../lib/fixed-keyring';
import { sealTestSegment } from '../lib/spool-segments';

const SLOT = 4096;
const keyring = fixedKeyring();
const key = keyring.subkey('spool');
const tmpDirs: string[] = [];

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-spool-'));
  tmpDirs.push(d);
  return d;
}

function newRing(slots: number, dir = tmpDir()): SpoolRing {
  return SpoolRing.create({ dir, bytes: slots * SLOT, slotBytes: SLOT });
}

async function publishSegment(ring: SpoolRing, marker?: Buffer): Promise<number> {
  const r = ring.reserve();
  if (r === null) throw new Error('ring unexpectedly full');
  await ring.publish(r.slot, sealTestSegment(key, r.seq, 5, marker));
  return r.seq;
}

function openSeq(ring: SpoolRing, seq: number): string | number {
  const r = openSegment(key, readSlotFile(ring.slotPath(seq)), seq);
  return 'error' in r ? r.error : r.header.seq;
}

function errorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return '(no error)';
}

test('preallocates floor(bytes / slotBytes) slot files of slotBytes each, every block allocated and reading as zeros', () => {
  const dir = tmpDir();
  const ring = SpoolRing.create({ dir, bytes: 5 * SLOT + 1000, slotBytes: SLOT });
  assert.is(ring.slots, 5);
  const files = fs.readdirSync(dir).sort();
  assert.equal(files, [0, 1, 2, 3, 4].map(slotFileName));
  for (const f of files) {
    const st = fs.statSync(path.join(dir, f));
    assert.is(st.size, SLOT);
    assert.ok(st.blocks * 512 >= SLOT, `${f} is sparse`);
    assert.ok(fs.readFileSync(path.join(dir, f)).every((x) => x === 0), `${f} holds something other than zeros`);
  }
  assert.is(ring.fill(), 0);
});

test('refuses a missing spool.dir with a message naming run.json spool.dir', () => {
  const dir = path.join(tmpDir(), 'missing');
  const msg = errorMessage(() => SpoolRing.create({ dir, bytes: 4 * SLOT, slotBytes: SLOT }));
  assert.match(msg, `spool.dir ${dir} does not exist`);
  assert.match(msg, 'check run.json spool.dir');
});

test('refuses a spool.dir that is a file', () => {
  const file = path.join(tmpDir(), 'file');
  fs.writeFileSync(file, '');
  const msg = errorMessage(() => SpoolRing.create({ dir: file, bytes: 4 * SLOT, slotBytes: SLOT }));
  assert.match(msg, `spool.dir ${file} is not a directory`);
});

test('refuses an unwritable spool.dir with a message naming run.json spool.dir', () => {
  // Root may write anywhere regardless of mode bits, so the check runs as nobody.
  const parent = tmpDir();
  fs.chmodSync(parent, 0o755);
  const dir = path.join(parent, 'readonly');
  fs.mkdirSync(dir, 0o555);
  fs.chmodSync(dir, 0o555);
  const script = `
    const { SpoolRing } = require(${JSON.stringify(require.resolve('../../firmware/spool/ring'))});
    try { SpoolRing.create({ dir: ${JSON.stringify(dir)}, bytes: ${4 * SLOT}, slotBytes: ${SLOT} }); console.log('(created)'); }
    catch (err) { console.log(err.message); }`;
  const asRoot = process.getuid !== undefined && process.getuid() === 0;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
  assert.is(child.status, 0, child.stderr);
  assert.match(child.stdout, `spool.dir ${dir} is not writable: EACCES`);
  assert.match(child.stdout, 'check run.json spool.dir');
  assert.equal(fs.readdirSync(dir), []);
});

test('refuses spool.bytes smaller than two slots', () => {
  const msg = errorMessage(() => SpoolRing.create({ dir: tmpDir(), bytes: 2 * SLOT - 1, slotBytes: SLOT }));
  assert.match(msg, 'fewer than 2 slots');
  assert.match(msg, 'run.json spool.bytes');
});

test('refuses spool.bytes larger than the free space of spool.dir', () => {
  const dir = tmpDir();
  const msg = errorMessage(() => SpoolRing.create({ dir, bytes: 2 ** 50, slotBytes: 2 ** 31 }));
  assert.match(msg, `spool.dir ${dir} has`);
  assert.match(msg, 'lower run.json spool.bytes');
  assert.equal(fs.readdirSync(dir), []);
});

test('refuses a spool that would need more than MAX_SLOTS slot files', () => {
  const dir = tmpDir();
  const msg = errorMessage(() => SpoolRing.create({ dir, bytes: (MAX_SLOTS + 1) * SLOT, slotBytes: SLOT }));
  assert.match(msg, `more than ${MAX_SLOTS}`);
  assert.equal(fs.readdirSync(dir), []);
});

test('refuses a slot size below the minimum', () => {
  assert.throws(() => SpoolRing.create({ dir: tmpDir(), bytes: 1 << 20, slotBytes: 100 }), /slot size 100 is out of range/);
});

test('publishes a sealed segment that reads back and opens', async () => {
  const ring = newRing(3);
  const seq = await publishSegment(ring);
  assert.is(seq, 0);
  assert.is(ring.fill(), 1 / 3);
  assert.is(openSeq(ring, 0), 0);
  assert.is(ring.slotPath(0), path.join(ring.dir, slotFileName(0)));
  assert.is(slotPathForSeq(ring.dir, 4, ring.slots), ring.slotPath(4));
  await ring.close();
});

test('keeps publish order when writes are not awaited', async () => {
  const ring = newRing(8);
  const pending: Promise<void>[] = [];
  const finished: number[] = [];
  for (let i = 0; i < 8; i++) {
    const r = ring.reserve()!;
    pending.push(ring.publish(r.slot, sealTestSegment(key, r.seq, 1 + i)).then(() => void finished.push(r.seq)));
  }
  await Promise.all(pending);
  assert.equal(finished, [0, 1, 2, 3, 4, 5, 6, 7]);
  for (let seq = 0; seq < 8; seq++) assert.is(openSeq(ring, seq), seq);
  await ring.close();
});

test('a full ring refuses reserve; markAnalysed frees the slot', async () => {
  const ring = newRing(3);
  for (let i = 0; i < 3; i++) await publishSegment(ring);
  assert.is(ring.reserve(), null);
  assert.is(ring.fill(), 1);
  // The refused reservation overwrote nothing.
  for (let seq = 0; seq < 3; seq++) assert.is(openSeq(ring, seq), seq);
  assert.ok(ring.markAnalysed(0));
  assert.equal(ring.reserve(), { slot: 0, seq: 3 });
  await ring.close();
});

test('oldestRetainedSeq after wrap-around, and overwritten segments are no longer readable', async () => {
  const ring = newRing(3);
  for (let i = 0; i < 7; i++) {
    const seq = await publishSegment(ring);
    ring.markAnalysed(seq);
  }
  assert.is(ring.oldestRetainedSeq(), 4);
  assert.is(openSeq(ring, 4), 4);
  assert.is(openSeq(ring, 6), 6);
  assert.not.ok(ring.isRetained(3));
  await ring.close();
});

test('a slot whose new body landed without its header fails authentication', async () => {
  const ring = newRing(2);
  await publishSegment(ring);
  await publishSegment(ring);
  ring.markAnalysed(0);
  const r = ring.reserve()!;
  assert.equal(r, { slot: 0, seq: 2 });
  // Crash between the two writes of publish(): the body region is new, the header old.
  const sealed = sealTestSegment(key, r.seq);
  const fd = fs.openSync(ring.slotPath(r.seq), 'r+');
  fs.writeSync(fd, sealed, SEGMENT_HEADER_BYTES, sealed.length - SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES);
  fs.closeSync(fd);
  const res = openSegment(key, readSlotFile(ring.slotPath(r.seq)), r.seq);
  assert.equal(res, { error: 'auth' });
  await ring.close();
});

test('a slot still holding its previous segment is refused as torn for the new seq', async () => {
  const ring = newRing(2);
  await publishSegment(ring);
  await publishSegment(ring);
  ring.markAnalysed(0);
  const r = ring.reserve()!; // seq 2, never written
  const res = openSegment(key, readSlotFile(ring.slotPath(r.seq)), r.seq);
  assert.equal(res, { error: 'torn' });
  await ring.close();
});

test('a truncated slot file reads as torn', async () => {
  const ring = newRing(2);
  await publishSegment(ring);
  fs.truncateSync(ring.slotPath(0), 200);
  assert.is(openSeq(ring, 0), 'torn');
  await ring.close();
});

test('sealed slot files never contain packet plaintext or key bytes', async () => {
  const marker = Buffer.from('SECRET-PAYLOAD-7f3a9c');
  const ring = newRing(4);
  for (let i = 0; i < 4; i++) await publishSegment(ring, marker);
  const spoolKey = key.use((k) => Buffer.from(k));
  const forbidden = [marker, spoolKey, fixedMaster(), Buffer.from(spoolKey.toString('hex')), Buffer.from(spoolKey.toString('base64'))];
  for (const f of fs.readdirSync(ring.dir)) {
    const bytes = fs.readFileSync(path.join(ring.dir, f));
    for (const needle of forbidden) assert.is(bytes.indexOf(needle), -1, `${f} contains a forbidden byte string`);
  }
  // The check above can fail: the plaintext does hold the marker.
  const opened = openSegment(key, readSlotFile(ring.slotPath(0)));
  assert.ok(!('error' in opened) && opened.body.indexOf(marker) >= 0);
  await ring.close();
});

test('refuses to publish a segment larger than a slot, and frees the slot', () => {
  const ring = newRing(2);
  const r = ring.reserve()!;
  const big = sealTestSegment(key, r.seq, 60); // 60 * 76 bytes of records
  assert.throws(() => ring.publish(r.slot, big), /spool slots hold 4096/);
  assert.equal(ring.reserve(), { slot: 1, seq: 1 });
});

test('refuses to publish a segment sealed with another seq than reserved', () => {
  const ring = newRing(2);
  const r = ring.reserve()!;
  assert.throws(() => ring.publish(r.slot, sealTestSegment(key, 9)), /carries seq 9 but the slot was reserved for seq 0/);
});

test('refuses to publish a slot that was not reserved', () => {
  const ring = newRing(2);
  assert.throws(() => ring.publish(1, sealTestSegment(key, 1)), /not reserved/);
});

test('rejects a publish whose write fails and leaves the seq as a hole', async () => {
  const ring = newRing(2);
  const r = ring.reserve()!;
  fs.rmSync(ring.slotPath(r.seq));
  let msg = '';
  await ring.publish(r.slot, sealTestSegment(key, r.seq)).catch((err: Error) => (msg = err.message));
  assert.match(msg, 'spool write of segment 0');
  assert.match(msg, 'check the spool disk');
  assert.not.ok(ring.isRetained(0));
  assert.is(ring.fill(), 0);
  assert.equal(ring.reserve(), { slot: 1, seq: 1 });
});

test('after close, reserve is refused and publish rejects', async () => {
  const ring = newRing(2);
  const r = ring.reserve()!;
  await ring.close();
  assert.is(ring.reserve(), null);
  let msg = '';
  await ring.publish(r.slot, sealTestSegment(key, r.seq)).catch((err: Error) => (msg = err.message));
  assert.match(msg, 'spool is closed');
});

test('a new ring over an old spool dir reads every slot as empty', async () => {
  const dir = tmpDir();
  const old = newRing(2, dir);
  await publishSegment(old);
  await old.close();
  const fresh = newRing(2, dir);
  assert.equal(openSegment(key, readSlotFile(fresh.slotPath(0))), { error: 'format' });
  assert.is(fresh.oldestRetainedSeq(), 0);
  await fresh.close();
});

test('a slot write that the kernel takes in short pieces goes on where each stopped, body before header', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'slot');
  fs.writeFileSync(file, Buffer.alloc(SLOT));
  const sealed = sealTestSegment(key, 7, 20);
  const calls: Array<[number, number]> = [];
  // At most 100 bytes per call, as a write interrupted by a signal or a nearly full disk returns.
  const short: PositionalWrite = (fd, buf, offset, length, position, cb) => {
    calls.push([position, Math.min(length, 100)]);
    fs.write(fd, buf, offset, Math.min(length, 100), position, cb);
  };
  await writeHiddenThenPublished(file, sealed, short);
  assert.equal(fs.readFileSync(file).subarray(0, sealed.length), sealed, 'every byte arrived where it belongs');
  assert.ok(calls.length >= Math.ceil(sealed.length / 100), 'pieces of at most 100 bytes');
  const header = calls.findIndex(([pos]) => pos === 0);
  assert.is(header, calls.length - 1, 'the header goes last, after the whole body');
  assert.ok(calls.slice(0, -1).every(([pos], i, a) => pos >= SEGMENT_HEADER_BYTES && (i === 0 || pos === a[i - 1][0] + a[i - 1][1])), 'the body in order, each piece where the last stopped');
});

test('a slot write that writes nothing fails instead of trying forever, and closes the file', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'slot');
  fs.writeFileSync(file, Buffer.alloc(SLOT));
  let calls = 0;
  const none: PositionalWrite = (_fd, _buf, _offset, _length, _position, cb) => { calls++; setImmediate(() => cb(null, 0)); };
  const before = fs.readdirSync('/proc/self/fd').length;
  const err = await writeHiddenThenPublished(file, sealTestSegment(key, 1), none).then(() => null, (e: Error) => e);
  assert.ok(err !== null && /wrote nothing at offset 64/.test(err.message), String(err));
  assert.is(calls, 1);
  assert.is(fs.readdirSync('/proc/self/fd').length, before, 'the slot file is closed again');
  assert.equal(fs.readFileSync(file), Buffer.alloc(SLOT), 'nothing was written');
});

test.after(() => {
  keyring.wipe();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});
test.run();
