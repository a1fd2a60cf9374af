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
    env: {},
  });
}
