// The operating-system boundary of an analysis process. The analysis sees raw packets
// and must be assumed hostile: it may try any system call to get them out. Node's
// permission model and require() guards are checks inside the same process; this jail is
// what the kernel enforces around it (jail-command.ts lists the layers):
//
//   - a uid that is not root, outside as well as inside its user namespace;
//   - no network (an empty network namespace) and no sockets at all (seccomp);
//   - a read-only filesystem of node, its libraries and the module's paths only;
//   - its own pid namespace: no other process to see in /proc or to signal;
//   - an allowlist of system calls: no fork, no exec of anything new, no ptrace, no
//     mounts, no new namespaces (native/seccomp/sealtap-seccomp.c);
//   - bounded memory, threads, descriptors; no core files; lowest CPU priority.
//
// The jail fails closed: jailProblem() builds it once, runs node in it, and says in one
// line what is missing when that does not work; spawnJailed() refuses to start without
// it. spawnUnjailed() is the development switch and says so in its name.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { findTool, jailedCommand, unjailedCommand } from './jail-command';
import { nodeBinds } from './node-binds';
import { seccompFilter, seccompHelper } from './seccomp-filter';

export interface JailOptions {
  /** Absolute path of the JS entry script node runs inside the jail. */
  script: string;
  /** Extra arguments after the script. */
  args?: string[];
  /** Absolute paths (files or directories) bound read-only at the same place inside. The script must be under one of them. */
  readOnly: string[];
  /** Bound on the process's memory (RLIMIT_DATA and V8's --max-old-space-size derived from it). */
  memoryBytes: number;
  /** Extra node flags (e.g. --experimental-permission --allow-fs-read=...). */
  nodeArgs?: string[];
}

/** What a missing tool is called in the fix. */
const tools: [name: string, pkg: string][] = [
  ['bwrap', 'bubblewrap'],
  ['setpriv', 'util-linux'],
  ['prlimit', 'util-linux'],
  ['nice', 'coreutils'],
];

/** The trial: probe.js starts a jailed node and checks it echoes a line (see probe.ts). */
const probeScript = path.join(__dirname, 'probe.js');
const PROBE_TIMEOUT_MS = 20_000;

const problems = new Map<string, string | null>();

function lastLine(s: string): string {
  return s.trim().split('\n').filter((l) => l.trim() !== '').pop()?.trim() ?? '';
}

function findProblem(helper: string): string | null {
  for (const [name, pkg] of tools) {
    if (findTool(name) === null) return `${name} (${pkg}) is not installed: run scripts/setup.sh`;
  }
  try {
    seccompFilter(helper);
    nodeBinds();
  } catch (e) {
    return (e as Error).message;
  }
  // Run node in the full jail once: user namespaces may be disabled (sysctl
  // kernel.unprivileged_userns_clone=0, user.max_user_namespaces=0), a container may
  // forbid mounts, node may need a file the jail lacks. bwrap or node says which.
  const r = spawnSync(process.execPath, [probeScript, helper], { env: {}, encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  if (r.status === 0) return null;
  if (r.error || r.signal) return `a trial run of node in the jail did not finish (${r.error?.message ?? r.signal})`;
  return `a trial run of node in the jail failed: ${lastLine(r.stderr) || lastLine(r.stdout) || `exit ${r.status}`}`;
}

/**
 * null when a jail can be built on this machine, else one line saying what is missing
 * and how to fix it. Cached after the first call (per helper path: tests point it at a
 * missing helper to see the refusal).
 */
export function jailProblem(helper = seccompHelper): string | null {
  if (!problems.has(helper)) problems.set(helper, findProblem(helper));
  return problems.get(helper)!;
}

/**
 * Starts the jail without asking jailProblem(): the probe uses it to make the trial run.
 * The filter goes down the fourth stdio pipe (fd 3 of bwrap), which bwrap reads to the
 * end and closes before it execs node.
 */
export function startJail(o: JailOptions, filter: Buffer): ChildProcess {
  const cmd = jailedCommand(o);
  const child = spawn(cmd.file, cmd.args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: {} });
  const filterPipe = child.stdio[3] as Writable;
  // EPIPE when bwrap died before reading it: the exit status tells that story.
  filterPipe.on('error', () => {});
  filterPipe.end(filter);
  return child;
}

/**
 * Spawns node with the script inside the jail, stdio ['pipe','pipe','pipe'] and no other
 * descriptor, empty environment. Throws (one-line message) if jailProblem() is not null.
 * Killing the returned process (bwrap's monitor) kills the jail: its pid 1 dies with it
 * and takes the namespace down.
 */
export function spawnJailed(o: JailOptions): ChildProcess {
  const problem = jailProblem();
  if (problem !== null) throw new Error(`cannot jail the analysis: ${problem}`);
  return startJail(o, seccompFilter());
}

/**
 * The same process without bwrap/seccomp/uid change (a development switch): still no IPC
 * channel, empty env, same node flags and memory bound.
 */
export function spawnUnjailed(o: JailOptions): ChildProcess {
  const cmd = unjailedCommand(o);
  return spawn(cmd.file, cmd.args, { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
}
