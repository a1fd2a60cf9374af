// The built-in `flows` analysis: bidirectional flows from the flow table, each ended
// flow formatted with this level's anonymizer and emitted as a FLOW record.
import { FlowTable, formatFlow } from '.';
import type { ModuleFactory } from '../api';
import { tableModule } from '../tracker-module';

export const flowsModule: ModuleFactory = (ctx) =>
  tableModule('flows', (current) => new FlowTable({
    maxFlows: ctx.flows.maxFlows,
    idleTimeoutUs: ctx.flows.idleSeconds * 1e6,
    activeTimeoutUs: ctx.flows.activeSeconds * 1e6,
  }, (f) => current()?.flow(formatFlow(f, ctx.anon))));
