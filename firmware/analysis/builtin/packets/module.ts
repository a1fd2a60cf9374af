// The built-in "packets" analysis: every packet's headers, rewritten by the level's
// field actions (this folder), emitted as a pcap record for trace.pcap.
import type { FieldActions, Policy } from '../../../anonymize/policy';
import type { AnonPrimitives } from '../../anonymizer';
import type { AnalysisModule, ModuleFactory } from '../api';
import { PacketRewriter, PacketsCounters } from './rewriter';

export interface PacketsModule extends AnalysisModule {
  /** What the rewriter counted so far (cut undecoded tails, oversize packets, ...). */
  readonly counters: PacketsCounters;
  /** The rewriter itself: the runtime runs its loop in C when this is its only analysis (child.ts). */
  readonly rewriter: PacketRewriter;
}

/** A packets module bound to explicit primitives and field actions (tests, benchmarks, other runtimes). */
export function makePacketsModule(prim: AnonPrimitives, _policy: Policy, fields: FieldActions): ModuleFactory {
  return () => packetsAnalysis(new PacketRewriter(prim, fields));
}

/** The module the runtime builds per level: ctx.fields are that level's actions. */
export const packetsModule: ModuleFactory = (ctx) => packetsAnalysis(new PacketRewriter(ctx.prim, ctx.fields));

function packetsAnalysis(rw: PacketRewriter): PacketsModule {
  return {
    name: 'packets',
    counters: rw.counters,
    rewriter: rw,
    onPacket(view, buf, tsUs, emit) {
      const n = rw.rewrite(view, buf, tsUs);
      emit.packet(rw.out, n);
    },
  };
}
