// Starts the trusted analysis process (project code only: it holds the keys and opens
// the spool). Node's permission model (Node 20) gives it no file writes and no
// workers, and reads only of its own code, the native addons it needs (sodium-native
// and what that loads; the project's own, for AES-256-GCM) and the spool. Child processes only when a
// researcher's module is configured: it starts that module's sandbox (jail/), which is
// where untrusted code runs. The permission model of Node 20 has no network switch,
// so when the supervisor runs as root (always, on the box) the process also gets a
// network namespace of its own with nothing in it (util-linux unshare).
import { ChildProcess, fork, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const firmwareDir = path.resolve(__dirname, '..');
const codeRoot = path.resolve(firmwareDir, '..', '..');
const unshare = '/usr/bin/unshare';

/** The native addon's package and every package it loads, as readable directories. */
export function addonPackageDirs(root = codeRoot): string[] {
  const out: string[] = [];
  const todo = ['sodium-native'];
  const seen = new Set<string>();
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const dir = path.join(root, 'node_modules', name);
    let pkg: { dependencies?: Record<string, string> };
    try {
      pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    out.push(dir + '/');
    todo.push(...Object.keys(pkg.dependencies ?? {}));
  }
  return out;
}

let cachedAddonDirs: string[] | null = null;

export function sandboxArgs(readablePaths: string[], spawnsModule = false): string[] {
  cachedAddonDirs ??= addonPackageDirs();
  return [
    ...(spawnsModule ? ['--allow-child-process'] : []),
    '--experimental-permission',
    `--allow-fs-read=${firmwareDir}/`,
    ...cachedAddonDirs.map((d) => `--allow-fs-read=${d}`),
    // sodium-native's loader probes this file; it reveals nothing.
    '--allow-fs-read=/etc/alpine-release',
    // The project's addon: segments are opened with its AES-256-GCM (spool/segment.ts).
    `--allow-fs-read=${path.join(codeRoot, 'build', 'sealtap-capture.node')}`,
    ...readablePaths.map((p) => `--allow-fs-read=${p}`),
    '--allow-addons',
    '--no-warnings',
    '--disable-proto=throw',
    // As the supervisor (bin/sealtap): no heap compaction each time the process goes quiet.
    '--no-memory-reducer',
    // child.ts collects the young generation every few batches sent: the IPC buffers of
    // sent batches live outside V8's heap and otherwise wait for its external-memory
    // limit (docs/benchmarks.md).
    '--expose-gc',
  ];
}

let isolationWorks: boolean | null = null;

/**
 * True when the analysis gets an empty network namespace. Tried once: root inside a
 * container without CAP_SYS_ADMIN cannot make one, and an analysis that could never
 * start would be worse than one guarded by require() alone.
 */
export function networkIsolated(): boolean {
  if (isolationWorks === null) {
    isolationWorks = process.getuid?.() === 0 && fs.existsSync(unshare) && spawnSync(unshare, ['--net', '--', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  }
  return isolationWorks;
}

/** What the analysis processes may read: the spool, and nothing else of the box's files. */
export function analysisReadablePaths(spoolDir: string): string[] {
  return [spoolDir + '/'];
}

/**
 * What a configuration's analysis processes start with: the paths they may read,
 * whether they start a module's sandbox, how many run. sealtap run forks its spares
 * from this before the supervisor loads; a pipeline given none forks its own from it.
 */
export function analysisStart(cfg: { spool: { dir: string }; analysis: { module: unknown; shards: number } }): { readablePaths: string[]; spawnsModule: boolean; count: number } {
  return { readablePaths: analysisReadablePaths(cfg.spool.dir), spawnsModule: cfg.analysis.module !== null, count: cfg.analysis.shards };
}

export function forkSandboxed(readablePaths: string[], spawnsModule = false): ChildProcess {
  const nodeArgs = sandboxArgs(readablePaths, spawnsModule);
  const isolate = networkIsolated();
  // fork() runs execPath with execArgv before the script: with unshare as execPath,
  // unshare makes the namespace and execs node in it, keeping the IPC and pipe fds.
  return fork(path.join(__dirname, 'child.js'), [], {
    execPath: isolate ? unshare : process.execPath,
    execArgv: isolate ? ['--net', '--', process.execPath, ...nodeArgs] : nodeArgs,
    stdio: ['pipe', 'ignore', 'pipe', 'ipc', 'pipe'],
    serialization: 'advanced',
    // Nothing of the supervisor's environment; only glibc's huge-page advice for malloc
    // (as bin/sealtap gives the supervisor: docs/benchmarks.md).
    env: { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' },
  });
}

/**
 * Analysis processes forked ahead of need. Node's start and the analysis' modules take
 * 0.2-0.3 s; forked as soon as the configuration is known (sealtap run does so before
 * the supervisor's own modules load; a pipeline given none forks its own), that time
 * overlaps the supervisor's start and the capture's set-up instead of following them.
 * They are forked before any key exists. A spare waits for its keys on stdin and its
 * init message; nothing else is shared with it before it is taken, and whatever is
 * not taken is killed at close().
 */
export class SpareAnalyses {
  private readonly spares: ChildProcess[] = [];
  /** Spares whose 'close' has come: they died before they were taken. */
  private readonly closed = new WeakSet<ChildProcess>();

  constructor(private readonly readablePaths: string[], private readonly spawnsModule: boolean, n: number) {
    for (let i = 0; i < n; i++) {
      const c = forkSandboxed(readablePaths, spawnsModule);
      // Until the host takes it, an error on the process or a pipe must not be unhandled.
      c.on('error', () => {});
      c.stdin!.on('error', () => {});
      c.stdio[4]!.on('error', () => {});
      c.once('close', () => this.closed.add(c));
      this.spares.push(c);
    }
  }

  /**
   * The next spare, or a new process once none is left (a restart). A spare that died
   * before it was taken is handed over all the same: its death is the taker's to count
   * (hasClosed says that its 'close' has already come).
   */
  take(): ChildProcess {
    return this.spares.shift() ?? forkSandboxed(this.readablePaths, this.spawnsModule);
  }

  /**
   * True when the spares were started for exactly these readable paths and this module
   * setting: a host for another set must not take them (a spare's permissions are fixed
   * when it starts).
   */
  serves(readablePaths: readonly string[], spawnsModule: boolean): boolean {
    return spawnsModule === this.spawnsModule && readablePaths.length === this.readablePaths.length && readablePaths.every((p, i) => p === this.readablePaths[i]);
  }

  /** True when a taken spare had died and closed before it was taken. */
  hasClosed(c: ChildProcess): boolean {
    return this.closed.has(c);
  }

  /** The spares not taken yet. */
  waiting(): readonly ChildProcess[] {
    return this.spares.slice();
  }

  close(): void {
    for (const c of this.spares.splice(0)) c.kill('SIGKILL');
  }
}
