// Helpers for the analysis runtime tests: module fixtures, traces with one marked
// packet, the running analysis process's pid, and packet shapes that survive
// anonymization (sizes, protocol, ports, flags) for one-for-one comparisons.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readPcap, writePcap } from './pcapfile';
import { repoRoot } from './run-box';
import { PacketView } from '../../firmware/decode/packetView';
import { decodePacket } from '../../firmware/decode/decode';

export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');

export function fixture(name: string): string {
  return path.join(fixturesDir, name);
}

/**
 * Copies a pcap, overwriting the last bytes of packet `index` (a packet with payload)
 * with `marker`, so a test module can recognise exactly that packet. Returns the index
 * actually marked: the first packet at or after `index` long enough to carry it in
 * its payload, and unique in carrying it.
 */
export function markPacket(src: string, dst: string, index: number, marker: string): number {
  const p = readPcap(src);
  const m = Buffer.from(marker, 'ascii');
  for (const r of p.records) if (r.data.includes(m)) throw new Error(`${src} already carries the marker ${marker}`);
  let at = index;
  while (at < p.records.length && p.records[at].data.length < 200) at++;
  if (at === p.records.length) throw new Error(`no packet of 200 bytes or more at or after ${index} in ${src}`);
  const records = p.records.map((r, i) => {
    const data = Buffer.from(r.data);
    if (i === at) m.copy(data, data.length - m.length);
    return { tsSec: r.tsSec, tsUsec: r.tsUsec, data, origLen: r.origLen };
  });
  writePcap(dst, records, p.linkType);
  return at;
}

/** Pids of live analysis processes whose parent is this process. */
export function analysisPids(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      // Fields after the command name: state, ppid, ...
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) !== process.pid || rest[0] === 'Z') continue;
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(path.join('dist', 'firmware', 'analysis', 'child.js'))) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Decodes every packet of a pcap file as the runtime does (a record buffer with the
 * 16-byte header in front); fn returns false to stop.
 */
export function eachDecoded(file: string, fn: (v: PacketView, buf: Buffer, origLen: number) => boolean | void): void {
  const p = readPcap(file);
  const v = new PacketView();
  for (const r of p.records) {
    const buf = Buffer.alloc(16 + r.data.length);
    r.data.copy(buf, 16);
    decodePacket(p.linkType, buf, 16, r.data.length, r.origLen, v);
    if (fn(v, buf, r.origLen) === false) return;
  }
}

/** One packet's shape: what anonymization keeps (original length, protocol, ports, TCP flags). */
export function packetShapes(file: string): string[] {
  const out: string[] = [];
  eachDecoded(file, (v, _buf, origLen) => {
    out.push(`${origLen}/${v.ipVersion}/${v.ipProto}/${v.srcPort}/${v.dstPort}/${v.tcpFlags}/${v.icmpType}`);
  });
  return out;
}

/** Multiset difference as "shape: +n/-n" lines (empty when equal). */
export function shapeDifference(want: string[], got: string[]): string[] {
  const count = new Map<string, number>();
  for (const s of want) count.set(s, (count.get(s) ?? 0) + 1);
  for (const s of got) count.set(s, (count.get(s) ?? 0) - 1);
  return [...count].filter(([, n]) => n !== 0).map(([s, n]) => `${s}: ${n > 0 ? `missing ${n}` : `extra ${-n}`}`);
}

/** A seeded generator of numbers in [0, 1): a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/**
 * CPU time (utime + stime, in clock ticks) used so far by process `pid` and every
 * process under it that is still running: the module runs in a sandbox below it.
 */
export function treeCpuTicks(pid: number): number {
  let ticks = 0;
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    ticks = Number(f[11]) + Number(f[12]);
  } catch {
    return 0; // gone meanwhile
  }
  let children: number[] = [];
  try {
    children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch { /* gone meanwhile */ }
  for (const c of children) ticks += treeCpuTicks(c);
  return ticks;
}
