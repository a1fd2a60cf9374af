// Page faults of memory first written, measured in a process of their own: in a test
// process that has run other tests, malloc hands out heap memory it has used before
// (calloc zeroes it, which faults its pages in), whatever the size, and the untouched
// control then takes no fault at all (seen on CI for 8 MiB, here for 40 and 64 MiB). A
// fresh process has nothing to reuse. Run as `node fault-probe.js NAME`; prints the
// probe's counts as JSON. faultsInFreshProcess does that for a test. Where transparent
// huge pages are "always", memory faults once per 2 MiB and a page whose child has gone
// is reused without a copy: the controls still hold, but the copy-on-write probe no
// longer tells slots kept from children from slots that are not (20 faults against 0-13).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { allocSlotPool, createSlotPool, Ctl, releaseSlotPool, touchSlotPool } from '../../firmware/capture/slots';
import { batchBinding } from '../../firmware/capture/batch-binding';
import { SpareCaptureThreads } from '../../firmware/capture/capture';

/** Each buffer measured; its pages as transparent huge pages ("always") would map them. */
export const PROBE_BYTES = 40 << 20;
export const PROBE_HUGE_PAGES = PROBE_BYTES / (2 << 20);

/** Minor page faults the calling thread has taken so far. */
function threadMinorFaults(): number {
  const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

/** Faults taken writing one byte to each page of `data`. */
function faultsWritingPages(data: SharedArrayBuffer): number {
  const bytes = new Uint8Array(data);
  const before = threadMinorFaults();
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 7;
  return threadMinorFaults() - before;
}

const probes: Record<string, () => Record<string, number>> = {
  /** Capture slots (kept from children) and plain memory, both written once, after a child process started. */
  cow() {
    const pool = createSlotPool(2, PROBE_BYTES / 2);
    const plain = new SharedArrayBuffer(PROBE_BYTES);
    new Uint8Array(plain).fill(0);
    // A child process: libuv forks, which write-protects the parent's private pages.
    if (spawnSync('true').status !== 0) throw new Error('true did not run');
    faultsWritingPages(new SharedArrayBuffer(4096)); // the loop compiled, its own faults taken
    const plainFaults = faultsWritingPages(plain);
    const slotFaults = faultsWritingPages(pool.data);
    releaseSlotPool(pool);
    return { plainFaults, slotFaults };
  },
  /** Untouched memory, slots touched by touchSlotPool, memory prefaulted by the addon. */
  touched() {
    faultsWritingPages(new SharedArrayBuffer(4096));
    const untouched = faultsWritingPages(new SharedArrayBuffer(PROBE_BYTES));
    const pool = allocSlotPool(2, PROBE_BYTES / 2);
    touchSlotPool(pool);
    const slotFaults = faultsWritingPages(pool.data);
    releaseSlotPool(pool);
    const other = new SharedArrayBuffer(PROBE_BYTES);
    const prefaultErrno = batchBinding.prefault(Buffer.from(other));
    const prefaulted = faultsWritingPages(other);
    return { untouched, slotFaults, prefaultErrno, prefaulted };
  },
  /** Untouched memory, and the slot pool a spare capture thread touched ahead. */
  spare() {
    const spares = new SpareCaptureThreads(1, { slots: 2, slotBytes: PROBE_BYTES / 2 });
    faultsWritingPages(new SharedArrayBuffer(4096));
    const untouched = faultsWritingPages(new SharedArrayBuffer(PROBE_BYTES));
    const pool = spares.takePool(2, PROBE_BYTES / 2);
    if (pool === null) throw new Error('no pool made ahead');
    const ctl = new Int32Array(pool.control);
    const deadline = Date.now() + 20_000;
    while (Atomics.load(ctl, Ctl.ready) === 0) {
      if (Date.now() > deadline) throw new Error('the spare did not touch the pool within 20 s');
      Atomics.wait(ctl, Ctl.ready, 0, 100);
    }
    const poolFaults = faultsWritingPages(pool.data);
    spares.close();
    return { untouched, poolFaults };
  },
};

/** Runs probe `name` in a new node process; its counts. */
export function faultsInFreshProcess(name: keyof typeof probes): Record<string, number> {
  const r = spawnSync(process.execPath, [__filename, name], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`fault probe ${name} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

if (require.main === module) {
  const probe = probes[process.argv[2]];
  if (!probe) throw new Error(`no probe ${process.argv[2]}: ${Object.keys(probes).join(', ')}`);
  process.stdout.write(JSON.stringify(probe()) + '\n');
  // A spare thread's pool was let go; nothing else keeps the process.
  process.exit(0);
}
