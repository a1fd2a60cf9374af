// summary.json: what arrived, what was lost, and the box's own final counters (END).
// Top-level counters describe the whole line (all sessions); the box counters
// (captured … quarantined) come from the END of the last session that sent one, and
// each session is listed with its own numbers under `sessions`.
import { LineDecoder } from './decoder';
import { OutputFiles } from './outputs';
import { SessionState } from './session';
import type { BootRecord } from '../channel/records';
import type { StreamRefusal } from './stream-files';
import type { ForwardReport } from './ipfix-udp';

export interface Summary {
  captured: number | null;
  kernelDropped: number | null;
  spoolDropped: number | null;
  analysed: number | null;
  quarantined: number | null;
  /** The analysis firmware (name, version, bundle hash) and board the last session's BOOT announced. */
  firmware: BootRecord['firmware'] | null;
  board: string | null;
  /** The last session's privacy statement hash (BOOT.privacy; `sealtap bundle inspect --privacy` prints the statement). */
  privacy: string | null;
  /** The researcher's module the last session ran (BOOT.module: size and BLAKE2b-256), null without one. */
  module: { bytes: number; blake2b: string } | null;
  /** The last session's BOOT.sandbox: "off" when the researcher's module ran without its sandbox; null if not said. */
  sandbox: 'on' | 'off' | null;
  /** Records received, per record type name, all sessions. */
  records: Record<string, number>;
  frames: number;
  badFrames: number;
  missingFrames: number;
  /** True when the last session's END arrived. */
  complete: boolean;
  /** Records the box says it sent (END.records) and whether that equals what arrived. */
  endRecords: Record<string, number> | null;
  recordsMatchEnd: boolean | null;
  /** STREAM records written, per stream name, all sessions (<stream>.jsonl; schema.json). */
  streams: Record<string, number>;
  /** Records of the module's streams the box's trusted exit refused (END.streamsRefused), null without a module. */
  streamsRefused: number | null;
  /** Per declared stream, records the box accepted and refused by reason (END.streams), null without a module. */
  streamCounts: Record<string, { accepted: number; refused: Record<string, number> }> | null;
  /** STREAM records not written (bad or reserved name, undeclared, bad field…), all sessions, and why. */
  refusedStreamRecords: number;
  refusedStreamReasons: Partial<Record<StreamRefusal, number>>;
  channel: {
    bytesRead: number;
    skippedBytes: number;
    badFrameReasons: Record<string, number>;
    duplicateFrames: number;
    outboxDropped: number | null;
    egressRefused: number | null;
    durationMs: number;
    bytesPerSecond: number;
    /** Encrypted frames opened with the session key (--key). */
    decryptedFrames: number;
    /** Encrypted frames that could not be opened: no --key, or the wrong one (their records are not in the outputs). */
    undecryptableFrames: number;
    /** Frames rebuilt from FEC repair frames: received after all, not missing. */
    repairedFrames: number;
    /** FEC groups that lost more frames than their repair frames could rebuild. */
    unrepairableGroups: number;
    /** FEC repair frames received, and those lost (not counted in missingFrames: no record was in them). */
    repairFrames: number;
    missingRepairFrames: number;
  };
  outputs: { flows: number; dns: number; packets: number; malformedPackets: number; ipfixRecords: number; ipfixSkipped: number; logLines: number };
  /** What --ipfix forwarded to the collector, and what it could not (null without --ipfix). */
  ipfixForward: ForwardReport | null;
  sessions: Array<ReturnType<typeof sessionSummary>>;
}

export function buildSummary(d: LineDecoder, out: OutputFiles, startedMs: number, nowMs: number, forwarded: ForwardReport | null): Summary {
  const opened = [...d.sessions.values()].filter((s) => s.opened() || s.lostBeforeBoot > 0);
  const records: Record<string, number> = {};
  const streams = new Map<string, number>();
  let refusedStreams = 0;
  let frames = 0;
  let missing = 0;
  let dups = 0;
  let decrypted = 0;
  let undecryptable = 0;
  let repaired = 0;
  let unrepairable = 0;
  let repairFrames = 0;
  let missingRepair = 0;
  for (const s of opened) {
    decrypted += s.decryptedFrames;
    undecryptable += s.encryptedFrames;
    repaired += s.repairedFrames;
    unrepairable += s.fec?.unrepairableGroups ?? 0;
    repairFrames += s.repairFrames;
    missingRepair += s.fec?.missingRepairFrames ?? 0;
    frames += s.frames;
    missing += missingDataFrames(s);
    dups += s.seq.duplicates;
    for (const [k, v] of Object.entries(s.records)) records[k] = (records[k] ?? 0) + v;
    for (const [k, v] of s.streamRecords) streams.set(k, (streams.get(k) ?? 0) + v);
    refusedStreams += s.refusedStreamRecords;
  }
  const withEnd = opened.filter((s) => s.end);
  const last = withEnd[withEnd.length - 1]?.end ?? null;
  const lastSession = d.current;
  const durationMs = Math.max(1, nowMs - startedMs);
  return {
    // END comes from the line: a counter that is not a number is null here, so that
    // whoever prints these (the CLI's summary lines) prints a number or null, never text.
    captured: count(last?.captured),
    kernelDropped: count(last?.kernelDropped),
    spoolDropped: count(last?.spoolDropped),
    analysed: count(last?.analysed),
    quarantined: count(last?.quarantined),
    firmware: lastSession?.boot?.firmware ?? null,
    board: lastSession?.boot?.board ?? null,
    privacy: privacyOf(lastSession),
    module: moduleOf(lastSession),
    sandbox: sandboxOf(lastSession),
    records,
    frames,
    badFrames: d.totalBadFrames(),
    missingFrames: missing,
    complete: lastSession?.end != null,
    endRecords: lastSession?.end?.records ?? null,
    recordsMatchEnd: lastSession?.end ? sameCounts(lastSession.end.records, lastSession.records) : null,
    streams: Object.fromEntries(streams),
    streamsRefused: count(last?.streamsRefused),
    streamCounts: streamCountsOf(last?.streams),
    refusedStreamRecords: refusedStreams,
    refusedStreamReasons: { ...out.streams.refusedReasons },
    channel: {
      bytesRead: d.bytesRead,
      skippedBytes: d.skippedBytes(),
      badFrameReasons: { ...d.badFrameReasons, ...(d.totalBadFrames() > d.badFrames ? { overlong: d.totalBadFrames() - d.badFrames } : {}) },
      duplicateFrames: dups,
      outboxDropped: count(last?.outboxDropped),
      egressRefused: count(last?.egressRefused),
      durationMs,
      bytesPerSecond: Math.round((d.bytesRead * 1000) / durationMs),
      decryptedFrames: decrypted,
      undecryptableFrames: undecryptable,
      repairedFrames: repaired,
      unrepairableGroups: unrepairable,
      repairFrames,
      missingRepairFrames: missingRepair,
    },
    outputs: {
      flows: out.flowRecords, dns: out.dnsRecords, packets: out.pcapPackets(), malformedPackets: out.pcapMalformed(),
      ipfixRecords: out.ipfixRecords(), ipfixSkipped: out.ipfixSkipped(), logLines: out.logLines,
    },
    ipfixForward: forwarded,
    sessions: opened.map(sessionSummary),
  };
}

function sessionSummary(s: SessionState) {
  return {
    session: s.id,
    board: s.boot?.board ?? null,
    firmware: s.boot?.firmware ?? null,
    privacy: privacyOf(s),
    module: moduleOf(s),
    sandbox: sandboxOf(s),
    closedBy: s.closedBy,
    frames: s.frames,
    firstSeq: s.seq.first,
    lastSeq: s.seq.last(),
    records: s.records,
    missingFrames: missingDataFrames(s),
    missingRanges: s.seq.holes,
    duplicateFrames: s.seq.duplicates,
    framesBeforeBootLost: s.lostBeforeBoot,
    lostFragmentedRecords: s.lostFragmentedRecords,
    badRecords: s.badRecords,
    streams: Object.fromEntries(s.streamRecords),
    refusedStreamRecords: s.refusedStreamRecords,
    encrypted: s.boot?.encryption ? (s.keyProblem ?? 'decrypted') : false,
    encryptedFrames: s.encryptedFrames,
    decryptedFrames: s.decryptedFrames,
    fec: s.boot?.fec ?? null,
    repairFrames: s.repairFrames,
    repairedFrames: s.repairedFrames,
    missingRepairFrames: s.fec?.missingRepairFrames ?? 0,
    unrepairableGroups: s.fec?.unrepairableGroups ?? 0,
    badRepairFrames: s.fec?.badRepairFrames ?? 0,
    badRebuilds: s.badRebuilds,
    checkpoints: s.checkpoints,
    end: s.end,
  };
}

function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

const HASH = /^[0-9a-f]{64}$/;

/** BOOT.privacy when it is a hash; anything else from the line is not repeated. */
function privacyOf(s: SessionState | null): string | null {
  const v = s?.boot?.privacy;
  return typeof v === 'string' && HASH.test(v) ? v : null;
}

function moduleOf(s: SessionState | null): { bytes: number; blake2b: string } | null {
  const m = s?.boot?.module as unknown;
  if (m === null || typeof m !== 'object') return null;
  const { bytes, blake2b } = m as Record<string, unknown>;
  return Number.isSafeInteger(bytes) && (bytes as number) >= 0 && typeof blake2b === 'string' && HASH.test(blake2b) ? { bytes: bytes as number, blake2b } : null;
}

function sandboxOf(s: SessionState | null): 'on' | 'off' | null {
  const v = s?.boot?.sandbox;
  return v === 'on' || v === 'off' ? v : null;
}

/** Sequence gaps minus lost FEC repair frames (missingRanges still lists every gap). */
export function missingDataFrames(s: SessionState): number {
  return Math.max(0, s.seq.missing - (s.fec?.missingRepairFrames ?? 0));
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b)]);
  for (const k of keys) if ((a?.[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

/** END.streams as sent, kept only if every count is a whole number (it came from the line). */
function streamCountsOf(v: unknown): Summary['streamCounts'] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const whole = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  const out: NonNullable<Summary['streamCounts']> = {};
  for (const [name, c] of Object.entries(v as Record<string, { accepted?: unknown; refused?: unknown }>)) {
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(name) || typeof c !== 'object' || c === null || !whole(c.accepted)) return null;
    const refused = c.refused;
    if (typeof refused !== 'object' || refused === null || !Object.entries(refused).every(([k, x]) => /^[A-Za-z]{1,32}$/.test(k) && whole(x))) return null;
    out[name] = { accepted: c.accepted as number, refused: { ...(refused as Record<string, number>) } };
  }
  return out;
}
