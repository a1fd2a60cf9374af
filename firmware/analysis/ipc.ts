// The messages between the supervisor and the analysis process. The analysis runs
// with no file writes, no child processes and no network: this IPC channel (Node's
// "advanced" serialization, so Buffers pass as bytes) is its only way out, plus two
// pipes: stdin carries its subkeys once at start, fd 4 carries packet positions.
import type { Output } from '../supervisor/config';
import type { Streams } from './streams/schema';
import type { ModuleCommand } from './module-link';
import { RecordType } from '../channel/records';
import { countRecords } from '../spool/pcap-records';
import type { Shard } from './shard';

/**
 * A packet's position in the run: segment sequence × 2^20 + index in the segment.
 * The capture thread closes a segment at maxRecordsPerSegment records whatever its
 * size, so an index always fits; positions stay exact doubles up to segment 2^33.
 */
export const positionStride = 2 ** 20;
export const maxRecordsPerSegment = positionStride - 1;
export function position(seq: number, index: number): number {
  return seq * positionStride + index;
}
export function describePosition(pos: number): string {
  return `segment ${Math.floor(pos / positionStride)} packet ${pos % positionStride}`;
}

/**
 * Written to the position pipe after a packet is fully analysed in careful mode: a
 * death after it happened between packets (idle, flushing, reading a segment) and
 * names no packet. Without it an analysis killed twice while idle would quarantine
 * the last packet it finished, which did nothing wrong.
 */
export const betweenPackets = -1;

/** Time a new process (the analysis, or the module's in its sandbox) gets to load before its first message is due. */
export const startGraceMs = 10_000;

/** Exit codes of the analysis process, so the operator log can say what happened. */
export const ChildExit = {
  /** A module threw on a packet; its position is on the pipe. */
  moduleThrew: 70,
  /** Could not read its keys from stdin. */
  noKeys: 71,
  /** The researcher's module (or a built-in) failed to load or construct. */
  moduleLoad: 72,
  /** The researcher's module's process was killed (a sandbox limit: memory, a denied call) or crashed. */
  moduleKilled: 73,
  /** The researcher's module stopped answering (heartbeat timeout in its sandbox). */
  moduleHung: 74,
  /** The researcher's module's process broke the frame protocol (not what the runtime writes). */
  moduleBroke: 75,
} as const;

export function describeExit(code: number | null, signal: string | null, hung: boolean): string {
  if (hung) return 'stopped answering (heartbeat timeout)';
  if (signal) return `was killed by ${signal}`;
  if (code === ChildExit.moduleThrew) return 'stopped: a module threw on a packet';
  if (code === ChildExit.noKeys) return 'could not read its keys at start';
  if (code === ChildExit.moduleLoad) return 'could not load or start its analysis modules (check run.json analysis.module)';
  if (code === ChildExit.moduleKilled) return "stopped: the researcher's module was killed by its sandbox (a memory limit, a refused system call) or crashed";
  if (code === ChildExit.moduleHung) return "stopped: the researcher's module stopped answering (heartbeat timeout)";
  if (code === ChildExit.moduleBroke) return "stopped: the researcher's module's process wrote what its runtime never writes (refused)";
  return `exited with code ${code}`;
}

/** Record types the analysis may send; anything else is refused by the supervisor. */
export const analysisRecordTypes: readonly number[] = [RecordType.FLOW, RecordType.PACKET, RecordType.DNS, RecordType.STREAM];

/**
 * Every record the analysis emits has a place: the packet that caused it (or the
 * end-of-run position) and its ordinal among the records of that packet. Replays
 * after a restart are deterministic, so a place identifies a record across restarts:
 * the supervisor commits places, and a restarted analysis emits nothing at or before
 * the last committed one.
 */
export interface Place {
  pos: number;
  ord: number;
}
export function placeAfter(a: Place, b: Place): boolean {
  return a.pos > b.pos || (a.pos === b.pos && a.ord > b.ord);
}
export const noPlace: Place = { pos: -1, ord: -1 };

/** Subkeys sent on stdin, in this order, 32 bytes each. */
export const childKeyOrder = ['spool', 'address', 'mac', 'ident', 'time', 'flow', 'egress'] as const;

export interface InitMessage {
  t: 'init';
  linkType: number;
  outputs: Output[];
  /** Validated policy object. */
  policy: unknown;
  flows: { maxFlows: number; idleSeconds: number; activeSeconds: number };
  /** Emit nothing at or before this place. */
  committed: Place;
  /** Positions to skip: packets that crashed the analysis twice. */
  quarantine: number[];
  /** Write each packet's position to fd 4 before processing it, up to this segment. */
  carefulUntilSeq: number;
  /** A researcher's module to run in its sandbox (path), or null for the built-in analyses only. */
  module: string | null;
  /** The streams the analysis firmware declared (run.json analysis.streams). */
  streams: Streams;
  /** How to start the module's process (its sandbox), with a module. */
  moduleCommand: ModuleCommand | null;
  heartbeatMs: number;
  /** The flows this process analyses (shard.ts): every packet's time, only its shard's packets. */
  shard: Shard;
  /**
   * Packet time of the last packet before the first segment sent, when known: timer
   * ticks then fall on the same packets as in the process this one replaces.
   */
  prevTsUs: number | null;
}

export interface SegmentMessage {
  t: 'segment';
  seq: number;
  path: string;
  /** True when this segment is re-read only to rebuild state after a restart. */
  replay: boolean;
}

export interface FinishMessage {
  t: 'finish';
}

export type ToChild = InitMessage | SegmentMessage | FinishMessage;

export interface OutRecord {
  type: number;
  body: Record<string, unknown> | Uint8Array;
}

export type FromChild =
  | { t: 'ready' }
  | { t: 'heartbeat' }
  /** Keyed hashes (8 bytes each) of raw addresses first seen since the last message. */
  | { t: 'addresses'; hashes: Uint8Array }
  /** Records in order; `last` is the place of the last one. */
  | { t: 'records'; records: OutRecord[]; last: Place }
  /** `count` PACKET records in order, packed: each a whole pcap record (16-byte header, then caplen bytes). */
  | { t: 'packets'; bytes: Uint8Array; count: number; last: Place }
  /** A segment fully analysed (or skipped): its records were all sent before this. */
  /** `refused`: the module's records refused so far by this process (all streams and reasons). */
  | { t: 'segmentDone'; seq: number; packets: number; skipped: SkipReason | null; decodeCounters: Record<string, number>; lastTsUs: number | null; refused: number }
  /** `streams`: per declared stream, records accepted and refused by reason. */
  | { t: 'finished'; counters: Record<string, number>; streams: StreamCounts };

export type SkipReason = 'auth' | 'format' | 'torn' | 'gone';
export const skipReasons: readonly SkipReason[] = ['auth', 'format', 'torn', 'gone'];
export type StreamCounts = Record<string, { accepted: number; refused: Record<string, number> }>;

/** Packets per wall-clock check while analysing: small enough that a slow module still yields often. */
export const packetsPerClockCheck = 16;

const isWhole = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
const COUNTER_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
function isCounterMap(v: unknown, depth = 0): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.entries(v).every(([k, x]) => COUNTER_NAME.test(k) && (isWhole(x) || (depth < 2 && isCounterMap(x, depth + 1))));
}

function isPlace(v: unknown): v is Place {
  const p = v as Place | undefined;
  return typeof p === 'object' && p !== null && isWhole(p.pos) && isWhole(p.ord);
}

/** The records of a packed byte string (views, not copies); assumes countRecords(bytes) >= 0. */
export function splitPacked(bytes: Uint8Array): Buffer[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Buffer[] = [];
  for (let off = 0; off < b.length;) {
    const end = off + 16 + b.readUInt32LE(off + 8);
    out.push(b.subarray(off, end));
    off = end;
  }
  return out;
}

/**
 * True when a message from the analysis process has a known type and every field its
 * type and range: the supervisor acts on nothing else. `published` is the highest
 * segment seq handed out, so a segmentDone cannot name one that does not exist.
 */
export function validFromChild(m: unknown, published: number): m is FromChild {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Record<string, unknown>;
  switch (x.t) {
    case 'ready': case 'heartbeat':
      return true;
    case 'addresses':
      return x.hashes instanceof Uint8Array && x.hashes.length % 8 === 0 && x.hashes.length <= 1 << 24;
    case 'records':
      return Array.isArray(x.records) && isPlace(x.last);
    case 'packets':
      return x.bytes instanceof Uint8Array && isWhole(x.count) && x.count > 0 && isPlace(x.last)
        && countRecords(Buffer.from(x.bytes.buffer, x.bytes.byteOffset, x.bytes.byteLength)) === x.count;
    case 'segmentDone':
      return isWhole(x.seq, published) && isWhole(x.packets, maxRecordsPerSegment) && (x.skipped === null || skipReasons.includes(x.skipped as SkipReason))
        && isCounterMap(x.decodeCounters) && (x.lastTsUs === null || (typeof x.lastTsUs === 'number' && Number.isFinite(x.lastTsUs))) && isWhole(x.refused);
    case 'finished':
      return isCounterMap(x.counters) && isCounterMap(x.streams);
    default:
      return false;
  }
}
