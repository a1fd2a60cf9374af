// The running pipeline: capture → sealed spool → analysis → egress guard → channel,
// wired together, with the decisions taken while it runs: when a stop condition is met,
// when the box is degraded or backlogged, what is counted and logged. supervise.ts
// starts it once the line is open and stops it in its stop phase.
import { maxBodyBytes, SegmentAead } from '../spool/segment';
import type { SpoolRing } from '../spool/ring';
import type { SecretKey } from '../keys/secret-key';
import type { EgressGuard } from '../egress/guard';
import { egressSink } from './egress-sink';
import type { Channel } from '../channel/writer';
import type { StreamCounts, childKeyOrder } from '../analysis/ipc';
import type { ModuleCommand } from '../analysis/module-link';
import type { Policy } from '../anonymize/policy';
import type { RunConfig, Source } from './config';
import type { AnalysisControl, CaptureControl, Sys, Timer } from './sys';
import { count, OperatorLog } from './oplog';
import { runningState } from './leds';
import type { RunCounters } from './counters';
import { Spooler } from './spooler';
import { isRunning, RunState } from './lifecycle';
import { ShardedAnalysis } from './analysis-shards';
import type { AnalysisEvents, AnalysisHostOptions } from '../analysis/host';
import { analysisStart, type SpareAnalyses } from '../analysis/sandbox';
import type { SpareCaptureThreads } from '../capture/capture';

export type PurposeKeys = Record<(typeof childKeyOrder)[number], SecretKey>;

/** What the pipeline needs from the phases before it. */
export interface PipelineParts {
  cfg: RunConfig;
  sys: Sys;
  log: OperatorLog;
  counters: RunCounters;
  keys: PurposeKeys;
  guard: EgressGuard;
  ring: SpoolRing;
  aead: SegmentAead;
  runId: Buffer;
  channel: Channel;
  policy: Policy;
  moduleCommand: ModuleCommand | null;
  /** Counts a record the channel accepted. */
  countRecord(type: number, n?: number): void;
  /** The run's state and its changes (LEDs follow). */
  state(): RunState;
  enter(s: RunState): void;
  /** A stop condition was met (the first one counts). */
  requestStop(why: string): void;
  stopRequested(): boolean;
  /** In-process tests: a look at each segment as it is published. */
  published?: (seq: number, file: string) => void;
  /** Analysis processes forked ahead by the caller (SuperviseOptions.spares); else forked here. */
  spares?: SpareAnalyses | null;
  /** Capture threads started ahead by the caller (SuperviseOptions.captureSpares). */
  captureSpares?: SpareCaptureThreads | null;
}

/**
 * The capture slot pool: the capture thread's only room while this thread seals and
 * writes. A live source gets 64 MiB of segment buffers (16 slots of the default 4 MiB),
 * never fewer than 8 slots nor more than 64. With 8 slots (32 MiB), a freshly started
 * box under a small CPU budget lost packets at 70,000 packets/s of 1518-byte frames:
 * this thread's first segments (code not yet compiled, first analysis messages) fell 8
 * segments behind over 3 s, capture waited for a slot and the kernel's ring overflowed
 * (docs/benchmarks.md, capture). A file replay keeps 8: it loses nothing by waiting,
 * and touching 32 MiB more at boot made the end-to-end runs slower.
 */
export function captureSlots(source: Source, segmentBytes: number): number {
  if (source.kind !== 'interface') return 8;
  return Math.min(64, Math.max(8, Math.ceil((64 * 1024 * 1024) / segmentBytes)));
}

/** How long the end of a run waits for the analysis processes to exit after they are killed. */
const ANALYSIS_EXIT_MS = 5000;
/** Degraded is shown this long after a drop or an analysis restart. */
const DEGRADED_MS = 5000;
/** At most one log line per this long about dropped packets, and about refused stream records. */
const DROP_LOG_EVERY_MS = 1000;
const REFUSED_LOG_EVERY_MS = 5000;
/** How often the running LED state is chosen again from the pipeline's health. */
const LED_EVERY_MS = 250;

export class Pipeline {
  private readonly spooler: Spooler;
  private readonly capture: CaptureControl;
  private analysis: AnalysisControl | null = null;
  /** Stopped in order or at once: nothing of it runs any more. */
  private ended = false;
  private linkType = -1;
  private degradedUntil = 0;
  private lastDropLog = Number.NEGATIVE_INFINITY;
  private droppedSinceLog = 0;
  private lastRefusedLog = Number.NEGATIVE_INFINITY;
  private streamCounts: StreamCounts | null = null;
  private readonly captureFinished: Promise<string>;
  private captureDone: (r: string) => void = () => {};
  private readonly analysisFinished: Promise<void>;
  private analysisDone: () => void = () => {};
  private readonly ledTimer: Timer;
  /** What the analysis processes may read: the spool. */
  private readonly readablePaths: string[];
  /** Analysis processes starting while capture sets up; taken when the link type is known. */
  private readonly spares: SpareAnalyses | null;

  constructor(private readonly p: PipelineParts) {
    const { cfg, sys, log, counters, ring } = p;
    const start = analysisStart(cfg);
    this.readablePaths = start.readablePaths;
    // Forked before the capture slots exist: a fork would mark their pages
    // copy-on-write until the child execs (capture/slots.ts).
    this.spares = p.spares !== undefined ? p.spares : sys.preforkAnalysis(start.readablePaths, start.spawnsModule, start.count);
    this.captureFinished = new Promise((r) => { this.captureDone = r; });
    this.analysisFinished = new Promise((r) => { this.analysisDone = r; });
    // The spooler hands capture slots back to capture, which starts right after it: a
    // slot is only released once a segment came from capture.
    this.spooler = new Spooler(ring, p.keys.spool, p.aead, p.runId, 1, cfg.spool.onFull === 'wait', counters, {
      published: (seq) => {
        p.published?.(seq, ring.slotPath(seq));
        this.analysis?.segmentPublished(seq);
      },
      release: (slot) => this.capture.release(slot),
      dropped: (n, why) => this.dropped(n, why),
      failed: (m) => log.error(m),
    });
    this.capture = sys.startCapture({
      source: cfg.source,
      segmentBytes: maxBodyBytes(cfg.spool.segmentBytes),
      slots: captureSlots(cfg.source, cfg.spool.segmentBytes),
      flushMs: 250,
      maxPackets: cfg.stop.packets ?? 0,
      waitForSlot: cfg.spool.onFull === 'wait',
    }, {
      onLinkType: (lt) => this.capturing(lt),
      onSegment: (seg, bytes) => this.spooler.accept(seg, bytes),
      onDone: (d) => {
        if (d.slotDropped > 0) {
          counters.captured += d.slotDropped;
          counters.spoolDropped += d.slotDropped;
          log.warn(`capture dropped ${count(d.slotDropped)} packets while every segment buffer was busy`);
        }
        // A live capture that found every slot busy: the packets waited in the kernel's
        // ring, which says only that it dropped some. This says why.
        const waits = this.captureWaits();
        if (waits > 0) {
          log.warn(`capture waited ${count(waits)} times for a free segment buffer: sealing fell behind, and packets waited in the kernel's ring (its drops are counted as kernel drops)`);
        }
        if (d.readError) log.warn(d.readError);
        // captured already holds the packets dropped for want of a slot: count them once.
        if (d.reason === 'end of file' && cfg.stop.endOfSource) p.requestStop('end of source');
        else if (cfg.stop.packets !== null && counters.captured >= cfg.stop.packets) p.requestStop(`packet count ${count(cfg.stop.packets)} reached`);
        else if (d.reason === 'end of file') log.info('end of source reached; waiting for another stop condition');
        this.captureDone(d.reason);
      },
      onFailed: (m) => {
        p.enter('fatal');
        log.error(`capture failed: ${m}`);
        p.requestStop('capture failed');
        this.captureDone('failed');
      },
    }, p.captureSpares);
    this.ledTimer = sys.every(LED_EVERY_MS, () => this.chooseRunningState());
  }

  /** The analysis processes (one per shard), for STATUS's own CPU and memory. */
  analysisPids(): number[] {
    const a = this.analysis;
    if (a instanceof ShardedAnalysis) return a.pids();
    const pid = a?.pid() ?? null;
    return pid === null ? [] : [pid];
  }

  kernelDropped(): number {
    return this.capture.kernelDropped();
  }

  /**
   * Times a live capture found every segment buffer busy and waited for one: the
   * reason for its kernel drops, when it has any. A file replay that waits for the
   * spool is the lossless replay working as meant: 0.
   */
  captureWaits(): number {
    return this.p.cfg.source.kind === 'interface' ? this.capture.slotWaits() : 0;
  }

  /** The module's streams as the analysis counted them at its end (null: it did not finish). */
  streams(): StreamCounts | null {
    return this.streamCounts;
  }

  /** Stops capture, waits until every captured segment is sealed, then lets the analysis finish. */
  async stopInOrder(): Promise<void> {
    const { counters, log } = this.p;
    this.capture.stop();
    await this.captureFinished;
    await this.spooler.idle();
    log.info(`capture stopped: ${count(counters.captured)} packets captured, ${count(counters.spooled)} sealed in ${counters.segmentsSealed} segments; letting analysis finish`);
    const analysis = this.analysis;
    if (analysis) {
      analysis.finish();
      await this.analysisFinished;
      await this.analysisExited(analysis);
    }
    this.ended = true;
  }

  /** A second signal: what is held is dropped (and counted), the analysis and capture end now. */
  async stopAtOnce(): Promise<void> {
    this.ended = true;
    this.spooler.dropHeld('stopped at once');
    const exited = this.analysis ? this.analysisExited(this.analysis) : Promise.resolve();
    await this.capture.terminate().catch(() => {});
    await exited;
  }

  /**
   * Stops the analysis and waits for its processes to exit (ANALYSIS_EXIT_MS at most):
   * they map the spool's slot files, and the box unmounts the spool after this.
   */
  private analysisExited(analysis: AnalysisControl): Promise<void> {
    return new Promise((resolve) => {
      const t = this.p.sys.after(ANALYSIS_EXIT_MS, resolve);
      void analysis.stop().then(() => { t.cancel(); resolve(); });
    });
  }

  /** No more LED changes from the pipeline's health. */
  stopWatching(): void {
    this.ledTimer.cancel();
  }

  /** The closer on the teardown stack: whatever still runs (the run failed mid-way) ends at once. */
  async close(): Promise<void> {
    this.stopWatching();
    this.spares?.close();
    if (!this.ended) await this.stopAtOnce();
  }

  /** Capture knows its link type: BOOT says it, the analysis starts, the box is capturing. */
  private capturing(lt: number): void {
    const { cfg, log } = this.p;
    this.linkType = lt;
    this.spooler.setLinkType(lt);
    this.p.channel.updateBoot({ linkType: lt });
    this.startAnalysis();
    this.p.enter('capturing');
    const what = cfg.source.kind === 'pcap'
      ? `file ${cfg.source.path} at ${cfg.source.speed} speed`
      : `interface ${cfg.source.name}${cfg.source.filter ? ` filter "${cfg.source.filter}"` : ''}${cfg.source.threads > 1 ? ` in ${cfg.source.threads} threads (packet fanout by flow)` : ''}`;
    log.notice(`capturing from ${what} (link type ${lt})`);
  }

  private dropped(n: number, why: string): void {
    const { sys, log } = this.p;
    this.droppedSinceLog += n;
    this.degradedUntil = sys.now() + DEGRADED_MS;
    if (sys.now() - this.lastDropLog > DROP_LOG_EVERY_MS) {
      log.warn(`dropped ${count(this.droppedSinceLog)} packets: ${why}`);
      this.droppedSinceLog = 0;
      this.lastDropLog = sys.now();
    }
  }

  private chooseRunningState(): void {
    const { sys, cfg, channel, ring } = this.p;
    if (this.p.stopRequested()) return;
    if (!isRunning(this.p.state())) return;
    const next = runningState({ degraded: sys.now() < this.degradedUntil, spoolFill: ring.fill(), channelStalled: channel.stats().backlogBytes > cfg.channel.outboxBytes * 0.75 });
    this.p.enter(next === 'backlog' ? 'backlogged' : next);
  }

  private startAnalysis(): void {
    const { cfg, sys, log, counters, keys, guard, ring, channel } = this.p;
    const sink = egressSink({
      guard, egressKey: keys.egress, send: (t, b) => channel.send(t, b), sendPackets: (run, n) => channel.sendPackets(run, n), counters, log,
      linkType: () => this.linkType, countRecord: (t, n) => this.p.countRecord(t, n),
    });
    const options: AnalysisHostOptions = {
      linkType: this.linkType,
      outputs: cfg.outputs,
      policy: this.p.policy,
      flows: cfg.flows,
      module: cfg.analysis.module,
      streams: cfg.analysis.streams,
      moduleCommand: this.p.moduleCommand,
      heartbeatMs: cfg.analysis.heartbeatSeconds * 1000,
      maxRestarts: cfg.analysis.maxRestarts,
      keys,
      readablePaths: this.readablePaths,
      ring,
      spares: this.spares,
    };
    const events: AnalysisEvents = {
      addresses: (h) => guard.learn(h),
      records: (recs) => sink.records(recs),
      packets: (bytes, n) => sink.packets(bytes, n),
      segmentDone: (seq, packets, skipped) => {
        if (skipped !== null) {
          counters.spoolAuthFailures++;
          log.warn(`segment ${seq} failed authentication (${skipped}): counted and skipped, never parsed`);
        }
        counters.analysed += packets;
        ring.markAnalysed(seq);
        this.spooler.retry();
      },
      restarted: (why) => {
        counters.analysisRestarts++;
        this.degradedUntil = sys.now() + DEGRADED_MS;
        log.warn(why);
      },
      quarantined: (pos) => {
        counters.quarantined++;
        log.warn(`quarantined the packet at segment ${Math.floor(pos / 2 ** 20)} index ${pos % 2 ** 20}: it stopped the analysis twice`);
      },
      streamsRefused: (total) => {
        counters.streamsRefused = total;
        if (sys.now() - this.lastRefusedLog > REFUSED_LOG_EVERY_MS) {
          this.lastRefusedLog = sys.now();
          log.warn(`the analysis module's records refused so far: ${count(total)} (not declared, out of range, over the rate limit, or below k)`);
        }
      },
      finished: (_c, streams) => {
        this.streamCounts = streams;
        // Names are run.json's, reasons the exit's own codes: no text from the module.
        for (const [name, c] of Object.entries(streams)) {
          const refused = Object.entries(c.refused).map(([why, n]) => `${why} ${count(n)}`).join(', ');
          log.info(`stream ${name}: ${count(c.accepted)} records accepted${refused ? `; refused: ${refused}` : ''}`);
        }
        this.analysisDone();
      },
      gaveUp: (why) => {
        this.degradedUntil = Number.MAX_SAFE_INTEGER;
        log.error(`${why}: captured packets stay sealed on the spool and are not analysed`);
      },
    };
    const shards = cfg.analysis.shards;
    const analysis = shards > 1
      ? new ShardedAnalysis(shards, (shard, e) => sys.startAnalysis({ ...options, shard }, e), events)
      : sys.startAnalysis(options, events);
    if (shards > 1) log.info(`analysis in ${shards} shards: each analyses the flows of its shard (a keyed hash of the 5-tuple)`);
    this.analysis = analysis;
    analysis.start();
    // Every shard has taken its process; a restart forks a new one.
    this.spares?.close();
  }
}
