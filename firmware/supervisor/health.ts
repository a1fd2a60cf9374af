// Host health for STATUS records, from systeminformation. Sampled on a timer, never
// on the packet path; a failing probe reports zeros rather than stopping the run.
import * as si from 'systeminformation';

export interface HostHealth {
  cpuPercent: number;
  memUsedBytes: number;
  memTotalBytes: number;
}

export async function sampleHealth(): Promise<HostHealth> {
  try {
    const [load, mem] = await Promise.all([si.currentLoad(), si.mem()]);
    return {
      cpuPercent: Math.round(load.currentLoad * 10) / 10,
      memUsedBytes: mem.active,
      memTotalBytes: mem.total,
    };
  } catch {
    return { cpuPercent: 0, memUsedBytes: 0, memTotalBytes: 0 };
  }
}
