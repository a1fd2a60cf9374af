// The messages between the supervisor and the analysis process. The analysis runs
// with no file writes, no child processes and no network: this IPC channel (Node's
// "advanced" serialization, so Buffers pass as bytes) is its only way out, plus two
// pipes: stdin carries its subkeys once at start, fd 4 carries packet positions.
import type { Output } from '../supervisor/config';
import { RecordType } from '../channel/records';

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

/** Exit codes of the analysis process, so the operator log can say what happened. */
export const ChildExit = {
  /** A module threw on a packet; its position is on the pipe. */
  moduleThrew: 70,
  /** Could not read its keys from stdin. */
  noKeys: 71,
  /** The researcher's module (or a built-in) failed to load or construct. */
  moduleLoad: 72,
} as const;

export function describeExit(code: number | null, signal: string | null, hung: boolean): string {
  if (hung) return 'stopped answering (heartbeat timeout)';
  if (signal) return `was killed by ${signal}`;
  if (code === ChildExit.moduleThrew) return 'stopped: a module threw on a packet';
  if (code === ChildExit.noKeys) return 'could not read its keys at start';
  if (code === ChildExit.moduleLoad) return 'could not load or start its analysis modules (check run.json analysis.module)';
  return `exited with code ${code}`;
}

/** Record types the analysis may send; anything else is refused by the supervisor. */
export const analysisRecordTypes: readonly number[] = [RecordType.FLOW, RecordType.PACKET, RecordType.DNS];

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
  /** A researcher's module to load (path), or null for the built-in analyses only. */
  module: string | null;
  heartbeatMs: number;
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
  /** A segment fully analysed (or skipped): its records were all sent before this. */
  | { t: 'segmentDone'; seq: number; packets: number; skipped: 'auth' | 'format' | 'torn' | 'gone' | null; decodeCounters: Record<string, number>; lastTsUs: number | null }
  | { t: 'finished'; counters: Record<string, number> };

/** Packets per wall-clock check while analysing: small enough that a slow module still yields often. */
export const packetsPerClockCheck = 16;
