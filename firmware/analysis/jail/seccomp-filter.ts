// The jail's seccomp filter: classic BPF written by build/sealtap-seccomp (built from
// native/seccomp/sealtap-seccomp.c by `make build`, which says what is allowed and why).
// The helper runs once per path and its bytes are cached: the filter is the same for
// every analysis process, and running a program per spawn would only add latency.
//
// How the bytes reach bwrap (`--seccomp 3`): the jail is spawned with a fourth stdio
// pipe as fd 3, the bytes are written into it and it is closed. bwrap reads fd 3 to
// end-of-file and closes it before it execs node (bubblewrap.c, seccomp_program_new),
// so node starts with fds 0-2 only. A file in /dev/shm would do the same but leaves
// something to delete after a crash, and needs a writable directory on the box.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** build/sealtap-seccomp at the top of the tree (dist/firmware/analysis/jail/ is four below). */
export const seccompHelper = path.resolve(__dirname, '..', '..', '..', '..', 'build', 'sealtap-seccomp');

/** The fd bwrap reads the filter from: the jail's fourth stdio entry. */
export const FILTER_FD = 3;

const filters = new Map<string, Buffer>();

/** The compiled filter; throws a one-line Error saying how to fix a missing or broken helper. */
export function seccompFilter(helper = seccompHelper): Buffer {
  const have = filters.get(helper);
  if (have) return have;
  try {
    fs.accessSync(helper, fs.constants.X_OK);
  } catch {
    throw new Error(`seccomp helper ${helper} is missing: run make build (it needs libseccomp-dev from scripts/setup.sh)`);
  }
  const r = spawnSync(helper, [], { env: {}, timeout: 10_000, maxBuffer: 1 << 20 });
  if (r.status !== 0) {
    const why = r.error?.message || (r.stderr?.toString() ?? '').trim().split('\n').pop() || `exit ${r.status ?? r.signal}`;
    throw new Error(`seccomp helper ${helper} failed (${why}): rebuild it with make build`);
  }
  // A classic BPF program is a whole number of 8-byte instructions; bwrap refuses others.
  if (r.stdout.length === 0 || r.stdout.length % 8 !== 0) throw new Error(`seccomp helper ${helper} wrote ${r.stdout.length} bytes, not a BPF program: rebuild it with make build`);
  filters.set(helper, r.stdout);
  return r.stdout;
}
