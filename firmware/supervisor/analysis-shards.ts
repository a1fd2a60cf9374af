// The analysis split across processes (run.json analysis.shards): one analysis host per
// shard, each reading every segment and analysing the flows of its shard
// (analysis/shard.ts), each with its own committed place, restarts, quarantine and
// heartbeat. To the pipeline they are one analysis: a segment counts as analysed, and
// its ring slot may go, once every shard is through it; counters and stream counts are
// summed at the end. Records pass on as each shard sends them: one flow's records
// keep their order (a flow lives in one shard), records of different shards
// interleave.
import type { AnalysisEvents } from '../analysis/host';
import type { StreamCounts } from '../analysis/ipc';
import type { Shard } from '../analysis/shard';
import type { AnalysisControl } from './sys';

interface Pending {
  left: number;
  packets: number;
  skipped: string | null;
}

export class ShardedAnalysis implements AnalysisControl {
  private readonly parts: AnalysisControl[];
  /** Segments not yet through every shard. */
  private readonly pending = new Map<number, Pending>();
  private readonly refused: number[];
  private readonly results: Array<{ counters: Record<string, number>; streams: StreamCounts } | null>;
  private finishedShards = 0;
  /** Packets quarantined so far: one the decoder itself fails on stops every shard. */
  private readonly quarantined = new Set<number>();

  constructor(count: number, start: (shard: Shard, events: AnalysisEvents) => AnalysisControl, private readonly events: AnalysisEvents) {
    this.refused = new Array<number>(count).fill(0);
    this.results = new Array(count).fill(null);
    this.parts = Array.from({ length: count }, (_, index) => start({ index, count }, this.shardEvents(index, count)));
  }

  start(): void {
    for (const p of this.parts) p.start();
  }

  segmentPublished(seq: number): void {
    for (const p of this.parts) p.segmentPublished(seq);
  }

  finish(): void {
    for (const p of this.parts) p.finish();
  }

  stop(): Promise<void> {
    return Promise.all(this.parts.map((p) => p.stop())).then(() => undefined);
  }

  /** The first shard's process; pids() has them all. */
  pid(): number | null {
    return this.parts[0].pid();
  }

  pids(): number[] {
    return this.parts.map((p) => p.pid()).filter((p): p is number => p !== null);
  }

  private shardEvents(i: number, count: number): AnalysisEvents {
    const e = this.events;
    return {
      addresses: (h) => e.addresses(h),
      records: (r) => e.records(r),
      packets: (b, n) => e.packets(b, n),
      // Each shard finishes segments in order, so they come out of here in order too.
      segmentDone: (seq, packets, skipped) => {
        const p = this.pending.get(seq) ?? { left: count, packets: 0, skipped: null };
        p.left--;
        p.packets += packets;
        // A tampered segment fails in every shard: counted once.
        p.skipped ??= skipped;
        if (p.left > 0) return void this.pending.set(seq, p);
        this.pending.delete(seq);
        e.segmentDone(seq, p.packets, p.skipped, {});
      },
      streamsRefused: (total) => {
        this.refused[i] = total;
        e.streamsRefused?.(this.refused.reduce((a, b) => a + b, 0));
      },
      restarted: (why) => e.restarted(why),
      quarantined: (pos) => {
        if (this.quarantined.has(pos)) return;
        this.quarantined.add(pos);
        e.quarantined(pos);
      },
      finished: (counters, streams) => {
        if (this.results[i] !== null) return;
        this.results[i] = { counters, streams };
        if (++this.finishedShards === count) this.allFinished();
      },
      gaveUp: (why) => e.gaveUp(why),
      refused: (n, why) => e.refused?.(n, why),
    };
  }

  private allFinished(): void {
    const counters: Record<string, number> = {};
    const streams: StreamCounts = {};
    for (const r of this.results) {
      for (const [k, v] of Object.entries(r!.counters)) if (typeof v === 'number') counters[k] = (counters[k] ?? 0) + v;
      for (const [name, c] of Object.entries(r!.streams)) {
        const s = (streams[name] ??= { accepted: 0, refused: {} });
        s.accepted += c.accepted;
        for (const [why, n] of Object.entries(c.refused)) s.refused[why] = (s.refused[why] ?? 0) + n;
      }
    }
    this.events.finished(counters, streams);
  }
}
