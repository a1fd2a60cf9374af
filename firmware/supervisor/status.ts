// STATUS every second (host health from health.ts, the supervisor's and the
// analysis' own CPU and memory, the pipeline's own counters) and a
// progress line in the operator log every ten seconds.
import type { StatusRecord } from '../channel/records';
import type { RunCounters } from './counters';
import { OperatorLog, count } from './oplog';
import type { Sys, Timer } from './sys';
import { ProcessUsageMeter } from './process-usage';

export interface PipelineView {
  state: string;
  spoolFill: number;
  kernelDropped: number;
  backlog: number;
  counters: RunCounters;
  /** The run has a researcher's module: STATUS carries its refused records. */
  streams?: boolean;
  /** Its module runs without its sandbox (development switch): every STATUS says so. */
  unsandboxed?: boolean;
  /** The trusted analysis processes, one per shard (their trees are measured); none while none runs. */
  analysisPids?: number[];
  /** Milliseconds since capture started, and stop.seconds. */
  elapsedMs?: number;
  stopSeconds?: number | null;
  outboxDropped?: number;
  /** Times a live capture waited for a free segment buffer (the progress line names them). */
  captureWaits?: number;
}

const PROGRESS_EVERY_MS = 10_000;

export class StatusReporter {
  private timer: Timer | null = null;
  private lastProgress = 0;
  private sampling = false;
  private readonly usage = new ProcessUsageMeter();

  constructor(
    private readonly sys: Pick<Sys, 'every' | 'sampleHealth'>,
    private readonly everyMs: number,
    private readonly log: OperatorLog,
    private readonly view: () => PipelineView,
    private readonly emit: (s: StatusRecord) => void,
  ) {}

  start(): void {
    this.timer = this.sys.every(this.everyMs, () => void this.tick());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private async tick(): Promise<void> {
    if (this.sampling) return; // a slow probe never piles up
    // The pipeline as it is at the tick: a host probe that is slow (the first one of
    // systeminformation, a busy machine) delays the record, not the time it reports.
    const at = this.log.uptimeMs();
    const v = this.view();
    const c = { ...v.counters };
    this.sampling = true;
    const h = await this.sys.sampleHealth();
    this.sampling = false;
    if (!this.timer) return;
    const own = this.usage.sample(v.analysisPids ?? []);
    this.emit({
      uptimeMs: at,
      state: v.state,
      cpuPercent: h.cpuPercent,
      memUsedBytes: h.memUsedBytes,
      memTotalBytes: h.memTotalBytes,
      spoolFill: Math.round(v.spoolFill * 1000) / 1000,
      captured: c.captured,
      kernelDropped: v.kernelDropped,
      spoolDropped: c.spoolDropped,
      analysed: c.analysed,
      quarantined: c.quarantined,
      channelBacklogBytes: v.backlog,
      ...(v.streams ? { streamsRefused: c.streamsRefused } : {}),
      ...(v.unsandboxed ? { sandbox: 'off' as const } : {}),
      capturedBytes: c.capturedBytes,
      ...(v.elapsedMs !== undefined ? { elapsedMs: v.elapsedMs, stopSeconds: v.stopSeconds ?? null } : {}),
      outboxDropped: v.outboxDropped ?? 0,
      egressRefused: c.egressRefused,
      supervisor: own.supervisor,
      analysis: own.analysis,
    });
    const now = this.log.uptimeMs();
    if (now - this.lastProgress >= PROGRESS_EVERY_MS) {
      this.lastProgress = now;
      this.log.info(`progress: captured ${count(c.captured)}, analysed ${count(c.analysed)}, dropped ${count(c.spoolDropped + v.kernelDropped)}, spool ${(v.spoolFill * 100).toFixed(0)}% full, line backlog ${count(v.backlog)} bytes, cpu: supervisor ${own.supervisor.cpuPercent}%, analysis ${own.analysis?.cpuPercent ?? 0}%, host ${h.cpuPercent}%${v.captureWaits ? `, capture waited for a free buffer ${count(v.captureWaits)} times` : ''}`);
    }
  }
}
