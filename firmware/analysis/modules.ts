// Which built-in analyses run in the trusted process: for each output level of the
// policy, the ones that run.json "outputs" and the level both name, each with the
// level's anonymizer. (A researcher's module never runs here: see module-link.ts.)
import type { Output } from '../supervisor/config';
import type { Policy } from '../anonymize/policy';
import type { AnalysisModule, Emit, ModuleContext, ModuleFactory } from './builtin/api';
import { AnonPrimitives, bindAnonymizer } from './anonymizer';
import { flowsModule } from './builtin/flows/module';
import { dnsModule } from './builtin/dns/module';
import { packetsModule } from './builtin/packets/module';

const builtIns: Record<Output, ModuleFactory> = {
  flows: flowsModule,
  dns: dnsModule,
  packets: packetsModule,
};

export interface BoundModule {
  module: AnalysisModule;
  emit: Emit;
}

/** Tags flow and DNS records with their level when the policy has more than one. */
function levelEmit(emit: Emit, level: string | null): Emit {
  if (level === null) return emit;
  return {
    flow: (r) => emit.flow({ ...r, level }),
    dns: (r) => emit.dns({ ...r, level }),
    packet: (r, n) => emit.packet(r, n),
  };
}

export function buildModules(outputs: Output[], policy: Policy, prim: AnonPrimitives, base: Omit<ModuleContext, 'anon' | 'policy' | 'fields' | 'prim'>, emit: Emit): BoundModule[] {
  const levels = Object.entries(policy.levels);
  const tagged = levels.length > 1;
  const out: BoundModule[] = [];
  let packetsTaken = false;
  for (const [name, level] of levels) {
    const ctx: ModuleContext = { ...base, anon: bindAnonymizer(prim, policy, level.fields), policy, fields: level.fields, prim };
    for (const o of outputs) {
      if (!level.outputs.includes(o)) continue;
      // One trace.pcap per run: the first level that asks for packets gets them.
      if (o === 'packets') { if (packetsTaken) continue; packetsTaken = true; }
      out.push({ module: builtIns[o](ctx), emit: levelEmit(emit, tagged ? name : null) });
    }
  }
  return out;
}
