// The interface of the built-in analyses (flows, dns, packets). They run in the
// trusted analysis process, beside the keys: they get the Anonymizer and the keyed
// primitives, and emit FLOW, DNS and PACKET records directly. A researcher's module
// never sees this interface: it runs in a sandboxed process of its own and is written
// against firmware/analysis/sdk.ts (typed streams, packets by reference).
import type { PacketView } from '../../decode/packetView';
import type { FlowRecord, DnsRecord } from '../../channel/records';
import type { AnonPrimitives } from '../anonymizer';
import type { FieldActions } from '../../anonymize/policy';

/** Anonymization bound to this run's keys and policy. */
export interface Anonymizer {
  /** Prefix-preserving (Crypto-PAn) text form of the address at buf[off..off+len). */
  addr(buf: Buffer, off: number, len: 4 | 16): string;
  /** Rewrites an address in place (packets output). */
  addrInPlace(buf: Buffer, off: number, len: 4 | 16): void;
  /** Keyed permutation of a MAC address in place, keeping the multicast and local bits. */
  macInPlace(buf: Buffer, off: number): void;
  /**
   * Keyed hash of a DNS name, as dotted text or as its wire labels (a label may hold any
   * byte); the policy says how many suffix labels stay readable.
   */
  name(labels: string | readonly Buffer[]): string;
  /** A timestamp shifted by the run's secret origin and coarsened as the policy says. */
  time(us: number): number;
  /** Keyed 32-bit offset for a flow direction's TCP sequence numbers. */
  flowOffset(key: Buffer): number;
}

/**
 * Typed record emitters. The runtime gives each record its place (the packet being
 * analysed and the record's ordinal) for crash-safe replay, so emit only inside
 * onPacket, onTimer and onEnd: records emitted from a module's own timers or promises
 * have no place and are dropped (counted as emittedOutsideHandlers).
 */
export interface Emit {
  flow(record: FlowRecord): void;
  dns(record: DnsRecord): void;
  /** One packet as a pcap record (16-byte little-endian header + bytes); copied at once. */
  packet(record: Buffer, length: number): void;
}

export interface ModuleContext {
  anon: Anonymizer;
  linkType: number;
  /** The run's flows settings (maxFlows, idleSeconds, activeSeconds). */
  flows: { maxFlows: number; idleSeconds: number; activeSeconds: number };
  /** The validated policy, for modules that need to read it. */
  policy: unknown;
  /** This level's field actions and the keyed primitives, for header rewriting. */
  fields: FieldActions;
  prim: AnonPrimitives;
}

/**
 * A module must be deterministic: the same packets in the same order give the same
 * records in the same order. After a crash the analysis replays the ring and relies on
 * that to skip what was already sent (no wall clock, no randomness, no reliance on
 * Map/Set order of anything but insertion).
 */
export interface AnalysisModule {
  readonly name: string;
  /**
   * Called for every packet in capture order. `view` and `buf` are reused for the next
   * packet: copy what you keep. Throwing stops the analysis; it restarts, and a packet
   * that stops it twice is quarantined (skipped and counted). Taking longer than
   * run.json analysis.heartbeatSeconds counts as a hang and is treated the same.
   */
  onPacket(view: PacketView, buf: Buffer, tsUs: number, emit: Emit): void;
  /** Called at the first packet of each new second of packet time (whole seconds), for timeouts. */
  onTimer?(tsUs: number, emit: Emit): void;
  /** Called once at the end of the run: flush what is left. A throw here loses only this module's last records. */
  onEnd?(tsUs: number, emit: Emit): void;
}

/** Builds a built-in analysis for one output level. */
export type ModuleFactory = (ctx: ModuleContext) => AnalysisModule;
