// The built-in `flows` analysis: bidirectional flows from the flow table, each ended
// flow formatted with this level's anonymizer and emitted as a FLOW record.
import { FlowTable, formatFlow } from '../flows';
import type { Emit, ModuleFactory } from '../sdk';

export const flowsModule: ModuleFactory = (ctx) => {
  // The table calls back from inside onPacket/onTimer/onEnd: the emitter of that call.
  let emitNow: Emit | null = null;
  const table = new FlowTable({
    maxFlows: ctx.flows.maxFlows,
    idleTimeoutUs: ctx.flows.idleSeconds * 1e6,
    activeTimeoutUs: ctx.flows.activeSeconds * 1e6,
  }, (f) => emitNow?.flow(formatFlow(f, ctx.anon)));
  return {
    name: 'flows',
    onPacket(view, buf, tsUs, emit) {
      emitNow = emit;
      table.onPacket(view, buf, tsUs);
    },
    onTimer(tsUs, emit) {
      emitNow = emit;
      table.expire(tsUs);
    },
    onEnd(tsUs, emit) {
      emitNow = emit;
      table.flushAll(tsUs);
    },
  };
};
