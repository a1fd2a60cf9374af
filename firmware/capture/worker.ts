// The capture thread. Its packet handler does one thing: copy the 16-byte pcap record
// header and the packet bytes into the current preallocated segment slot. Sealing and
// writing happen on the supervisor thread. Anything added to onPacket costs on every
// packet at line rate: keep it a copy and a few integer updates.
import { parentPort, workerData } from 'node:worker_threads';
import { pcapBinding, linkTypeNumber, NativePcapSession } from './pcap-binding';
import { Ctl, SlotPool, SlotState, CaptureMessage } from './slots';
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
}

const wd = workerData as CaptureWorkerData;
const port = parentPort!;
const { pool } = wd;
const slotBytes = pool.slotBytes;
const data = Buffer.from(pool.data);
const ctl = new Int32Array(pool.control);
const stateBase = Ctl.count;

const pktBuf = Buffer.alloc(wd.source.kind === 'interface' ? wd.source.snaplen : 262144);
const hdr = Buffer.alloc(16);

let cur = -1; // slot being filled
let base = 0; // byte offset of that slot in data
let used = 0;
let count = 0;
let firstSec = 0, firstUsec = 0, lastSec = 0, lastUsec = 0;
let filledAt = 0;
let captured = 0;
let slotDropped = 0;
let done = false;

// Original-speed replay bookkeeping.
let replayStartMs = -1;
let replayFirstUs = 0;

function post(m: CaptureMessage): void {
  port.postMessage(m);
}

function publish(): void {
  if (cur < 0 || count === 0) return;
  Atomics.store(ctl, stateBase + cur, SlotState.full);
  post({ type: 'segment', slot: cur, used, count, firstSec, firstUsec, lastSec, lastUsec });
  cur = -1;
}

function takeFreeSlot(): boolean {
  for (;;) {
    for (let i = 0; i < pool.slots; i++) {
      if (Atomics.compareExchange(ctl, stateBase + i, SlotState.free, SlotState.filling) === SlotState.free) {
        cur = i;
        base = i * slotBytes;
        used = 0;
        count = 0;
        filledAt = Date.now();
        return true;
      }
    }
    if (!wd.waitForSlot || Atomics.load(ctl, Ctl.stop) !== 0) return false;
    // Lossless file replay: wait until the supervisor hands a slot back.
    const seen = Atomics.load(ctl, Ctl.freed);
    Atomics.wait(ctl, Ctl.freed, seen, 200);
  }
}

function paceToOriginalSpeed(sec: number, usec: number): void {
  const tsUs = sec * 1e6 + usec;
  const nowMs = performance.now();
  if (replayStartMs < 0) {
    replayStartMs = nowMs;
    replayFirstUs = tsUs;
    return;
  }
  let aheadMs = (tsUs - replayFirstUs) / 1000 - (nowMs - replayStartMs);
  while (aheadMs > 1 && Atomics.load(ctl, Ctl.stop) === 0) {
    if (cur >= 0 && count > 0 && Date.now() - filledAt >= wd.flushMs) publish();
    Atomics.wait(ctl, Ctl.sleep, 0, Math.min(aheadMs, 100));
    aheadMs = (tsUs - replayFirstUs) / 1000 - (performance.now() - replayStartMs);
  }
}

const originalSpeed = wd.source.kind === 'pcap' && wd.source.speed === 'original';
const live = wd.source.kind === 'interface';
const maxPackets = wd.maxPackets;

function onPacket(): void {
  if (done) return;
  // A file replay is one long dispatch call: the stop flag is checked per packet there.
  // A live capture checks it between dispatch calls (runLive) so it can drain at stop.
  if (!live && Atomics.load(ctl, Ctl.stop) !== 0) { done = true; return; }
  const sec = hdr.readUInt32LE(0);
  const usec = hdr.readUInt32LE(4);
  if (originalSpeed) paceToOriginalSpeed(sec, usec);
  let caplen = hdr.readUInt32LE(8);
  if (caplen > pktBuf.length) caplen = pktBuf.length;
  if (caplen > slotBytes - 16) caplen = slotBytes - 16;
  const need = 16 + caplen;
  if (cur < 0 || used + need > slotBytes || count >= maxRecordsPerSegment) {
    publish();
    if (!takeFreeSlot()) { slotDropped++; return; }
  }
  const at = base + used;
  // The header as read (time, the clamped caplen, origlen), then the bytes. Short
  // copies by plain loops: Buffer.copy's argument checks cost more than 64 bytes do.
  data.writeUInt32LE(sec, at);
  data.writeUInt32LE(usec, at + 4);
  data.writeUInt32LE(caplen, at + 8);
  data.writeUInt32LE(hdr.readUInt32LE(12), at + 12);
  if (caplen <= 128) {
    const to = at + 16;
    for (let i = 0; i < caplen; i++) data[to + i] = pktBuf[i];
  } else {
    pktBuf.copy(data, at + 16, 0, caplen);
  }
  used += need;
  if (count === 0) { firstSec = sec; firstUsec = usec; }
  lastSec = sec;
  lastUsec = usec;
  count++;
  captured++;
  if (maxPackets > 0 && captured >= maxPackets) done = true;
}

function finish(reason: string, readError: string | null, session: NativePcapSession | null): void {
  publish();
  try { session?.close(); } catch { /* already closed by libpcap at end of file */ }
  post({ type: 'done', reason, captured, slotDropped, readError });
  // Let the message flush before the thread ends.
  setImmediate(() => process.exit(0));
}

function warn(): void { /* libpcap warnings (e.g. promiscuous mode) are not fatal */ }

function runFile(path: string, session: NativePcapSession): void {
  const linkName = session.open_offline(path, '', 0, pktBuf.length, '', onPacket, false, 0, warn, false);
  port.postMessage({ type: 'linktype', linkType: linkTypeNumber(linkName) });
  // Let the supervisor take the link type before the first segment arrives.
  setImmediate(() => {
    const r = session.dispatch(pktBuf, hdr);
    const reason = Atomics.load(ctl, Ctl.stop) !== 0 || (maxPackets > 0 && captured >= maxPackets) ? 'stopped' : 'end of file';
    finish(reason, r < 0 && reason === 'end of file' ? `libpcap stopped reading ${path} after ${captured} packets: the file is truncated or corrupt` : null, session);
  });
}

function runLive(name: string, filter: string, bufferBytes: number, session: NativePcapSession): void {
  // A read timeout > 0 keeps TPACKET_V3 block batching on; immediate mode would wake us per packet.
  const linkName = session.open_live(name, filter, bufferBytes, pktBuf.length, '', onPacket, false, 50, warn, true);
  port.postMessage({ type: 'linktype', linkType: linkTypeNumber(linkName) });
  // The handle is non-blocking. We poll it from a plain loop that sleeps on the shared
  // control array when the kernel has nothing ready, rather than with node-pcap's
  // start_polling: its uv_poll handle is stopped but never closed, which aborts the
  // whole process when a worker thread's event loop is torn down at stop.
  const postStats = (): void => {
    const s = session.stats();
    post({ type: 'stats', psRecv: s.ps_recv, psDrop: s.ps_drop, psIfdrop: s.ps_ifdrop });
  };
  let lastStats = Date.now();
  while (!done && Atomics.load(ctl, Ctl.stop) === 0) {
    const r = session.dispatch(pktBuf, hdr);
    const now = Date.now();
    if (cur >= 0 && count > 0 && now - filledAt >= wd.flushMs) publish();
    if (now - lastStats >= wd.statsMs) { postStats(); lastStats = now; }
    if (r <= 0) Atomics.wait(ctl, Ctl.sleep, 0, 2);
  }
  // Take what the kernel still holds: a partly filled TPACKET_V3 block is handed
  // over when its read timeout (50 ms) expires.
  if (!done) {
    Atomics.wait(ctl, Ctl.sleep, 0, 60);
    session.dispatch(pktBuf, hdr);
  }
  done = true;
  postStats();
  finish('stopped', null, session);
}

function main(): void {
  const session = new pcapBinding.PcapSession();
  try {
    if (wd.source.kind === 'pcap') runFile(wd.source.path, session);
    else runLive(wd.source.name, wd.source.filter, wd.source.bufferBytes, session);
  } catch (e) {
    post({ type: 'failed', message: (e as Error).message });
    setImmediate(() => process.exit(0));
  }
}

main();
