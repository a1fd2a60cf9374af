// The libpcap batch addon (native/capture/sealtap-capture.c): one call copies a batch of
// packets into a buffer as pcap records. Checked against an independent pcap reader on
// a generated trace and on the whole tcpdump corpus (damaged files included).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { spawnSync } from 'node:child_process';
import { ADDON_PATH, batchBinding, BatchStatus, CaptureHandle, RECORD_HEADER_BYTES } from '../../firmware/capture/batch-binding';
import { parsePcap, PcapRecord } from '../lib/pcapfile';
import { corpusFiles, corpusDir } from '../lib/corpusFiles';
import { tempDir, repoRoot } from '../lib/run-box';
import { countRecords } from '../../firmware/spool/pcap-records';
import { createSlotPool, releaseSlotPool } from '../../firmware/capture/slots';
import { faultsInFreshProcess, PROBE_HUGE_PAGES } from '../lib/fault-probe';

interface Read { records: Array<Omit<PcapRecord, 'data'> & { data: Buffer }>; error: string | null; batches: number; fullBatches: number }

/** Every packet of the handle, through buffers of `room` bytes, checking each batch's framing. */
function readAll(h: CaptureHandle, room: number): Read {
  const buf = Buffer.alloc(room);
  const out: Read = { records: [], error: null, batches: 0, fullBatches: 0 };
  for (;;) {
    const [packets, end, status, lastAt, error] = batchBinding.dispatch(h, buf, 0, 1_000_000);
    out.batches++;
    let at = 0;
    for (let i = 0; i < packets; i++) {
      if (i === packets - 1) assert.is(lastAt, at, 'the last record starts where the addon says');
      const caplen = buf.readUInt32LE(at + 8);
      out.records.push({ tsSec: buf.readUInt32LE(at), tsUsec: buf.readUInt32LE(at + 4), caplen, origLen: buf.readUInt32LE(at + 12), data: Buffer.from(buf.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + caplen)) });
      at += RECORD_HEADER_BYTES + caplen;
    }
    assert.is(at, end, 'the records end where the addon says');
    if (status === BatchStatus.Full) { out.fullBatches++; continue; }
    if (status === BatchStatus.Error) out.error = error ?? 'error';
    if (status !== BatchStatus.More) return out;
  }
}

/**
 * The records as libpcap delivers them: nanosecond files in microseconds, and a record
 * longer than the file's snap length cut to it (libpcap does so, as tcpdump shows).
 */
function sameRecords(got: Read['records'], want: PcapRecord[], nanosecond: boolean, snaplen: number, file: string): void {
  assert.is(got.length, want.length, `${file}: packet count`);
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    // A sub-second field out of its range (timestamp_invalid_*.pcap) has no one meaning.
    const valid = w.tsUsec < (nanosecond ? 1e9 : 1e6);
    const us = !valid ? g.tsUsec : nanosecond ? Math.floor(w.tsUsec / 1000) : w.tsUsec;
    const caplen = snaplen > 0 ? Math.min(w.caplen, snaplen) : w.caplen;
    if (g.tsSec !== w.tsSec || g.tsUsec !== us || g.caplen !== caplen || g.origLen !== w.origLen || !g.data.equals(w.data.subarray(0, caplen))) {
      assert.unreachable(`${file}: record ${i} differs: ${JSON.stringify([g.tsSec, g.tsUsec, g.caplen, g.origLen])} vs ${JSON.stringify([w.tsSec, us, caplen, w.origLen])}`);
    }
  }
}

const work = tempDir('batch');
const trace = path.join(work, 'imix.pcap');
const gen = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'tools', 'samplegen', 'main.js'), '--kind', 'imix', '--packets', '20000', '--out', trace], { encoding: 'utf8' });
assert.is(gen.status, 0, gen.stderr);

test('a generated IMIX trace arrives whole, in order, each 1 MiB buffer filled to its last packet', () => {
  const h = batchBinding.openOffline(trace);
  assert.is(batchBinding.linkType(h), 1);
  const r = readAll(h, 1 << 20);
  batchBinding.close(h);
  const want = parsePcap(fs.readFileSync(trace));
  sameRecords(r.records, want.records, false, want.snaplen, 'imix');
  assert.is(r.error, null);
  assert.ok(r.fullBatches >= 5, `the buffers were filled: ${r.fullBatches} full of ${r.batches}`);
  assert.ok(r.batches < 20, `one call per buffer, not per packet: ${r.batches} calls for 20000 packets`);
});

test('a buffer smaller than the next packet takes nothing; the packet waits for the next call', () => {
  const h = batchBinding.openOffline(trace);
  const tiny = Buffer.alloc(20);
  assert.equal(batchBinding.dispatch(h, tiny, 0, 10), [0, 0, BatchStatus.Full, 0]);
  const r = readAll(h, 64 * 1024);
  batchBinding.close(h);
  assert.is(r.records.length, 20000, 'nothing lost while it waited');
});

test('maxPackets bounds a batch', () => {
  const h = batchBinding.openOffline(trace);
  const [packets, , status] = batchBinding.dispatch(h, Buffer.alloc(1 << 20), 0, 7);
  batchBinding.close(h);
  assert.is(packets, 7);
  assert.is(status, BatchStatus.More);
});

test('the whole tcpdump corpus: no crash; every file an independent reader reads gives the same records', () => {
  let compared = 0;
  let damaged = 0;
  let unopened = 0;
  for (const file of corpusFiles()) {
    let h: CaptureHandle;
    try {
      h = batchBinding.openOffline(file);
    } catch (e) {
      assert.ok((e as Error).message.length > 0, `${file}: an error without a message`);
      unopened++;
      continue;
    }
    const r = readAll(h, 256 * 1024);
    batchBinding.close(h);
    if (r.error) damaged++;
    const want = parsePcap(fs.readFileSync(file));
    // pcapng and other formats the test reader does not know are only read, not compared.
    if (want.linkType < 0 || want.error !== null || r.error) continue;
    sameRecords(r.records, want.records, want.nanosecond, want.snaplen, path.basename(file));
    compared++;
  }
  assert.ok(compared > 350, `compared ${compared} files (damaged ${damaged}, not opened ${unopened})`);
});

test('maxCaplen cuts a long packet to it and keeps its original length', () => {
  const h = batchBinding.openOffline(trace);
  const want = parsePcap(fs.readFileSync(trace)).records.slice(0, 500);
  const buf = Buffer.alloc(1 << 20);
  const [packets, end] = batchBinding.dispatch(h, buf, 0, 500, 100);
  batchBinding.close(h);
  assert.is(packets, 500);
  let at = 0;
  let cut = 0;
  for (const w of want) {
    const caplen = buf.readUInt32LE(at + 8);
    assert.is(caplen, Math.min(w.caplen, 100));
    assert.is(buf.readUInt32LE(at + 12), w.origLen);
    assert.ok(buf.subarray(at + 16, at + 16 + caplen).equals(w.data.subarray(0, caplen)));
    if (w.caplen > 100) cut++;
    at += 16 + caplen;
  }
  assert.is(at, end);
  assert.ok(cut > 50, `the trace has long packets to cut: ${cut}`);
});

test('the link type is the LINKTYPE number a pcap file carries, raw IP included', () => {
  const raw = path.join(corpusDir, 'babel_rtt.pcap');
  assert.is(fs.readFileSync(raw).readUInt32LE(20), 101, 'the file says LINKTYPE_RAW');
  const h = batchBinding.openOffline(raw);
  assert.is(batchBinding.linkType(h), 101, 'not libpcap\'s DLT_RAW (12)');
  batchBinding.close(h);
});

test('checkFilter compiles a filter without a device, and refuses a bad one with libpcap\'s message', () => {
  batchBinding.checkFilter(1, 65535, 'tcp port 443 or (udp and port 53)');
  batchBinding.checkFilter(101, 65535, 'ip6');
  assert.throws(() => batchBinding.checkFilter(1, 65535, 'tcp port banana'), /banana/);
  assert.throws(() => batchBinding.checkFilter(101, 65535, 'ether host 00:11:22:33:44:55'), /ether/i);
});

test('gcmSeal is standard AES-256-GCM: the same bytes and tag as node:crypto, empty body included', () => {
  for (const size of [0, 1, 15, 16, 17, 4096, 1 << 20]) {
    const key = crypto.randomBytes(32), iv = crypto.randomBytes(12), ad = crypto.randomBytes(64), body = crypto.randomBytes(size);
    const out = Buffer.alloc(size + 16);
    batchBinding.gcmSeal(key, iv, ad, body, out);
    const c = crypto.createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(ad);
    const want = Buffer.concat([c.update(body), c.final(), c.getAuthTag()]);
    assert.ok(out.equals(want), `${size} bytes`);
  }
  const body = Buffer.alloc(100);
  assert.throws(() => batchBinding.gcmSeal(Buffer.alloc(16), Buffer.alloc(12), Buffer.alloc(0), body, Buffer.alloc(116)), /32-byte key/);
  assert.throws(() => batchBinding.gcmSeal(Buffer.alloc(32), Buffer.alloc(24), Buffer.alloc(0), body, Buffer.alloc(116)), /12-byte iv/);
  assert.throws(() => batchBinding.gcmSeal(Buffer.alloc(32), Buffer.alloc(12), Buffer.alloc(0), body, Buffer.alloc(115)), /body \+ 16/);
});

test('countRecords in C agrees with the JavaScript walk: whole bodies, cut ones, a caplen past the end, huge caplens', () => {
  const rec = (caplen: number, fill = caplen): Buffer => {
    const b = Buffer.alloc(16 + fill);
    b.writeUInt32LE(caplen, 8);
    return b;
  };
  const bodies: Buffer[] = [Buffer.alloc(0), Buffer.alloc(15), rec(0), rec(60), Buffer.concat([rec(60), rec(1514), rec(0)]), rec(0xffffffff, 4), rec(0x7fffffff, 4), rec(61, 60)];
  const many = Buffer.concat(Array.from({ length: 5000 }, (_, i) => rec((i * 37) % 1600)));
  bodies.push(many);
  for (let cut = 1; cut < 40; cut += 3) bodies.push(many.subarray(0, many.length - cut));
  for (const b of bodies) assert.is(batchBinding.countRecords(b), countRecords(b), `${b.length} bytes`);
  assert.is(batchBinding.countRecords(many), 5000);
  assert.throws(() => (batchBinding.countRecords as (x: unknown) => number)('not a buffer'), /takes a Buffer/);
});

test('gcmSeal counts the records it seals as countRecords does, across its 64 KiB chunks, and seals a body that does not tile the same', () => {
  const rec = (caplen: number, fill = caplen): Buffer => {
    const b = Buffer.alloc(16 + fill, 0x5a);
    b.writeUInt32LE(caplen, 8);
    return b;
  };
  // Records of every size from 0 to 1599 bytes: headers land on, just before and across chunk edges.
  const many = Buffer.concat(Array.from({ length: 5000 }, (_, i) => rec((i * 37) % 1600)));
  const oneBig = Buffer.concat([rec(65536 * 3 + 5), rec(10)]);
  const edge = Buffer.concat([rec(65536 - 16), rec(65536 - 32), rec(0)]); // records ending exactly on chunk edges
  const bodies: Buffer[] = [Buffer.alloc(0), rec(0), Buffer.alloc(15), many, oneBig, edge, rec(0xffffffff, 4), rec(61, 60)];
  for (let cut = 1; cut < 40; cut += 3) bodies.push(many.subarray(0, many.length - cut));
  bodies.push(Buffer.concat([many, Buffer.alloc(7)]));
  for (const body of bodies) {
    const key = crypto.randomBytes(32), iv = crypto.randomBytes(12), ad = crypto.randomBytes(64);
    const out = Buffer.alloc(body.length + 16);
    assert.is(batchBinding.gcmSeal(key, iv, ad, body, out), countRecords(body), `${body.length} bytes`);
    const c = crypto.createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(ad);
    assert.ok(out.equals(Buffer.concat([c.update(body), c.final(), c.getAuthTag()])), `${body.length} bytes`);
  }
  assert.is(countRecords(many), 5000);
  assert.is(countRecords(edge), 3);
  assert.is(countRecords(many.subarray(0, many.length - 1)), -1);
});

test('gcmOpen opens what node:crypto sealed, in place, and refuses any flipped bit of cipher, tag or ad with out zeroed', () => {
  for (const size of [0, 1, 15, 16, 17, 4096, 1 << 20]) {
    const key = crypto.randomBytes(32), iv = crypto.randomBytes(12), ad = crypto.randomBytes(64), body = crypto.randomBytes(size);
    const c = crypto.createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(ad);
    const cipher = Buffer.concat([c.update(body), c.final()]);
    const tag = c.getAuthTag();
    const out = Buffer.alloc(size, 0xee);
    assert.is(batchBinding.gcmOpen(key, iv, ad, cipher, tag, out), true, `${size} bytes`);
    assert.ok(out.equals(body), `${size} bytes`);
    const flips: [string, Buffer][] = [['tag', tag], ['ad', ad], ...(size > 0 ? [['cipher', cipher] as [string, Buffer]] : [])];
    for (const [what, b] of flips) {
      const at = b.length >> 1;
      b[at] ^= 1;
      const bad = Buffer.alloc(size, 0xee);
      assert.is(batchBinding.gcmOpen(key, iv, ad, cipher, tag, bad), false, `${what} flipped, ${size} bytes`);
      assert.ok(bad.every((x) => x === 0), `${what} flipped: out zeroed`);
      b[at] ^= 1;
    }
  }
  const z = (n: number): Buffer => Buffer.alloc(n);
  assert.throws(() => batchBinding.gcmOpen(z(16), z(12), z(0), z(100), z(16), z(100)), /32-byte key/);
  assert.throws(() => batchBinding.gcmOpen(z(32), z(12), z(0), z(100), z(12), z(100)), /16-byte tag/);
  assert.throws(() => batchBinding.gcmOpen(z(32), z(12), z(0), z(100), z(16), z(99)), /as long as cipher/);
});

test('gcmSeal runs in the system\'s libcrypto, not in the OpenSSL the node binary exports under the same names', () => {
  const [file, version] = batchBinding.cryptoLibrary();
  assert.match(path.basename(file), /^libcrypto\.so\./, file);
  assert.is.not(fs.realpathSync(file), fs.realpathSync(process.execPath));
  assert.match(version, /^OpenSSL 3\./);
});

test('allocate reserves a file\'s blocks without writing them, and returns the errno where it cannot', () => {
  const dir = tempDir('allocate');
  const file = path.join(dir, 'slot');
  const fd = fs.openSync(file, 'w');
  try {
    assert.is(batchBinding.allocate(fd, 3 << 20), 0);
    const st = fs.fstatSync(fd);
    assert.is(st.size, 3 << 20);
    assert.ok(st.blocks * 512 >= 3 << 20, `only ${st.blocks * 512} bytes allocated`);
  } finally {
    fs.closeSync(fd);
  }
  assert.ok(fs.readFileSync(file).every((x) => x === 0));
  const ro = fs.openSync(file, 'r');
  try {
    assert.is(batchBinding.allocate(ro, 1 << 20), 9 /* EBADF: not open for writing */);
  } finally {
    fs.closeSync(ro);
  }
  assert.throws(() => batchBinding.allocate(-1, 10), /allocate\(fd, length\)/);
  assert.throws(() => batchBinding.allocate(1, 0), /allocate\(fd, length\)/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('capture slots take no copy-on-write faults after a child process starts; plain memory takes one per page or huge page', () => {
  const { plainFaults, slotFaults } = faultsInFreshProcess('cow');
  assert.ok(plainFaults >= PROBE_HUGE_PAGES, `the control took ${plainFaults} faults: the fork did not write-protect it, so this test shows nothing here`);
  assert.ok(slotFaults * 8 < plainFaults, `the slots took ${slotFaults} faults (plain memory ${plainFaults})`);
  assert.throws(() => batchBinding.keepFromChildren('no' as unknown as Buffer, true), /keepFromChildren\(buffer, keep\)/);
});

test('touched slots and prefaulted memory take no page fault on their first writes; untouched memory takes one per page or huge page', () => {
  const { untouched, slotFaults, prefaultErrno, prefaulted } = faultsInFreshProcess('touched');
  assert.is(prefaultErrno, 0);
  assert.ok(untouched >= PROBE_HUGE_PAGES, `untouched memory took ${untouched} faults: the fault counter shows nothing here`);
  assert.ok(slotFaults * 8 < untouched, `touched slots took ${slotFaults} faults (untouched memory ${untouched})`);
  assert.ok(prefaulted * 8 < untouched, `prefaulted memory took ${prefaulted} faults (untouched memory ${untouched})`);
  assert.is(batchBinding.prefault(Buffer.alloc(0)), 0);
  assert.throws(() => batchBinding.prefault('no' as unknown as Buffer), /prefault\(buffer\)/);
});

test('pools let go one after another leave no page that children miss: every later child process starts', () => {
  // The flag outlives a pool the allocator takes back; a child whose arguments land in
  // such memory fails to start (spawn EFAULT: 5 of these 20 did when pools were not
  // released). The pools are collected for real, as the runs of a long-lived process's
  // boxes would be.
  v8.setFlagsFromString('--expose_gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 6; i++) {
    releaseSlotPool(createSlotPool(2, 4 << 20));
    gc();
  }
  for (let i = 0; i < 20; i++) {
    const held = Array.from({ length: 64 }, () => Buffer.alloc(64 * 1024, 1)); // the allocator hands memory out again
    const r = spawnSync('true', Array.from({ length: 64 }, (_, k) => 'x'.repeat(1024) + k));
    assert.is(r.error, undefined, `child ${i} did not start (${held.length} buffers held): ${r.error?.message}`);
    assert.is(r.status, 0);
  }
});

test('becomeCaptureThread names the calling thread and raises its priority above the process\'s others', async () => {
  const { Worker } = await import('node:worker_threads');
  const code = `
    const { parentPort } = require('node:worker_threads');
    const fs = require('node:fs');
    const b = require(${JSON.stringify(ADDON_PATH)});
    const nice = b.becomeCaptureThread();
    const comm = fs.readFileSync('/proc/thread-self/comm', 'utf8').trim();
    const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
    parentPort.postMessage({ nice, comm, statNice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) });`;
  const got = await new Promise<{ nice: number; comm: string; statNice: number }>((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  });
  assert.is(got.comm, 'sealtap-capture');
  assert.is(got.statNice, got.nice, 'the kernel reports the nice value returned');
  // Tests run as root (network namespaces), which may raise a priority.
  assert.is(got.nice, -10);
  const main = fs.readFileSync('/proc/self/stat', 'utf8');
  assert.is(Number(main.slice(main.lastIndexOf(')') + 2).split(' ')[16]), 0, 'the main thread keeps its priority');
});

/** read(2) calls made so far by the calling thread (the addon reads a savefile on it). */
function readCalls(): number {
  return Number(/^syscr: (\d+)$/m.exec(fs.readFileSync('/proc/thread-self/io', 'utf8'))![1]);
}

test('a savefile is read in large blocks, not a read(2) per few packets', () => {
  const bytes = fs.statSync(trace).size;
  for (const blocks of [true, false]) {
    const before = readCalls();
    const h = batchBinding.openOffline(trace, blocks);
    const r = readAll(h, 1 << 20);
    batchBinding.close(h);
    const calls = readCalls() - before - 1; // the one above, reading /proc
    assert.is(r.records.length, 20000);
    // In blocks, 128 KiB at a time into the caller's buffer, and at each call's end the
    // packet that waits (its header, then its body); through libpcap, 256 KiB at a time
    // (stdio's default, the file's 4 KiB block, took bytes / 4096 calls).
    const most = blocks ? Math.ceil(bytes / (128 * 1024)) + 3 * r.batches + 2 : Math.ceil(bytes / (256 * 1024)) + 2;
    assert.ok(calls <= most, `${blocks ? 'in blocks' : 'through libpcap'}: ${calls} reads for ${bytes} bytes in ${r.batches} calls`);
  }
});

/** Every dispatch call's result and bytes, a new room after each full one, as the capture thread reads. */
function callsOf(file: string, blocks: boolean, room: number, max: number, maxCaplen?: number): string[] {
  let h: CaptureHandle;
  try {
    h = batchBinding.openOffline(file, blocks);
  } catch (e) {
    return [`not opened: ${(e as Error).message}`];
  }
  const out: string[] = [];
  const buf = Buffer.alloc(room);
  let at = 0;
  let idle = 0;
  for (let i = 0; i < 100_000; i++) {
    const r = maxCaplen === undefined ? batchBinding.dispatch(h, buf, at, max) : batchBinding.dispatch(h, buf, at, max, maxCaplen);
    const [packets, end, status, lastAt, error] = r;
    out.push(`${packets} ${end} ${status} ${lastAt} ${error ?? ''} ${crypto.createHash('sha256').update(buf.subarray(at, end)).digest('hex')}`);
    if (status === BatchStatus.EndOfFile || status === BatchStatus.Error) break;
    idle = packets === 0 ? idle + 1 : 0;
    if (idle > 2) break; // a packet no room takes: both readers must say so alike
    at = status === BatchStatus.Full || end + RECORD_HEADER_BYTES > room ? 0 : end;
  }
  batchBinding.close(h);
  return out;
}

/** Copies of a clean trace cut short and spoiled: every way a record can end the file or stop libpcap. */
function spoiledTraces(): string[] {
  const whole = fs.readFileSync(trace).subarray(0, 200_000);
  const files: string[] = [];
  const write = (name: string, bytes: Buffer): void => {
    const f = path.join(work, name);
    fs.writeFileSync(f, bytes);
    files.push(f);
  };
  // Cut in a record header, in a body and at a record's end (the generator's first record starts at 24).
  const first = 24 + 16 + whole.readUInt32LE(24 + 8);
  for (const cut of [24, 30, first - 5, first, first + 7, 100_001, 150_003]) write(`cut-${cut}.pcap`, whole.subarray(0, cut));
  // A record claiming more than the snap length, one more than libpcap takes at all, and caplen > len.
  for (const [name, caplen] of [['over-snaplen', 70_000], ['bogus', 0x7fff_ffff]] as const) {
    const b = Buffer.from(whole);
    b.writeUInt32LE(caplen, first + 8);
    write(`${name}.pcap`, b);
  }
  const b = Buffer.from(whole);
  b.writeUInt32LE(3, first + 12); // an original length below the captured one
  write('caplen-over-len.pcap', b);
  return files;
}

test('reading in blocks gives what libpcap gives, call by call: the whole corpus, spoiled traces, small rooms, limits and cuts', () => {
  const settings: Array<[room: number, max: number, maxCaplen?: number]> = [[256 * 1024, 1_000_000], [64 * 1024, 7, 100], [3000, 1_000_000, 1500], [2048, 1], [1 << 20, 4096]];
  let calls = 0;
  const files = [...corpusFiles(), trace, ...spoiledTraces()];
  for (const file of files) {
    for (const [room, max, maxCaplen] of settings) {
      const want = callsOf(file, false, room, max, maxCaplen);
      const got = callsOf(file, true, room, max, maxCaplen);
      assert.equal(got, want, `${path.basename(file)}, room ${room}, max ${max}, maxCaplen ${maxCaplen}`);
      calls += got.length;
    }
  }
  assert.ok(calls > 5000, `${calls} calls compared`);
});

test('the savefile is opened close-on-exec: no process started later inherits it', () => {
  const h = batchBinding.openOffline(trace);
  const fds = fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === fs.realpathSync(trace);
    } catch {
      return false;
    }
  });
  assert.is(fds.length, 1, 'one descriptor of the trace');
  const flags = parseInt(/^flags:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fds[0]}`, 'utf8'))![1], 8);
  batchBinding.close(h);
  assert.ok((flags & 0o2000000) !== 0, `flags ${flags.toString(8)} without O_CLOEXEC`);
});

test('misuse is a clear error, never a crash', () => {
  assert.throws(() => batchBinding.openOffline(path.join(work, 'missing.pcap')), /missing\.pcap: No such file or directory/);
  const notPcap = path.join(work, 'not-a-pcap.txt');
  fs.writeFileSync(notPcap, 'just some text, no pcap magic here\n');
  assert.throws(() => batchBinding.openOffline(notPcap), /not-a-pcap\.txt: unknown file format/);
  const h = batchBinding.openOffline(trace);
  assert.throws(() => batchBinding.dispatch(h, Buffer.alloc(16), 17, 1), /offset outside the buffer/);
  assert.throws(() => batchBinding.dispatch(h, Buffer.alloc(16), 0, 0), /maxPackets < 1/);
  batchBinding.close(h);
  assert.throws(() => batchBinding.dispatch(h, Buffer.alloc(16), 0, 1), /the handle is closed/);
  assert.throws(() => batchBinding.dispatch({} as CaptureHandle, Buffer.alloc(16), 0, 1), /not a capture handle/);
  assert.match(batchBinding.libVersion(), /libpcap/);
});

/** This process's resident pages of mapped files, in kB (/proc/self/status RssFile). */
function rssFileKb(): number {
  return Number(/RssFile:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
}

test('a mapped slot file reads what is written to the file, maps its pages in and lets them go, and slotPages acts on nothing else', () => {
  const dir = tempDir('slotmap');
  const file = path.join(dir, 'slot-000000.seg');
  const size = 8 << 20;
  fs.writeFileSync(file, crypto.randomBytes(size));
  const fd = fs.openSync(file, 'r');
  assert.throws(() => batchBinding.mapSlotFile(fd, size + 1), /shorter than the length/);
  const map = batchBinding.mapSlotFile(fd, size);
  fs.closeSync(fd);
  assert.is(map.length, size);
  assert.ok(map.equals(fs.readFileSync(file)), 'the mapping reads the file');
  // A write through another descriptor shows at once, as the supervisor's do.
  const w = fs.openSync(file, 'r+');
  fs.writeSync(w, Buffer.alloc(4096, 0xab), 0, 4096, 8192);
  fs.closeSync(w);
  assert.ok(map.subarray(8192, 8192 + 4096).every((b) => b === 0xab), 'the write shows in the mapping');
  // The reads above mapped every page in: let them go, then map them in at once.
  assert.is(batchBinding.slotPages(map, size, false), 0);
  const before = rssFileKb();
  assert.is(batchBinding.slotPages(map, size, true), 0);
  const populated = rssFileKb();
  assert.ok(populated - before > 6 * 1024, `mapping in ${size >> 10} kB added ${populated - before} kB`);
  assert.is(batchBinding.slotPages(map, size, false), 0);
  assert.ok(populated - rssFileKb() > 6 * 1024, 'letting go left the pages resident');
  assert.ok(map.equals(fs.readFileSync(file)), 'pages let go read the file again');
  // Never another buffer: MADV_DONTNEED would zero anonymous memory.
  const other = Buffer.alloc(16384, 7);
  assert.throws(() => batchBinding.slotPages(other, other.length, false), /not a slot file mapSlotFile mapped/);
  assert.ok(other.every((b) => b === 7));
  assert.throws(() => batchBinding.slotPages(map.subarray(100), 4096, false), /not a slot file mapSlotFile mapped/);
  assert.throws(() => batchBinding.slotPages(map, size + 1, true), /slotPages\(buffer, end, read\)/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test.run();
