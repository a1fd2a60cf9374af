// The supervisor's and the analysis' own CPU and memory for STATUS, next to the host's
// (health.ts): on a shared machine, "cpu 99%" of the host says nothing about the box's
// pipeline. The supervisor measures itself with process.cpuUsage() and its RSS; the
// analysis is the trusted analysis process and everything under it (the module's
// sandbox: bubblewrap and the module's node), read from /proc/<pid>/stat (utime + stime,
// in USER_HZ ticks: 100 on every Linux architecture Node runs on) and /proc/<pid>/statm.
// Sampled on the STATUS timer, never on the packet path; a process that went away
// between two reads counts as nothing.
import * as fs from 'node:fs';
import type { ProcessUsage } from '../channel/records';

const USER_HZ = 100;
const PAGE_BYTES = 4096;

export class ProcessUsageMeter {
  private lastOwn = process.cpuUsage();
  private lastMs = Date.now();
  /** CPU ticks of the analysis tree at the last sample, per pid (a restarted process starts at 0). */
  private lastTicks = new Map<number, number>();

  /** Usage since the last call: this process, and the trees under `analysisPids` (none: no analysis running). */
  sample(analysisPids: readonly number[]): { supervisor: ProcessUsage; analysis: ProcessUsage | null } {
    const now = Date.now();
    const secs = Math.max(0.001, (now - this.lastMs) / 1000);
    const own = process.cpuUsage(this.lastOwn);
    this.lastOwn = process.cpuUsage();
    this.lastMs = now;
    const supervisor = { cpuPercent: round1(((own.user + own.system) / 1e6 / secs) * 100), rssBytes: process.memoryUsage.rss() };
    if (analysisPids.length === 0) {
      this.lastTicks = new Map();
      return { supervisor, analysis: null };
    }
    const ticks = new Map<number, number>();
    let rss = 0;
    let used = 0;
    for (const pid of analysisPids.flatMap(tree)) {
      const p = readProc(pid);
      if (!p) continue;
      ticks.set(pid, p.ticks);
      rss += p.rssBytes;
      used += p.ticks - (this.lastTicks.get(pid) ?? p.ticks);
    }
    this.lastTicks = ticks;
    return { supervisor, analysis: { cpuPercent: round1(((used / USER_HZ) / secs) * 100), rssBytes: rss } };
  }
}

function round1(v: number): number {
  return Math.round(Math.max(0, v) * 10) / 10;
}

/** `pid` and its descendants, from /proc/<pid>/task/<tid>/children. */
function tree(pid: number): number[] {
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0 && out.length < 64) {
    const p = todo.pop()!;
    out.push(p);
    let tasks: string[] = [];
    try { tasks = fs.readdirSync(`/proc/${p}/task`); } catch { continue; }
    for (const t of tasks) {
      try {
        for (const c of fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(' ')) if (c.trim()) todo.push(Number(c));
      } catch { /* the task ended */ }
    }
  }
  return out;
}

function readProc(pid: number): { ticks: number; rssBytes: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name in parentheses (which may hold spaces): field 3 onward.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
    const rssPages = Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return { ticks, rssBytes: rssPages * PAGE_BYTES };
  } catch {
    return null;
  }
}
