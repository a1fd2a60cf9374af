// Host health for STATUS records. Sampled on the STATUS timer, never on the packet
// path; a failing probe reports zeros rather than stopping the run.
//
// Memory comes from systeminformation (si.mem() reads /proc/meminfo asynchronously),
// from its memory module alone: the package's index loads every one of its modules
// (bluetooth vendor tables, USB, Docker, ...), which took 41-105 ms of the supervisor's
// start against 11 ms for the memory module (docs/benchmarks.md).
// The host's CPU load does not: si.currentLoad() runs `sh -c 'cat /proc/stat | grep cpu'`
// with execSync on every call, which forks the supervisor, blocks its event loop for the
// child's lifetime and charges three exec()s a second to the box's CPU budget (measured
// in `make bench-capture`: the largest single cost of an idle supervisor). The load is
// the same arithmetic on /proc/stat's first line, read here without a child process.
import { promises as fsp } from 'node:fs';
import type { Systeminformation } from 'systeminformation';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const si = require('systeminformation/lib/memory') as { mem(): Promise<Systeminformation.MemData> };

export interface HostHealth {
  cpuPercent: number;
  memUsedBytes: number;
  memTotalBytes: number;
}

/** The aggregate "cpu" line of /proc/stat, in clock ticks since boot. */
export interface CpuTicks {
  busy: number;
  total: number;
}

/**
 * Parses /proc/stat's aggregate line ("cpu  user nice system idle iowait irq softirq
 * steal guest guest_nice"); idle and iowait are the idle ticks, guest time is already
 * inside user and nice. Null when the text has no such line.
 */
export function parseCpuTicks(procStat: string): CpuTicks | null {
  const line = /^cpu\s+([\d\s]+)$/m.exec(procStat);
  if (!line) return null;
  const f = line[1].trim().split(/\s+/).map(Number);
  if (f.length < 4 || f.some((v) => !Number.isFinite(v))) return null;
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** Busy share of the host's CPUs between two readings, in percent with one decimal. */
export function cpuPercentBetween(a: CpuTicks, b: CpuTicks): number {
  const total = b.total - a.total;
  if (total <= 0) return 0;
  const busy = Math.min(Math.max(b.busy - a.busy, 0), total);
  return Math.round((busy / total) * 1000) / 10;
}

export class HostHealthMeter {
  private last: CpuTicks | null = null;

  constructor(private readonly procStat = '/proc/stat') {}

  /** CPU load since the previous call (the first call: since boot), and memory now. */
  async sample(): Promise<HostHealth> {
    try {
      const [stat, mem] = await Promise.all([fsp.readFile(this.procStat, 'latin1'), si.mem()]);
      const now = parseCpuTicks(stat);
      const cpuPercent = now ? cpuPercentBetween(this.last ?? { busy: 0, total: 0 }, now) : 0;
      if (now) this.last = now;
      return { cpuPercent, memUsedBytes: mem.active, memTotalBytes: mem.total };
    } catch {
      return { cpuPercent: 0, memUsedBytes: 0, memTotalBytes: 0 };
    }
  }
}

const hostMeter = new HostHealthMeter();

/** The host's health: its CPU load since the previous call in this process, and memory now. */
export function sampleHealth(): Promise<HostHealth> {
  return hostMeter.sample();
}
