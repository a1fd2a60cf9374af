// The shape the built-in table analyses share (flows, dns): a table fed packet by packet
// that hands out finished entries from inside onPacket (where it sweeps itself, on the
// same whole seconds of packet time as the runtime's ticks, so no onTimer is needed)
// or the final flush. The table calls back during those calls, so the emitter of the
// call in progress is kept for the callback to use.
import type { AnalysisModule, Emit } from './api';

export interface PacketTable {
  onPacket(view: Parameters<AnalysisModule['onPacket']>[0], buf: Buffer, tsUs: number): void;
  flushAll(nowUs: number): void;
}

/** makeTable gets a function that returns the emitter of the call in progress. */
export function tableModule<T extends PacketTable>(name: string, makeTable: (current: () => Emit | null) => T): AnalysisModule & { readonly table: T } {
  let emitNow: Emit | null = null;
  const table = makeTable(() => emitNow);
  return {
    name,
    table,
    onPacket(view, buf, tsUs, emit) {
      emitNow = emit;
      table.onPacket(view, buf, tsUs);
    },
    onEnd(tsUs, emit) {
      emitNow = emit;
      table.flushAll(tsUs);
    },
  };
}
