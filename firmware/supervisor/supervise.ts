// The supervisor's lifecycle: boot → keys → spool → channel → capture + analysis →
// stop condition → stop capture → let analysis finish → drain the channel → wipe keys.
// Every step logs one operator line; every failure before capture is fatal with a
// clear message, every failure after it is counted and reported.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sodium from 'sodium-native';
import { Keyring, KeyPurpose } from '../keys/keyring';
import type { SecretKey } from '../keys/secret-key';
import { SpoolRing } from '../spool/ring';
import { chooseSegmentAead, maxBodyBytes } from '../spool/segment';
import { Capture } from '../capture/capture';
import { AnalysisHost } from '../analysis/host';
import { childKeyOrder } from '../analysis/ipc';
import { EgressGuard } from '../egress/guard';
import { PacketRefusal, packetRefusalNames } from '../egress/packet-record';
import { RecordType, recordTypeName, EndRecord, BootRecord } from '../channel/records';
import { openChannel, Channel } from '../channel/writer';
import type { RunConfig } from './config';
import type { Board } from './board';
import type { Sys } from './sys';
import { OperatorLog, count } from './oplog';
import { Leds, runningState } from './leds';
import { RunCounters } from './counters';
import { Spooler } from './spooler';
import { BootSigner } from './signer';
import { StatusReporter } from './status';
import { loadRunPolicy } from './policy';
import type { Policy } from '../anonymize/policy';
import { PrivacyStatement, privacyStatement, statementHash } from '../bundle/privacy';
import { prepareAppliance, closeAppliance, ApplianceSteps } from './appliance';
import { CommandSys, realCommands } from './commands';
import { jailProblem } from '../analysis/jail/jail';
import { moduleCommand, ModuleCommand } from '../analysis/module-link';
import { describeCapacity } from '../analysis/streams/schema';
import type { StreamCounts } from '../analysis/ipc';

export interface FirmwareIdentity {
  name: string;
  version: string;
  hash: string;
}

export interface SuperviseOptions {
  config: RunConfig;
  board: Board;
  sys: Sys;
  firmware: FirmwareIdentity;
  version: string;
  /** Process signals to stop on; tests pass an EventEmitter of their own. */
  signals: NodeJS.EventEmitter;
  /** The box's system commands (cryptsetup, ip, nft); tests pass a recording. */
  commands?: CommandSys;
  /**
   * Development switch (`sealtap run --unsandboxed`, refused on the box): the
   * researcher's module runs without its operating-system sandbox. BOOT, every STATUS
   * and END say so.
   */
  unsandboxed?: boolean;
  /**
   * In-process tests only (no command line or environment reaches these): a keyring
   * whose bytes the test knows, so it can scan every output for them; and a look at
   * each segment as it is published, so a test can tamper with it.
   */
  testHooks?: { keyring?: () => Keyring; published?: (seq: number, file: string) => void; jailProblem?: () => string | null };
}

const CAPTURE_SLOTS = 8;
/** Results kept in RAM while the rest of the outbox waits sealed on the spool. */
const OUTBOX_MEMORY_BYTES = 4 * 1048576;

function isTtyPath(p: string): boolean {
  try {
    return fs.realpathSync(p).startsWith('/dev/');
  } catch {
    return p.startsWith('/dev/');
  }
}

export async function supervise(o: SuperviseOptions): Promise<number> {
  const { config: cfg, board, sys } = o;
  const log = new OperatorLog(sys);
  const leds = new Leds(sys, board.leds, (s) => log.info(`state: ${s}`));
  const counters = new RunCounters();
  leds.show('booting');
  log.notice(`sealtap ${o.version} booting on board ${board.name}; analysis firmware ${o.firmware.name} ${o.firmware.version}`);

  let policy: Policy;
  try {
    policy = loadRunPolicy(cfg.policy);
  } catch (e) {
    leds.show('fatal');
    log.error(`policy refused: ${(e as Error).message}`);
    return 1;
  }
  // What leaves the box under this policy, run.json and module; on the box, the
  // statement the bundle's approvers signed (checked when the bundle was selected).
  let statement: PrivacyStatement;
  try {
    statement = privacyStatement(policy, cfg, cfg.analysis.module === null ? null : fs.readFileSync(cfg.analysis.module));
  } catch (e) {
    leds.show('fatal');
    log.error(`the analysis module ${cfg.analysis.module} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): check analysis.module in run.json`);
    return 1;
  }
  const privacy = statementHash(statement);
  log.info(`privacy statement ${privacy}`);

  // The researcher's module runs only inside its sandbox: if that cannot be built,
  // refuse before any key exists (fail closed), unless the development switch says so.
  const hasModule = cfg.analysis.module !== null;
  const sandboxed = hasModule && !o.unsandboxed;
  if (sandboxed) {
    const problem = (o.testHooks?.jailProblem ?? jailProblem)();
    if (problem !== null) {
      leds.show('fatal');
      log.error(`the analysis module's sandbox cannot be built: ${problem}`);
      return 1;
    }
  }
  let command: ModuleCommand | null = null;
  if (hasModule) {
    try {
      command = moduleCommand(cfg.analysis.module as string, sandboxed, cfg.analysis.memoryBytes);
    } catch (e) {
      leds.show('fatal');
      log.error(`the analysis module's sandbox cannot be set up: ${(e as Error).message}`);
      return 1;
    }
  }
  if (hasModule && !sandboxed) log.error('DEVELOPMENT SWITCH: the analysis module runs WITHOUT its sandbox (--unsandboxed); never use this with real traffic');
  for (const [name, decl] of Object.entries(cfg.analysis.streams)) log.info(describeCapacity(name, decl));

  // Keys: nothing secret exists before this line, and nothing survives the run.
  const keyring = o.testHooks?.keyring?.() ?? Keyring.generate();
  const keys: Record<(typeof childKeyOrder)[number], SecretKey> = {
    spool: keyring.subkey(KeyPurpose.spool),
    address: keyring.subkey(KeyPurpose.address),
    mac: keyring.subkey(KeyPurpose.mac),
    ident: keyring.subkey(KeyPurpose.ident),
    time: keyring.subkey(KeyPurpose.time),
    flow: keyring.subkey(KeyPurpose.flow),
    egress: keyring.subkey(KeyPurpose.egress),
  };
  const signer = new BootSigner();
  log.info(`volatile keys generated from the kernel RNG: master and ${childKeyOrder.length} purpose keys in locked memory`);

  const wipeAll = (): void => {
    guard.wipe();
    signer.wipe();
    keyring.wipe();
  };
  const guard = new EgressGuard(keys.egress);

  const commands = o.commands ?? realCommands;
  let appliance: ApplianceSteps;
  try {
    appliance = prepareAppliance(cfg, board, keyring, commands, (line) => log.info(line));
  } catch (e) {
    leds.show('fatal');
    log.error(`${(e as Error).message}`);
    wipeAll();
    return 1;
  }
  const closeSpoolDisk = (): void => {
    const err = closeAppliance(appliance, commands);
    if (err) log.warn(err);
  };

  let ring: SpoolRing;
  try {
    ring = SpoolRing.create({ dir: cfg.spool.dir, bytes: cfg.spool.bytes, slotBytes: cfg.spool.segmentBytes });
  } catch (e) {
    leds.show('fatal');
    log.error(`spool failed: ${(e as Error).message}`);
    wipeAll();
    closeSpoolDisk();
    return 1;
  }
  // The faster AEAD on this CPU (AES-256-GCM where it has AES instructions).
  const aead = chooseSegmentAead();
  const measured = Object.entries(aead.gbps).map(([n, g]) => `${n} ${Math.round(g * 1000)} MB/s`).join(', ');
  log.info(`spool ready: ${ring.slots} slots of ${(cfg.spool.segmentBytes / 1048576).toFixed(1)} MiB in ${cfg.spool.dir}, sealed with ${aead.name} (measured ${measured})`);

  const session = Buffer.alloc(8);
  sodium.randombytes_buf(session);
  const runId = Buffer.alloc(16);
  sodium.randombytes_buf(runId);

  let linkType = -1;
  let channel: Channel;
  const isTty = isTtyPath(cfg.channel.path);
  // The channel re-sends this as BOOT every few seconds; the link type is updated when
  // capture reports it, before the first PACKET record can exist.
  const boot: BootRecord = {
    session: session.toString('hex'),
    product: 'sealtap',
    version: o.version,
    board: board.name,
    firmware: o.firmware,
    link: { kind: isTty ? 'tty' : 'file', baud: isTty ? cfg.channel.baud : null },
    checkpointKey: signer.publicKey.toString('hex'),
    linkType: -1,
    outputs: cfg.outputs,
    uptimeMs: log.uptimeMs(),
    privacy,
    ...(hasModule && statement.module ? { module: statement.module } : {}),
    ...(hasModule ? { streams: statement.streams, sandbox: sandboxed ? 'on' as const : 'off' as const } : {}),
  };
  try {
    channel = openChannel({
      path: cfg.channel.path,
      baud: cfg.channel.baud,
      outboxBytes: cfg.channel.outboxBytes,
      bootEveryMs: cfg.channel.bootEverySeconds * 1000,
      session,
      boot,
      signer,
      recipient: cfg.channel.recipient ? Buffer.from(cfg.channel.recipient, 'hex') : null,
      fec: cfg.channel.fec ?? undefined,
      // The backlog of results waits sealed on the spool (on the box: inside dm-crypt),
      // so a slow or unplugged line costs disk, not RAM; a few MiB stay in memory.
      spill: {
        dir: path.join(cfg.spool.dir, 'outbox'),
        key: keyring.subkey(KeyPurpose.channel),
        memoryBytes: Math.min(cfg.channel.outboxBytes, OUTBOX_MEMORY_BYTES),
      },
    });
  } catch (e) {
    leds.show('fatal');
    log.error(`results channel failed: ${(e as Error).message}`);
    wipeAll();
    await ring.close();
    closeSpoolDisk();
    return 1;
  }
  const countRecord = (type: number): void => {
    const n = recordTypeName[type];
    counters.records[n] = (counters.records[n] ?? 0) + 1;
  };
  log.attach((uptimeMs, severity, msg) => {
    if (channel.send(RecordType.LOG, { uptimeMs, severity, msg })) countRecord(RecordType.LOG);
  });
  log.info(`results channel open on ${cfg.channel.path}${isTty ? ` at ${cfg.channel.baud} baud, write-only` : ' (recording)'}; session ${session.toString('hex')}`);

  // ---- the run ----
  let stopReason: string | null = null;
  let resolveStop: (why: string) => void = () => {};
  const stopRequested = new Promise<string>((r) => { resolveStop = r; });
  const requestStop = (why: string): void => {
    if (stopReason !== null) return;
    stopReason = why;
    resolveStop(why);
  };
  let aborted = false;
  let resolveAbort: () => void = () => {};
  const abortRequested = new Promise<void>((r) => { resolveAbort = r; });
  const onSignal = (sig: string): void => {
    if (stopReason === null) {
      log.notice(`received ${sig}: stopping (send it again to stop at once)`);
      requestStop(`signal ${sig}`);
    } else if (!aborted) {
      aborted = true;
      log.warn(`received ${sig} again: stopping at once`);
      resolveAbort();
    }
  };
  o.signals.on('SIGTERM', onSignal);
  o.signals.on('SIGINT', onSignal);

  let degradedUntil = 0;
  let captureDone: (r: string) => void = () => {};
  const captureFinished = new Promise<string>((r) => { captureDone = r; });
  let analysisDone: () => void = () => {};
  const analysisFinished = new Promise<void>((r) => { analysisDone = r; });
  let analysis: AnalysisHost | null = null;
  let lastDropLog = 0;
  let droppedSinceLog = 0;
  let streamCounts: StreamCounts | null = null;
  let lastRefusedLog = Number.NEGATIVE_INFINITY;

  const spooler = new Spooler(ring, keys.spool, aead.aead, runId, 1, cfg.spool.onFull === 'wait', counters, {
    published: (seq) => {
      o.testHooks?.published?.(seq, ring.slotPath(seq));
      analysis?.segmentPublished(seq);
    },
    release: (slot) => capture.release(slot),
    dropped: (n, why) => {
      droppedSinceLog += n;
      degradedUntil = sys.now() + 5000;
      if (sys.now() - lastDropLog > 1000) {
        log.warn(`dropped ${count(droppedSinceLog)} packets: ${why}`);
        droppedSinceLog = 0;
        lastDropLog = sys.now();
      }
    },
    failed: (m) => log.error(m),
  });

  const startAnalysis = (): void => {
    analysis = new AnalysisHost({
      linkType,
      outputs: cfg.outputs,
      policy,
      flows: cfg.flows,
      module: cfg.analysis.module,
      streams: cfg.analysis.streams,
      moduleCommand: command,
      heartbeatMs: cfg.analysis.heartbeatSeconds * 1000,
      maxRestarts: cfg.analysis.maxRestarts,
      keys,
      readablePaths: [cfg.spool.dir + '/'],
      ring,
    }, {
      addresses: (h) => guard.learn(h),
      // The guard's keyed hashes open the egress key; one opening for the whole batch
      // (nested uses cost nothing) instead of two mprotect calls per record.
      records: (recs) => keys.egress.use(() => {
        for (const r of recs) {
          const ok = r.body instanceof Uint8Array
            ? guard.passesPacket(Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength), linkType)
            : guard.passesJson(r.body);
          if (!ok) {
            counters.egressRefused++;
            if (counters.egressRefused === 1 || counters.egressRefused % 1000 === 0) {
              // A packet the guard cannot check completely is refused as well as one with a raw value.
              const why = r.body instanceof Uint8Array && guard.lastRefusal !== PacketRefusal.rawValue ? `it cannot check completely (${packetRefusalNames[guard.lastRefusal]})` : 'carrying a raw address';
              log.warn(`egress guard refused a ${recordTypeName[r.type]} record ${why} (${counters.egressRefused} so far)`);
            }
            continue;
          }
          const body = r.body instanceof Uint8Array ? Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength) : r.body;
          if (channel.send(r.type as RecordType, body)) countRecord(r.type);
        }
      }),
      segmentDone: (seq, packets, skipped) => {
        if (skipped !== null) {
          counters.spoolAuthFailures++;
          log.warn(`segment ${seq} failed authentication (${skipped}): counted and skipped, never parsed`);
        }
        counters.analysed += packets;
        ring.markAnalysed(seq);
        spooler.retry();
      },
      restarted: (why) => {
        counters.analysisRestarts++;
        degradedUntil = sys.now() + 5000;
        log.warn(why);
      },
      quarantined: (pos) => {
        counters.quarantined++;
        log.warn(`quarantined the packet at segment ${Math.floor(pos / 2 ** 20)} index ${pos % 2 ** 20}: it stopped the analysis twice`);
      },
      streamsRefused: (total) => {
        counters.streamsRefused = total;
        if (sys.now() - lastRefusedLog > 5000) {
          lastRefusedLog = sys.now();
          log.warn(`the analysis module's records refused so far: ${count(total)} (not declared, out of range, over the rate limit, or below k)`);
        }
      },
      finished: (_c, streams) => {
        streamCounts = streams;
        // Names are run.json's, reasons the exit's own codes: no text from the module.
        for (const [name, c] of Object.entries(streams)) {
          const refused = Object.entries(c.refused).map(([why, n]) => `${why} ${count(n)}`).join(', ');
          log.info(`stream ${name}: ${count(c.accepted)} records accepted${refused ? `; refused: ${refused}` : ''}`);
        }
        analysisDone();
      },
      gaveUp: (why) => {
        degradedUntil = Number.MAX_SAFE_INTEGER;
        log.error(`${why}: captured packets stay sealed on the spool and are not analysed`);
      },
    });
    analysis.start();
  };

  const capture: Capture = new Capture({
    source: cfg.source,
    segmentBytes: maxBodyBytes(cfg.spool.segmentBytes),
    slots: CAPTURE_SLOTS,
    flushMs: 250,
    maxPackets: cfg.stop.packets ?? 0,
    waitForSlot: cfg.spool.onFull === 'wait',
  }, {
    onLinkType: (lt) => {
      linkType = lt;
      spooler.setLinkType(lt);
      channel.updateBoot({ linkType: lt });
      startAnalysis();
      leds.show('capturing');
      const what = cfg.source.kind === 'pcap'
        ? `file ${cfg.source.path} at ${cfg.source.speed} speed`
        : `interface ${cfg.source.name}${cfg.source.filter ? ` filter "${cfg.source.filter}"` : ''}${cfg.source.threads > 1 ? ` in ${cfg.source.threads} threads (packet fanout by flow)` : ''}`;
      log.notice(`capturing from ${what} (link type ${lt})`);
    },
    onSegment: (seg, bytes) => spooler.accept(seg, bytes),
    onDone: (d) => {
      if (d.slotDropped > 0) {
        counters.captured += d.slotDropped;
        counters.spoolDropped += d.slotDropped;
        log.warn(`capture dropped ${count(d.slotDropped)} packets while every segment buffer was busy`);
      }
      if (d.readError) log.warn(d.readError);
      if (d.reason === 'end of file' && cfg.stop.endOfSource) requestStop('end of source');
      else if (cfg.stop.packets !== null && counters.captured >= cfg.stop.packets) requestStop(`packet count ${count(cfg.stop.packets)} reached`);
      else if (d.reason === 'end of file') log.info('end of source reached; waiting for another stop condition');
      captureDone(d.reason);
    },
    onFailed: (m) => {
      leds.show('fatal');
      log.error(`capture failed: ${m}`);
      requestStop('capture failed');
      captureDone('failed');
    },
  });

  const status = new StatusReporter(cfg.status.everySeconds * 1000, log, () => ({
    state: leds.state() ?? 'booting',
    spoolFill: ring.fill(),
    kernelDropped: capture.kernelDropped(),
    backlog: channel.stats().backlogBytes,
    counters,
    streams: hasModule,
    unsandboxed: hasModule && !sandboxed,
    analysisPid: (analysis as AnalysisHost | null)?.pid() ?? null,
    elapsedMs: sys.now() - runStartedMs,
    stopSeconds: cfg.stop.seconds,
    outboxDropped: Object.values(channel.stats().dropped).reduce((a: number, b: number) => a + b, 0),
  }), (s) => { if (channel.send(RecordType.STATUS, s)) countRecord(RecordType.STATUS); });
  const ledTimer = setInterval(() => {
    if (stopReason !== null) return;
    const st = leds.state();
    if (st === 'fatal' || st === 'booting') return;
    leds.show(runningState({ degraded: sys.now() < degradedUntil, spoolFill: ring.fill(), channelStalled: channel.stats().backlogBytes > cfg.channel.outboxBytes * 0.75 }));
  }, 250);
  const runStartedMs = sys.now();
  status.start();
  const durationTimer = cfg.stop.seconds !== null ? setTimeout(() => requestStop(`duration ${cfg.stop.seconds} s reached`), cfg.stop.seconds * 1000) : null;

  // ---- stop ----
  const reason = await stopRequested;
  if (durationTimer) clearTimeout(durationTimer);
  log.notice(`stopping: ${reason}`);
  const orderly = (async () => {
    capture.stop();
    await captureFinished;
    await spooler.idle();
    log.info(`capture stopped: ${count(counters.captured)} packets captured, ${count(counters.spooled)} sealed in ${counters.segmentsSealed} segments; letting analysis finish`);
    if (analysis) {
      (analysis as AnalysisHost).finish();
      await analysisFinished;
      (analysis as AnalysisHost).stop();
    }
  })();
  await Promise.race([orderly, abortRequested]);
  if (aborted) {
    spooler.dropHeld('stopped at once');
    (analysis as AnalysisHost | null)?.stop();
    await capture.terminate().catch(() => {});
  }
  clearInterval(ledTimer);
  status.stop();
  leds.show('finished');
  const kernelDropped = capture.kernelDropped();
  log.notice(`run finished (${reason}): captured ${count(counters.captured)}, kernel dropped ${count(kernelDropped)}, spool dropped ${count(counters.spoolDropped)}, analysed ${count(counters.analysed)}, quarantined ${count(counters.quarantined)}, egress refused ${count(counters.egressRefused)}, analysis restarts ${counters.analysisRestarts}`);

  const end: EndRecord = {
    reason: aborted ? `${reason}; stopped at once` : reason,
    captured: counters.captured,
    kernelDropped,
    spoolDropped: counters.spoolDropped,
    spoolAuthFailures: counters.spoolAuthFailures,
    analysed: counters.analysed,
    quarantined: counters.quarantined,
    egressRefused: counters.egressRefused,
    analysisRestarts: counters.analysisRestarts,
    records: { ...counters.records },
    outboxDropped: Object.values(channel.stats().dropped).reduce((a: number, b: number) => a + b, 0),
    uptimeMs: log.uptimeMs(),
    ...(hasModule ? { streamsRefused: counters.streamsRefused, streams: streamCounts ?? {} } : {}),
    ...(hasModule && !sandboxed ? { sandbox: 'off' as const } : {}),
  };
  const drainMs = aborted ? 0 : cfg.channel.drainSeconds * 1000;
  const drainStarted = sys.now();
  const closing = channel.close(end, drainMs);
  const drained = await Promise.race([closing, abortRequested.then(() => null)]);
  const drainNote = drained === null ? 'drain cut short by a second signal' : drained.drained ? `results drained in ${((sys.now() - drainStarted) / 1000).toFixed(1)} s` : `drain time of ${cfg.channel.drainSeconds} s ran out with ${count(drained.leftBytes)} bytes undelivered`;
  sys.console(`[${((sys.now() - log.startMs) / 1000).toFixed(3).padStart(9)}] NOTE  ${drainNote}; keys wiped`);
  wipeAll();
  await ring.close().catch(() => {});
  closeSpoolDisk();
  o.signals.off('SIGTERM', onSignal);
  o.signals.off('SIGINT', onSignal);
  return aborted || stopReason === 'capture failed' ? 1 : 0;
}
