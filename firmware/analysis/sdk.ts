// The SDK for a researcher's analysis module. The module runs in a process of its own
// behind an operating-system sandbox (no key, no network, no files, its own uid), sees
// decoded views of raw packets, and can get results out only two ways:
//   emit.record(stream, values): a record of a stream declared in run.json
//     "analysis.streams"; every field has a type, and trusted code outside the sandbox
//     anonymizes, hashes, coarsens and bounds each value before the record may leave.
//   emit.packet(): the packet being analysed, by reference; trusted code rewrites its
//     headers from the original bytes with the policy's packet actions.
// There is no free text: a value that does not fit its declaration is refused.
//
// A module file loads the SDK by a fixed name, wherever its bundle is unpacked:
//   const { defineModule } = require('sealtap/sdk');
// The guide is docs/sdk.md; examples/port-histogram is a complete module.
import type { PacketView } from '../decode/packetView';

/** What one value of a declared field may be, by its declared type. */
export type StreamValue =
  /** address: 4 or 16 raw bytes (copied at once); mac: 6 bytes; name: the name's text or bytes. */
  | Uint8Array
  /** name: text; enum: one of the declared values. */
  | string
  /** port, protocol, count, time (µs since the epoch), duration (µs), flags: a whole number. */
  | number
  /** histogram: exactly `bins` whole numbers. */
  | readonly number[];

/**
 * Record emitters. Each record gets its place (the packet being analysed) for
 * crash-safe replay, so emit only inside onPacket, onTimer and onEnd.
 */
export interface Emit {
  /**
   * One record of a declared stream: an object with exactly the declared fields.
   * Returns false when it was refused here (unknown stream, missing or extra field, a
   * value of the wrong type or out of range); the run counts refusals per stream.
   */
  record(stream: string, values: Readonly<Record<string, StreamValue>>): boolean;
  /**
   * The packet being analysed, to trace.pcap: trusted code rewrites its headers with
   * the packet actions of the policy (the first level whose outputs name "packets").
   * `layers` keeps only the first that many headers of the decoded stack (1: the link
   * header, 2: and the IP header, ...; PacketView.depth counts them); all when left
   * out. Only inside onPacket, once per packet; returns false when refused.
   */
  packet(layers?: number): boolean;
}

export interface ModuleContext {
  /** Link type of the packets (pcap LINKTYPE_*). */
  linkType: number;
  /** The run's flows settings (maxFlows, idleSeconds, activeSeconds), for modules that keep tables. */
  flows: { maxFlows: number; idleSeconds: number; activeSeconds: number };
  /** The declared streams: name -> field names, in declared order. */
  streams: Record<string, string[]>;
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
   * packet: copy what you keep. Throwing stops the module; it restarts, and a packet
   * that stops it twice is quarantined (skipped and counted). Taking longer than
   * run.json analysis.heartbeatSeconds counts as a hang and is treated the same.
   */
  onPacket(view: PacketView, buf: Buffer, tsUs: number, emit: Emit): void;
  /** Called at the first packet of each new second of packet time (whole seconds), for timeouts. */
  onTimer?(tsUs: number, emit: Emit): void;
  /** Called once at the end of the run: flush what is left. */
  onEnd?(tsUs: number, emit: Emit): void;
}

/** What a module file exports (module.exports = defineModule(...)). */
export type ModuleFactory = (ctx: ModuleContext) => AnalysisModule;

export function defineModule(factory: ModuleFactory): ModuleFactory {
  return factory;
}
