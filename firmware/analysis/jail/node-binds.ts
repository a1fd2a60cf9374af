// The part of the jail's filesystem that is node itself: the node binary and exactly the
// shared libraries the dynamic loader maps for it, each bound read-only at the path the
// loader looks for it. Narrow on purpose: binding /usr would hand a hostile module every
// library and program on the machine (ld.so can run any of them, execve is allowed).
//
// The list comes from the loader: LD_TRACE_LOADED_OBJECTS=1 makes ld.so print what it
// would map and exit before node's main runs (all ldd does, without needing ldd on the
// box). It is resolved once and cached. Without /etc/ld.so.cache inside, the loader
// finds each library by searching its built-in directories, which is where the paths
// printed here point.
//
// If a later node opens more files at start (a dlopen at run time, an ICU data file),
// the trial run in jailProblem() fails with node's own message. The wider fallback is
// `--ro-bind /usr /usr` plus the /lib, /lib64 and /bin symlinks; it is not taken
// silently, because it changes what a module can reach.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

let cached: string[] | null = null;

/** The loader's view of node's libraries: absolute paths, ld.so itself included. */
export function nodeLibraries(node = process.execPath): string[] {
  const r = spawnSync(node, [], { env: { LD_TRACE_LOADED_OBJECTS: '1' }, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`cannot list node's libraries (LD_TRACE_LOADED_OBJECTS=1 ${node} exited ${r.status ?? r.signal}): ${(r.stderr || '').trim()}`);
  const libs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    // "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "\t/lib64/ld-linux-x86-64.so.2 (0x...)";
    // linux-vdso.so.1 has no file and is skipped.
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    if (m) libs.push(m[1]);
    else if (/not found/.test(line)) throw new Error(`node needs a library that is missing: ${line.trim()}`);
  }
  if (!libs.some((l) => l.includes('ld-linux'))) throw new Error(`cannot find node's dynamic loader in: ${r.stdout.trim().split('\n').join('; ')}`);
  return libs;
}

/** bwrap arguments binding node and its libraries read-only. Cached after the first call. */
export function nodeBinds(): string[] {
  if (cached === null) {
    const args: string[] = [];
    // /lib64/ld-linux-x86-64.so.2 is a symlink on Debian; bind the file it resolves to at
    // the link's path, so the jail needs no symlinks and no directory of the host.
    for (const p of [process.execPath, ...nodeLibraries()]) args.push('--ro-bind', fs.realpathSync(p), p);
    cached = args;
  }
  return cached;
}
