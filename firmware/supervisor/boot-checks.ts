// The boot checks, before any key exists: the policy loads, the module can be read,
// its sandbox can be built (fail closed), and the privacy statement of what will leave
// the box is known. A refusal is a BootFailure with the operator line that says what
// to fix.
import type { Policy } from '../anonymize/policy';
import { PrivacyStatement, privacyStatement, statementHash } from '../bundle/privacy';
import { moduleCommand, ModuleCommand } from '../analysis/module-link';
import { describeCapacity } from '../analysis/streams/schema';
import type { RunConfig } from './config';
import type { Sys } from './sys';
import type { OperatorLog } from './oplog';
import { loadRunPolicy } from './policy';
import { BootFailure } from './lifecycle';

/** What the boot checks decided. */
export interface BootPlan {
  policy: Policy;
  statement: PrivacyStatement;
  privacy: string;
  hasModule: boolean;
  sandboxed: boolean;
  command: ModuleCommand | null;
}

/** Policy, privacy statement, module and sandbox: all before the first key. */
export function checkBoot(cfg: RunConfig, sys: Pick<Sys, 'readFile' | 'sandboxProblem'>, log: OperatorLog, unsandboxed: boolean): BootPlan {
  let policy: Policy;
  try {
    policy = loadRunPolicy(cfg.policy);
  } catch (e) {
    throw new BootFailure(`policy refused: ${(e as Error).message}`);
  }
  // What leaves the box under this policy, run.json and module; on the box, the
  // statement the bundle's approvers signed (checked when the bundle was selected).
  let statement: PrivacyStatement;
  try {
    statement = privacyStatement(policy, cfg, cfg.analysis.module === null ? null : sys.readFile(cfg.analysis.module));
  } catch (e) {
    throw new BootFailure(`the analysis module ${cfg.analysis.module} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): check analysis.module in run.json`);
  }
  const privacy = statementHash(statement);
  log.info(`privacy statement ${privacy}`);

  // The researcher's module runs only inside its sandbox: if that cannot be built,
  // refuse before any key exists (fail closed), unless the development switch says so.
  const module = cfg.analysis.module;
  const hasModule = module !== null;
  const sandboxed = hasModule && !unsandboxed;
  if (sandboxed) {
    const problem = sys.sandboxProblem();
    if (problem !== null) throw new BootFailure(`the analysis module's sandbox cannot be built: ${problem}`);
  }
  let command: ModuleCommand | null = null;
  if (module !== null) {
    try {
      command = moduleCommand(module, sandboxed, cfg.analysis.memoryBytes);
    } catch (e) {
      throw new BootFailure(`the analysis module's sandbox cannot be set up: ${(e as Error).message}`);
    }
  }
  if (hasModule && !sandboxed) log.error('DEVELOPMENT SWITCH: the analysis module runs WITHOUT its sandbox (--unsandboxed); never use this with real traffic');
  for (const [name, decl] of Object.entries(cfg.analysis.streams)) log.info(describeCapacity(name, decl));
  return { policy, statement, privacy, hasModule, sandboxed, command };
}
