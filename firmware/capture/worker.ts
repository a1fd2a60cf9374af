// The capture thread. It asks the project's libpcap addon (batch-binding.ts) to copy a
// batch of packets, as 16-byte pcap record headers and bytes, straight into the current
// preallocated segment slot; JavaScript runs once per batch, never per packet. Sealing
// and writing happen on the supervisor thread. Anything added to the batch loop costs on
// every batch: keep it a call and a few integer updates.
import { parentPort, workerData } from 'node:worker_threads';
import { batchBinding, BatchStatus, CaptureHandle, RECORD_HEADER_BYTES } from './batch-binding';
import { Ctl, SlotPool, SlotState, CaptureMessage, touchSlotPool } from './slots';
import type { Source } from '../supervisor/config';
import { maxRecordsPerSegment } from '../analysis/ipc';

export interface CaptureWorkerData {
  source: Source;
  pool: SlotPool;
  /** Publish a partly filled slot after this long, so slow traffic still flows on. */
  flushMs: number;
  statsMs: number;
  /** Stop after this many packets (stop.packets), or 0 for no limit. */
  maxPackets: number;
  /** File sources: wait for a free slot instead of dropping (lossless replay). */
  waitForSlot: boolean;
  /** This thread's number, 0.. */
  thread: number;
  /** Several live capture threads: their PACKET_FANOUT group and how many join it. */
  fanout: { group: number; members: number } | null;
}

/** What a thread started ahead of need is sent: a pool to touch, then what to capture. */
export type SpareMessage = { type: 'touch'; pool: SlotPool } | { type: 'start'; data: CaptureWorkerData };

/**
 * Packets per addon call at most. A slot's room and maxRecordsPerSegment bound a batch
 * too; this bound keeps the stop flag and the flush timer looked at often while a file
 * is replayed at full speed (4096 small packets take well under a millisecond).
 */
const BATCH_PACKETS = 4096;
/** The libpcap read timeout: how long the kernel may hold a partly filled TPACKET_V3 block. */
const READ_TIMEOUT_MS = 50;
/** The longest the live loop blocks on the descriptor before it looks at the stop flag. */
const WAIT_MS = 100;
/** A filter no packet passes (every packet has a length). */
const REJECT_ALL = 'len < 1';

// Set once, from workerData or, for a thread started ahead of need (SpareCaptureThreads
// in capture.ts), from its 'start' message; read by every function below.
let wd!: CaptureWorkerData;
let pool!: SlotPool;
let slotBytes = 0;
let slotViews: Buffer[] = [];
let ctl!: Int32Array;
let live = false;
let maxCaplen = 0;
let maxPackets = 0;
const stateBase = Ctl.count;
const port = parentPort!;

function configure(d: CaptureWorkerData): void {
  wd = d;
  pool = d.pool;
  slotBytes = pool.slotBytes;
  const data = Buffer.from(pool.data);
  slotViews = Array.from({ length: pool.slots }, (_, i) => data.subarray(i * slotBytes, (i + 1) * slotBytes));
  ctl = new Int32Array(pool.control);
  live = d.source.kind === 'interface';
  // A record always fits an empty slot: longer packets are cut (their original length kept).
  maxCaplen = Math.min(d.source.kind === 'interface' ? d.source.snaplen : 262144, slotBytes - RECORD_HEADER_BYTES);
  maxPackets = d.maxPackets;
}

let cur = -1; // slot being filled
let used = 0;
let count = 0;
let firstSec = 0, firstUsec = 0, lastSec = 0, lastUsec = 0;
let filledAt = 0;
let captured = 0;
let slotDropped = 0;
/** Where packets go when every slot is busy on a live source: read, counted, discarded. */
let discard: Buffer | null = null;

function post(m: CaptureMessage): void {
  port.postMessage(m);
}

function stopping(): boolean {
  return Atomics.load(ctl, Ctl.stop) !== 0;
}

function limitReached(): boolean {
  return maxPackets > 0 && captured >= maxPackets;
}

function publish(): void {
  if (cur < 0 || count === 0) return;
  Atomics.store(ctl, stateBase + cur, SlotState.full);
  post({ type: 'segment', slot: cur, used, count, firstSec, firstUsec, lastSec, lastUsec });
  cur = -1;
}

function takeFreeSlot(): boolean {
  let waited = false;
  for (;;) {
    for (let i = 0; i < pool.slots; i++) {
      if (Atomics.compareExchange(ctl, stateBase + i, SlotState.free, SlotState.filling) === SlotState.free) {
        cur = i;
        used = 0;
        count = 0;
        return true;
      }
    }
    // A live capture waits too: meanwhile its packets wait in the kernel's ring, which
    // counts what it cannot hold (kernel drops). A file replay waits only when the
    // spool is to wait (lossless replay); otherwise the packets are read and counted.
    if ((!live && !wd.waitForSlot) || stopping()) return false;
    if (!waited) { waited = true; Atomics.add(ctl, Ctl.waits, 1); }
    const seen = Atomics.load(ctl, Ctl.freed);
    Atomics.wait(ctl, Ctl.freed, seen, 200);
  }
}

/** How many packets the next call may take. */
function batchLimit(): number {
  let n = Math.min(BATCH_PACKETS, maxRecordsPerSegment - count);
  if (maxPackets > 0) n = Math.min(n, maxPackets - captured);
  return n;
}

interface Batch {
  status: BatchStatus;
  packets: number;
  /** The call stopped short of its limit: the source has nothing more right now. */
  drained: boolean;
  error?: string;
}

/** One addon call into the current slot (taken first if there is none). */
function fillOnce(): Batch {
  const limit = batchLimit();
  if (cur < 0 && !takeFreeSlot()) {
    // A file replay that is asked to stop while it waits for a slot reads no further.
    if (!live && stopping()) return { status: BatchStatus.More, packets: 0, drained: true };
    // Every slot is busy and the source does not wait (a file replay whose spool drops,
    // or the last read at a stop): read what comes, count it as dropped.
    discard ??= Buffer.alloc(1 << 20);
    const [n, , status, , error] = batchBinding.dispatch(handle!, discard, 0, limit, maxCaplen);
    slotDropped += n;
    return { status, packets: n, drained: status === BatchStatus.More && n < limit, error };
  }
  const [n, end, status, lastAt, error] = batchBinding.dispatch(handle!, slotViews[cur], used, limit, maxCaplen);
  if (n > 0) took(n, lastAt, end);
  if (status === BatchStatus.Full) publish();
  return { status, packets: n, drained: status === BatchStatus.More && n < limit, error };
}

/**
 * n records now stand in the current slot from `used` to `end`, the last at `lastAt`:
 * the slot's time span and counts follow, and a slot at its record limit goes to the
 * supervisor now.
 */
function took(n: number, lastAt: number, end: number): void {
  const view = slotViews[cur];
  // The flush timer runs from the slot's first packet, not from when it was taken.
  if (count === 0) { firstSec = view.readUInt32LE(used); firstUsec = view.readUInt32LE(used + 4); filledAt = Date.now(); }
  lastSec = view.readUInt32LE(lastAt);
  lastUsec = view.readUInt32LE(lastAt + 4);
  used = end;
  count += n;
  captured += n;
  if (count >= maxRecordsPerSegment) publish();
}

function finish(reason: string, readError: string | null): void {
  publish();
  if (handle) batchBinding.close(handle);
  handle = null;
  post({ type: 'done', reason, captured, slotDropped, readError });
  // Let the message flush before the thread ends.
  setImmediate(() => process.exit(0));
}

let handle: CaptureHandle | null = null;

function runFile(path: string): void {
  handle = batchBinding.openOffline(path);
  post({ type: 'linktype', linkType: batchBinding.linkType(handle) });
  // Let the supervisor take the link type before the first segment arrives.
  setImmediate(() => {
    const original = wd.source.kind === 'pcap' && wd.source.speed === 'original';
    let readError: string | null = null;
    let eof = false;
    while (!stopping() && !limitReached()) {
      const r = original ? replayOneAtOriginalSpeed() : fillOnce();
      if (r.status === BatchStatus.EndOfFile) { eof = true; break; }
      if (r.status === BatchStatus.Error) {
        readError = `libpcap stopped reading ${path} after ${captured} packets: the file is truncated or corrupt`;
        eof = true;
        break;
      }
    }
    finish(eof ? 'end of file' : 'stopped', readError);
  });
}

// Original-speed replay: one packet at a time into a scratch record, held until its
// time comes, then copied into the slot. Pacing is per packet by nature, and a replay
// at the trace's own speed is bounded by the trace, not by this loop.
let scratch: Buffer | null = null;
let replayStartMs = -1;
let replayFirstUs = 0;

function replayOneAtOriginalSpeed(): Batch {
  scratch ??= Buffer.alloc(RECORD_HEADER_BYTES + maxCaplen);
  const [n, end, status, , error] = batchBinding.dispatch(handle!, scratch, 0, 1, maxCaplen);
  if (n === 0) return { status, packets: 0, drained: true, error };
  const sec = scratch.readUInt32LE(0);
  const usec = scratch.readUInt32LE(4);
  paceTo(sec * 1e6 + usec);
  if (stopping()) return { status: BatchStatus.More, packets: 0, drained: false };
  if (cur >= 0 && used + end > slotBytes) publish();
  if (cur < 0 && !takeFreeSlot()) { slotDropped++; return { status, packets: 0, drained: false }; }
  scratch.copy(slotViews[cur], used, 0, end);
  took(1, used, used + end);
  return { status, packets: 1, drained: false };
}

function paceTo(tsUs: number): void {
  const nowMs = performance.now();
  if (replayStartMs < 0) {
    replayStartMs = nowMs;
    replayFirstUs = tsUs;
    return;
  }
  let aheadMs = (tsUs - replayFirstUs) / 1000 - (nowMs - replayStartMs);
  while (aheadMs > 1 && !stopping()) {
    if (cur >= 0 && count > 0 && Date.now() - filledAt >= wd.flushMs) publish();
    Atomics.wait(ctl, Ctl.sleep, 0, Math.min(aheadMs, 100));
    aheadMs = (tsUs - replayFirstUs) / 1000 - (performance.now() - replayStartMs);
  }
}

function runLive(name: string, filter: string, bufferBytes: number, snaplen: number): void {
  // A read timeout > 0 keeps TPACKET_V3 block batching on; immediate mode would wake us
  // per packet. The handle is non-blocking: the loop drains what is ready, then blocks
  // in poll() on the descriptor until the kernel retires the next block.
  handle = batchBinding.openLive(name, snaplen, bufferBytes, READ_TIMEOUT_MS, true);
  if (wd.fanout) joinFanout(wd.fanout.group, wd.fanout.members);
  if (filter !== '' || wd.fanout) batchBinding.setFilter(handle, filter);
  post({ type: 'linktype', linkType: batchBinding.linkType(handle) });
  const postStats = (): void => {
    const [psRecv, psDrop, psIfdrop] = batchBinding.stats(handle!);
    post({ type: 'stats', thread: wd.thread, psRecv, psDrop, psIfdrop });
  };
  let lastStats = Date.now();
  while (!stopping() && !limitReached()) {
    const r = fillOnce();
    const now = Date.now();
    if (cur >= 0 && count > 0 && now - filledAt >= wd.flushMs) publish();
    if (now - lastStats >= wd.statsMs) { postStats(); lastStats = now; }
    // A call that stopped short of its limit emptied the ring: block until more comes,
    // but no longer than the next flush or stats report is due.
    if (r.drained) {
      let wait = Math.min(WAIT_MS, lastStats + wd.statsMs - now);
      if (cur >= 0 && count > 0) wait = Math.min(wait, filledAt + wd.flushMs - now);
      batchBinding.wait(handle, Math.max(1, wait));
    }
  }
  // Take what the kernel still holds: a partly filled TPACKET_V3 block is handed over
  // only when its read timeout expires, so let that time pass, then drain the ring.
  if (!limitReached()) {
    Atomics.wait(ctl, Ctl.sleep, 0, READ_TIMEOUT_MS + 10);
    while (!limitReached() && !fillOnce().drained) { /* until the ring is empty */ }
  }
  postStats();
  finish('stopped', null);
}

/**
 * Joins the fanout group without taking a packet twice. Until a socket joins, it gets
 * its own copy of every packet; so each thread first rejects everything, joins, waits
 * for the whole group, then lets the ring's last block retire and throws away what the
 * socket took on its own before it rejected. Only then does the real filter go in (the
 * caller), and capture is announced after every thread did so. Packets in the moments
 * before that announcement may be missed; none is taken twice.
 */
function joinFanout(group: number, members: number): void {
  batchBinding.setFilter(handle!, REJECT_ALL);
  batchBinding.joinFanout(handle!, group);
  Atomics.add(ctl, Ctl.joined, 1);
  Atomics.notify(ctl, Ctl.joined);
  for (let n = Atomics.load(ctl, Ctl.joined); n < members && !stopping(); n = Atomics.load(ctl, Ctl.joined)) {
    Atomics.wait(ctl, Ctl.joined, n, WAIT_MS);
  }
  Atomics.wait(ctl, Ctl.sleep, 0, READ_TIMEOUT_MS + 10);
  const scrap = Buffer.alloc(1 << 20);
  while (batchBinding.dispatch(handle!, scrap, 0, BATCH_PACKETS)[0] > 0) { /* discard */ }
}

function main(): void {
  batchBinding.becomeCaptureThread();
  // The supervisor touches the slots' pages while this thread starts (slots.ts).
  while (Atomics.load(ctl, Ctl.ready) === 0 && !stopping()) Atomics.wait(ctl, Ctl.ready, 0, WAIT_MS);
  try {
    if (wd.source.kind === 'pcap') runFile(wd.source.path);
    else runLive(wd.source.name, wd.source.filter, wd.source.bufferBytes, wd.source.snaplen);
  } catch (e) {
    if (handle) batchBinding.close(handle);
    post({ type: 'failed', message: (e as Error).message });
    setImmediate(() => process.exit(0));
  }
}

// A thread started ahead of need has its node and its modules loaded; it waits for
// what to capture. Meanwhile it may be handed the slot pool to touch (SpareMessage).
if (workerData) {
  configure(workerData as CaptureWorkerData);
  main();
} else {
  const spare = (m: SpareMessage): void => {
    if (m.type === 'touch') return touchSlotPool(m.pool);
    port.off('message', spare);
    configure(m.data);
    main();
  };
  port.on('message', spare);
}
