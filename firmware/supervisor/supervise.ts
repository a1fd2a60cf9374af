// The supervisor's lifecycle, one phase per function below:
//   checkBoot     the policy, the module and its sandbox: refused before any key exists (boot-checks.ts)
//   makeKeys      the per-boot master secret and its purpose keys, in locked memory
//   prepareBox    on the box: the spool disk under dm-crypt, the capture NIC receive-only
//   openSpool     the ring of sealed segments
//   openLine      the results line, announced with BOOT; the operator log follows it
//   Pipeline      capture, sealing, analysis and egress until a stop condition (pipeline.ts)
//   stopRun       stop capture, let the analysis finish, END, drain the line
// The phases share the Run (lifecycle.ts): its log, LEDs, state and stop requests. Each
// phase that acquires something pushes its closer on the Run's teardown stack, unwound once at the end: after a clean stop, a refused boot or a
// second signal alike. Every step logs one operator line; a failure before capture is
// fatal with a clear message, a failure after it is counted and reported.
import * as path from 'node:path';
import { Keyring, KeyPurpose } from '../keys/keyring';
import type { SpoolRing } from '../spool/ring';
import { EgressGuard } from '../egress/guard';
import { RecordType, recordTypeName, EndRecord, BootRecord } from '../channel/records';
import type { Channel } from '../channel/writer';
import { childKeyOrder } from '../analysis/ipc';
import type { RunConfig } from './config';
import type { Board } from './board';
import type { Sys } from './sys';
import { count, formatUptime } from './oplog';
import { BootSigner } from './signer';
import { StatusReporter } from './status';
import { prepareAppliance, closeAppliance } from './appliance';
import { BootFailure, Run } from './lifecycle';
import { BootPlan, checkBoot } from './boot-checks';
import { Pipeline, PurposeKeys } from './pipeline';
import type { SpareAnalyses } from '../analysis/sandbox';
import type { SpareCaptureThreads } from '../capture/capture';

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
  /**
   * Development switch (`sealtap run --unsandboxed`, refused on the box): the
   * researcher's module runs without its operating-system sandbox. BOOT, every STATUS
   * and END say so.
   */
  unsandboxed?: boolean;
  /**
   * Analysis processes the caller forked as soon as it knew the configuration (sealtap
   * run does, before the supervisor's modules load); without them the pipeline forks
   * its own. They are taken when capture starts; what is not taken is killed.
   */
  spares?: SpareAnalyses | null;
  /** Capture threads the caller started as soon as it knew the configuration (sealtap run does); else capture starts its own. */
  captureSpares?: SpareCaptureThreads | null;
  /**
   * In-process tests only (no command line or environment reaches this): a look at
   * each segment as it is published, so a test can tamper with it.
   */
  testHooks?: { published?: (seq: number, file: string) => void };
}

/** Results kept in RAM while the rest of the outbox waits sealed on the spool. */
const OUTBOX_MEMORY_BYTES = 4 * 1048576;

interface RunKeys {
  keyring: Keyring;
  keys: PurposeKeys;
  signer: BootSigner;
  guard: EgressGuard;
}

export async function supervise(o: SuperviseOptions): Promise<number> {
  const run = new Run(o);
  let code: number;
  try {
    code = await runPhases(run);
  } catch (e) {
    if (!(e instanceof BootFailure)) throw e;
    run.enter('fatal');
    run.log.error(e.message);
    code = 1;
  } finally {
    await run.teardown.unwind((what, e) => run.log.warn(`closing ${what} failed: ${e.message}`));
  }
  if (run.finalNote !== null) run.sys.console(run.finalNote);
  return code;
}

async function runPhases(run: Run): Promise<number> {
  const { o, log } = run;
  run.enter('booting');
  log.notice(`sealtap ${o.version} booting on board ${o.board.name}; analysis firmware ${o.firmware.name} ${o.firmware.version}`);
  const plan = checkBoot(run.cfg, run.sys, log, o.unsandboxed === true);
  const keys = makeKeys(run);
  prepareBox(run, keys.keyring);
  const { ring, aead } = openSpool(run);
  const channel = openLine(run, plan, keys);
  const onSignal = (sig: string): void => run.signal(sig);
  o.signals.on('SIGTERM', onSignal);
  o.signals.on('SIGINT', onSignal);
  run.teardown.push('the signal handlers', () => {
    o.signals.off('SIGTERM', onSignal);
    o.signals.off('SIGINT', onSignal);
  });
  const pipeline = new Pipeline({
    cfg: run.cfg, sys: run.sys, log, counters: run.counters,
    keys: keys.keys, guard: keys.guard, ring, aead: aead.aead, runId: run.sys.randomBytes(16),
    channel, policy: plan.policy, moduleCommand: plan.command,
    countRecord: (t, n) => countRecord(run, t, n),
    state: () => run.state,
    enter: (s) => run.enter(s),
    requestStop: (why) => run.requestStop(why),
    stopRequested: () => run.stopReason !== null,
    published: o.testHooks?.published,
    spares: o.spares,
    captureSpares: o.captureSpares,
  });
  run.teardown.push('capture and analysis', () => pipeline.close());
  return stopRun(run, plan, channel, ring, pipeline);
}

/** Nothing secret exists before this phase, and nothing survives the run. */
function makeKeys(run: Run): RunKeys {
  const keyring = run.sys.generateKeyring();
  const keys: PurposeKeys = {
    spool: keyring.subkey(KeyPurpose.spool),
    address: keyring.subkey(KeyPurpose.address),
    mac: keyring.subkey(KeyPurpose.mac),
    ident: keyring.subkey(KeyPurpose.ident),
    time: keyring.subkey(KeyPurpose.time),
    flow: keyring.subkey(KeyPurpose.flow),
    egress: keyring.subkey(KeyPurpose.egress),
  };
  const signer = new BootSigner();
  run.log.info(`volatile keys generated from the kernel RNG: master and ${childKeyOrder.length} purpose keys in locked memory`);
  const guard = new EgressGuard(keys.egress);
  run.teardown.push('the keys', () => {
    guard.wipe();
    signer.wipe();
    keyring.wipe();
  });
  return { keyring, keys, signer, guard };
}

/** On the box: the encrypted spool disk and the receive-only capture NIC (appliance.ts). */
function prepareBox(run: Run, keyring: Keyring): void {
  const { sys, log } = run;
  let steps;
  try {
    steps = prepareAppliance(run.cfg, run.o.board, keyring, sys.commands, (line) => log.info(line));
  } catch (e) {
    throw new BootFailure((e as Error).message);
  }
  const opened = steps;
  run.teardown.push('the encrypted spool', () => {
    const err = closeAppliance(opened, sys.commands);
    if (err) log.warn(err);
  });
}

function openSpool(run: Run): { ring: SpoolRing; aead: ReturnType<Sys['chooseSegmentAead']> } {
  const { cfg, sys, log } = run;
  let ring: SpoolRing;
  try {
    ring = sys.openSpool({ dir: cfg.spool.dir, bytes: cfg.spool.bytes, slotBytes: cfg.spool.segmentBytes });
  } catch (e) {
    throw new BootFailure(`spool failed: ${(e as Error).message}`);
  }
  // Pending writes end before the disk under them is closed.
  run.teardown.push('the spool', () => ring.close().catch(() => {}));
  // The faster AEAD on this CPU (AES-256-GCM where it has AES instructions).
  const aead = sys.chooseSegmentAead();
  const measured = Object.entries(aead.gbps).map(([n, g]) => `${n} ${Math.round(g * 1000)} MB/s`).join(', ');
  log.info(`spool ready: ${ring.slots} slots of ${(cfg.spool.segmentBytes / 1048576).toFixed(1)} MiB in ${cfg.spool.dir}, sealed with ${aead.name} (measured ${measured})`);
  return { ring, aead };
}

/** The results line: BOOT first, then the operator log (the boot's lines replayed). */
function openLine(run: Run, plan: BootPlan, k: RunKeys): Channel {
  const { cfg, sys, log, o } = run;
  const session = sys.randomBytes(8);
  const isTty = sys.isTty(cfg.channel.path);
  // The channel re-sends this as BOOT every few seconds; the link type is updated when
  // capture reports it, before the first PACKET record can exist.
  const boot: BootRecord = {
    session: session.toString('hex'),
    product: 'sealtap',
    version: o.version,
    board: o.board.name,
    firmware: o.firmware,
    link: { kind: isTty ? 'tty' : 'file', baud: isTty ? cfg.channel.baud : null },
    checkpointKey: k.signer.publicKey.toString('hex'),
    linkType: -1,
    outputs: cfg.outputs,
    uptimeMs: log.uptimeMs(),
    privacy: plan.privacy,
    ...(plan.hasModule && plan.statement.module ? { module: plan.statement.module } : {}),
    ...(plan.hasModule ? { streams: plan.statement.streams, sandbox: plan.sandboxed ? 'on' as const : 'off' as const } : {}),
  };
  let channel: Channel;
  try {
    channel = sys.openChannel({
      path: cfg.channel.path,
      baud: cfg.channel.baud,
      outboxBytes: cfg.channel.outboxBytes,
      bootEveryMs: cfg.channel.bootEverySeconds * 1000,
      session,
      boot,
      signer: k.signer,
      recipient: cfg.channel.recipient ? Buffer.from(cfg.channel.recipient, 'hex') : null,
      fec: cfg.channel.fec ?? undefined,
      // The backlog of results waits sealed on the spool (on the box: inside dm-crypt),
      // so a slow or unplugged line costs disk, not RAM; a few MiB stay in memory.
      spill: {
        dir: path.join(cfg.spool.dir, 'outbox'),
        key: k.keyring.subkey(KeyPurpose.channel),
        memoryBytes: Math.min(cfg.channel.outboxBytes, OUTBOX_MEMORY_BYTES),
      },
    });
  } catch (e) {
    throw new BootFailure(`results channel failed: ${(e as Error).message}`);
  }
  log.attach((uptimeMs, severity, msg) => {
    if (channel.send(RecordType.LOG, { uptimeMs, severity, msg })) countRecord(run, RecordType.LOG);
  });
  log.info(`results channel open on ${cfg.channel.path}${isTty ? ` at ${cfg.channel.baud} baud, write-only` : ' (recording)'}; session ${session.toString('hex')}`);
  return channel;
}

function countRecord(run: Run, type: number, n = 1): void {
  const name = recordTypeName[type];
  run.counters.records[name] = (run.counters.records[name] ?? 0) + n;
}

/**
 * Runs until a stop condition, then stops in order: capture, the analysis, END, the
 * drain of the line. A second signal cuts each wait short. Returns the exit code.
 */
async function stopRun(run: Run, plan: BootPlan, channel: Channel, ring: SpoolRing, pipeline: Pipeline): Promise<number> {
  const { cfg, sys, log, counters } = run;
  const outboxDropped = (): number => Object.values(channel.stats().dropped).reduce((a: number, b: number) => a + b, 0);
  const runStartedMs = sys.now();
  const status = new StatusReporter(sys, cfg.status.everySeconds * 1000, log, () => ({
    state: run.leds.state() ?? 'booting',
    spoolFill: ring.fill(),
    kernelDropped: pipeline.kernelDropped(),
    backlog: channel.stats().backlogBytes,
    counters,
    streams: plan.hasModule,
    unsandboxed: plan.hasModule && !plan.sandboxed,
    analysisPids: pipeline.analysisPids(),
    elapsedMs: sys.now() - runStartedMs,
    stopSeconds: cfg.stop.seconds,
    outboxDropped: outboxDropped(),
    captureWaits: pipeline.captureWaits(),
  }), (s) => { if (channel.send(RecordType.STATUS, s)) countRecord(run, RecordType.STATUS); });
  status.start();
  run.teardown.push('the status reports', () => status.stop());
  const duration = cfg.stop.seconds !== null ? sys.after(cfg.stop.seconds * 1000, () => run.requestStop(`duration ${cfg.stop.seconds} s reached`)) : null;

  const reason = await run.stopRequested;
  duration?.cancel();
  run.enter('stopping');
  log.notice(`stopping: ${reason}`);
  await Promise.race([pipeline.stopInOrder(), run.abortRequested]);
  if (run.aborted) await pipeline.stopAtOnce();
  pipeline.stopWatching();
  status.stop();
  run.enter('draining');
  const kernelDropped = pipeline.kernelDropped();
  log.notice(`run finished (${reason}): captured ${count(counters.captured)}, kernel dropped ${count(kernelDropped)}, spool dropped ${count(counters.spoolDropped)}, analysed ${count(counters.analysed)}, quarantined ${count(counters.quarantined)}, egress refused ${count(counters.egressRefused)}, analysis restarts ${counters.analysisRestarts}`);

  const end: EndRecord = {
    reason: run.aborted ? `${reason}; stopped at once` : reason,
    captured: counters.captured,
    kernelDropped,
    spoolDropped: counters.spoolDropped,
    spoolAuthFailures: counters.spoolAuthFailures,
    analysed: counters.analysed,
    quarantined: counters.quarantined,
    egressRefused: counters.egressRefused,
    analysisRestarts: counters.analysisRestarts,
    records: { ...counters.records },
    outboxDropped: outboxDropped(),
    uptimeMs: log.uptimeMs(),
    ...(plan.hasModule ? { streamsRefused: counters.streamsRefused, streams: pipeline.streams() ?? {} } : {}),
    ...(plan.hasModule && !plan.sandboxed ? { sandbox: 'off' as const } : {}),
  };
  const drainMs = run.aborted ? 0 : cfg.channel.drainSeconds * 1000;
  const drainStarted = sys.now();
  const drained = await Promise.race([channel.close(end, drainMs), run.abortRequested.then(() => null)]);
  const drainNote = drained === null
    ? 'drain cut short by a second signal'
    : drained.drained ? `results drained in ${((sys.now() - drainStarted) / 1000).toFixed(1)} s` : `drain time of ${cfg.channel.drainSeconds} s ran out with ${count(drained.leftBytes)} bytes undelivered`;
  // The line is closed: this last line goes to the console only, once the keys are wiped.
  run.finalNote = `[${formatUptime(sys.now() - log.startMs)}] NOTE  ${drainNote}; keys wiped`;
  run.enter('finished');
  return run.aborted || reason === 'capture failed' ? 1 : 0;
}
