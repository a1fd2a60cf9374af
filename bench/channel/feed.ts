// Feeds flow records to an open channel as fast as it takes them, the way the supervisor
// does: send() never blocks, so the feeder keeps the outbox between a low and a high
// mark and yields to the event loop so the writer can drain it. Without the marks the
// bounded outbox would drop records and the run would measure drops, not the writer.
import { Channel, ChannelStats } from '../../firmware/channel/writer';
import { FlowRecord, RecordType } from '../../firmware/channel/records';
import { realisticFlows } from './flow-mix';

export interface FlowPool {
  flows: FlowRecord[];
  /** JSON text of each flow (JSON.stringify): what flows.jsonl holds, and the payload measure. */
  json: string[];
  /** UTF-8 bytes of each flow's JSON: the payload the line exists to carry. */
  bytes: number[];
}

/** What every channel run of the benchmark reports, paced or into a pipe. */
export interface FedRun {
  encrypted: boolean;
  records: number;
  payloadBytes: number;
  lineBytes: number;
  frames: number;
  seconds: number;
  recordsSent: Record<string, number>;
}

/** The FedRun of `sent` flows from the pool, from the channel's stats after close(). */
export function fedRun(pool: FlowPool, sent: number, st: ChannelStats, seconds: number, encrypted: boolean): FedRun {
  return { encrypted, records: sent, payloadBytes: payloadBytes(pool, sent), lineBytes: st.bytesWritten, frames: st.framesSent, seconds, recordsSent: st.recordsSent };
}

export function flowPool(size: number, seed: number): FlowPool {
  const flows = realisticFlows(size, seed);
  const json = flows.map((f) => JSON.stringify(f));
  return { flows, json, bytes: json.map((j) => Buffer.byteLength(j)) };
}

/** Payload bytes of records 0..count-1 of the run (record k is pool entry k % size). */
export function payloadBytes(pool: FlowPool, count: number): number {
  let total = 0;
  for (let k = 0; k < count; k++) total += pool.bytes[k % pool.bytes.length];
  return total;
}

/** Bytes of the same records as newline-delimited JSON: the unframed peer. */
export function ndjsonBytes(pool: FlowPool, count: number): number {
  return payloadBytes(pool, count) + count;
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `count` flows (pool entries in order, wrapping). Keeps the backlog under
 * `highBytes`; `until()` may stop the feed early (a timed run). Returns how many were sent.
 * Throws if the channel refused one: a dropped record would make the counts lie.
 */
/**
 * Feeds `perSecond` flows a second until `until()`, the way an analysis slower than the
 * line makes them: every 10 ms, the flows due by then. Returns how many were sent.
 */
export async function feedFlowsAtRate(ch: Channel, pool: FlowPool, perSecond: number, until: () => boolean): Promise<number> {
  const n = pool.flows.length;
  const t0 = Date.now();
  let k = 0;
  while (!until()) {
    const due = Math.floor(((Date.now() - t0) * perSecond) / 1000);
    for (; k < due; k++) {
      if (!ch.send(RecordType.FLOW, pool.flows[k % n])) throw new Error(`channel dropped flow ${k} at ${perSecond} flows/s`);
    }
    await sleepMs(10);
  }
  return k;
}

export async function feedFlows(ch: Channel, pool: FlowPool, count: number, highBytes: number, until: () => boolean = () => false): Promise<number> {
  const n = pool.flows.length;
  let k = 0;
  while (k < count && !until()) {
    const before = k;
    // Checking the backlog every 64 records keeps stats() (which copies counters) off the per-record path.
    while (k < count && ch.stats().backlogBytes < highBytes) {
      const stop = Math.min(count, k + 64);
      for (; k < stop; k++) {
        if (!ch.send(RecordType.FLOW, pool.flows[k % n])) throw new Error(`channel dropped flow ${k}: raise the outbox size (BENCH_OUTBOX_BYTES) above the feed mark`);
      }
    }
    // A full outbox on a paced line: wait for the line instead of spinning the event loop.
    if (k === before) await sleepMs(1);
    else await yieldToLoop();
  }
  return k;
}
