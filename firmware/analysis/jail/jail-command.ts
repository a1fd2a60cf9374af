// The command lines that start node in the jail (and, for development, without it).
// Every layer is a small program that changes one thing about itself and execs the next,
// so the order is the order of the argv:
//
//   setpriv   drop root for JAIL_UID/JAIL_GID, no supplementary groups, no_new_privs
//   prlimit   memory, threads, descriptors, no core files, no file growth
//   nice      priority 19: a CPU hog cannot starve capture or the line
//   bwrap     new user/pid/net/ipc/uts/cgroup namespaces, a read-only root holding only
//             node, its libraries and the module's paths, the seccomp filter, then exec
//   node      --max-old-space-size from memoryBytes, the caller's flags, the script
//
// Root is dropped first so that everything after it, bwrap included, is an unprivileged
// process: even outside its user namespace the analysis cannot read root's 0600 spool
// files or signal root's processes. bwrap then builds the namespaces itself through an
// unprivileged user namespace (it is not setuid on Debian).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JailOptions } from './jail';
import { nodeBinds } from './node-binds';
import { FILTER_FD } from './seccomp-filter';

/**
 * The jail's uid and gid outside. No /etc/passwd entry is needed. Chosen in Debian's
 * reserved block 65000-65533, which neither Debian packages nor adduser hand out, and
 * above systemd's DynamicUser range (61184-65519); 64055, the obvious pick, is
 * libvirt-qemu on Debian. Every jail shares it, and with it the RLIMIT_NPROC budget.
 */
export const JAIL_UID = 65529;
export const JAIL_GID = 65529;

/**
 * Processes and threads of JAIL_UID, counted over every running jail (the kernel counts
 * RLIMIT_NPROC per real uid, through the user namespace up to the host). One jail starts
 * with 9: bwrap's monitor and its pid 1, node's main thread, 4 V8 platform workers and 2
 * more of node's; 4 libuv pool threads follow on first use. fork is refused by seccomp
 * already; this bounds threads (worker_threads, which RLIMIT_NOFILE stops first at about
 * a dozen). The margin matters: node 20 hangs at start, instead of exiting, when it
 * cannot make its threads, so a new jail must fit beside a dying one and beside one that
 * spent its descriptors on workers (~26).
 */
export const JAIL_NPROC = 64;

/** node holds about 20 descriptors; 64 leaves room and bounds a descriptor leak. */
export const JAIL_NOFILE = 64;

/**
 * The smallest bound accepted. RLIMIT_DATA counts every thread's stack (8 MiB each) as
 * well as the heap: node holds ~48 MiB after start and ~80 MiB once its libuv pool
 * exists, and node 20 hangs instead of exiting when it cannot make its threads
 * (measured: a 48 MiB bound starts, 40 MiB hangs). 128 MiB leaves a usable heap.
 */
export const MIN_MEMORY_BYTES = 128 * 2 ** 20;

const MiB = 2 ** 20;

export interface Command {
  file: string;
  args: string[];
}

const toolDirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];

/** Absolute path of a tool, or null: the jail's environment is empty, so no PATH search. */
export function findTool(name: string): string | null {
  for (const d of toolDirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  return null;
}

function tool(name: string): string {
  const p = findTool(name);
  if (p === null) throw new Error(`${name} is not installed: run scripts/setup.sh`);
  return p;
}

/**
 * V8's old space gets half the bound, so a growing JS heap meets V8's own limit (a clean
 * "JavaScript heap out of memory") before the kernel's; the other half is node's ~80 MiB
 * of thread stacks and code, Buffers (malloc, refused at RLIMIT_DATA with a RangeError)
 * and the young generation.
 */
export function oldSpaceMiB(memoryBytes: number): number {
  return Math.floor(memoryBytes / MiB / 2);
}

/** node's own arguments: the heap bound, the caller's flags, the script and its args. */
export function nodeArgv(o: JailOptions): string[] {
  return [`--max-old-space-size=${oldSpaceMiB(o.memoryBytes)}`, ...(o.nodeArgs ?? []), o.script, ...(o.args ?? [])];
}

export function checkMemory(memoryBytes: number): void {
  if (!Number.isSafeInteger(memoryBytes) || memoryBytes < MIN_MEMORY_BYTES) {
    throw new Error(`memoryBytes ${memoryBytes} is below the ${MIN_MEMORY_BYTES / MiB} MiB node needs to start: raise it`);
  }
}

/** prlimit's arguments; RLIMIT_NPROC only in the jail (see unjailedCommand). */
function limits(memoryBytes: number, nproc: boolean): string[] {
  const both = (name: string, v: number) => `--${name}=${v}:${v}`;
  return [
    both('data', memoryBytes),
    ...(nproc ? [both('nproc', JAIL_NPROC)] : []),
    both('nofile', JAIL_NOFILE),
    both('core', 0),
    // No regular file may grow: every mount is read-only anyway; this is the second layer.
    both('fsize', 0),
  ];
}

/**
 * A path the jail's uid can reach: bwrap binds as JAIL_UID, so every directory above the
 * path must be searchable by others. Checked here for a one-line error instead of a
 * bwrap message after the spawn.
 */
function checkReachable(p: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new Error(`jail path ${p} does not exist`);
  }
  if ((st.mode & 0o004) === 0) throw new Error(`jail path ${p} is not readable by others (mode ${(st.mode & 0o777).toString(8)}): the jail runs as uid ${JAIL_UID}; chmod o+r it`);
  for (let d = path.dirname(p); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) throw new Error(`directory ${d} is not searchable by others: the jail (uid ${JAIL_UID}) cannot reach ${p}; chmod o+x ${d} or move the files`);
    if (d === '/') break;
  }
}

function bindsFor(o: JailOptions): string[] {
  for (const p of [o.script, ...o.readOnly]) {
    if (!path.isAbsolute(p)) throw new Error(`jail path ${p} is not absolute`);
  }
  const inside = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : dir + '/');
  if (!o.readOnly.some((d) => inside(o.script, d))) throw new Error(`jail script ${o.script} is not under any readOnly path (${o.readOnly.join(', ')})`);
  const args: string[] = [];
  for (const p of o.readOnly) {
    checkReachable(p);
    args.push('--ro-bind', p, p);
  }
  return args;
}

/** setpriv … prlimit … nice … bwrap … node …, reading the seccomp filter from FILTER_FD. */
export function jailedCommand(o: JailOptions): Command {
  checkMemory(o.memoryBytes);
  const binds = bindsFor(o);
  const bwrap = [
    // --unshare-all is user, pid, net, ipc, uts, cgroup; --unshare-user makes the user
    // namespace explicit so --disable-userns (no nested namespaces) is accepted.
    '--unshare-all', '--unshare-user', '--disable-userns',
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--clearenv',
    ...nodeBinds(),
    ...binds,
    // The jail's own pid namespace: /proc shows node and bwrap's pid 1, nothing else.
    // bwrap mounts /proc/sys and friends read-only over it.
    '--proc', '/proc',
    // A hand-made /dev with four nodes, not bwrap's --dev: that one also mounts a
    // writable tmpfs (/dev/shm) and a devpts instance (new ptys), neither of which node
    // needs. The nodes are bound from the host; /dev itself is a directory of the root.
    '--dir', '/dev',
    ...['null', 'zero', 'random', 'urandom'].flatMap((n) => ['--dev-bind', `/dev/${n}`, `/dev/${n}`]),
    // The root is bwrap's tmpfs: read-only from here on, so nothing can be created
    // anywhere (every bind above is read-only already).
    '--remount-ro', '/',
    '--chdir', '/',
    '--seccomp', String(FILTER_FD),
  ];
  return {
    file: tool('setpriv'),
    args: [
      `--reuid=${JAIL_UID}`, `--regid=${JAIL_GID}`, '--clear-groups', '--no-new-privs', '--',
      tool('prlimit'), ...limits(o.memoryBytes, true), '--',
      tool('nice'), '-n', '19', '--',
      tool('bwrap'), ...bwrap, '--',
      process.execPath, ...nodeArgv(o),
    ],
  };
}

/**
 * The development switch: prlimit … nice … node …, with the same memory, descriptor,
 * core and file-size limits and node flags. No RLIMIT_NPROC: without the uid change it
 * would count every process of the developer's uid, and stop the spawn itself.
 */
export function unjailedCommand(o: JailOptions): Command {
  checkMemory(o.memoryBytes);
  return {
    file: tool('prlimit'),
    args: [...limits(o.memoryBytes, false), '--', tool('nice'), '-n', '19', '--', process.execPath, ...nodeArgv(o)],
  };
}
