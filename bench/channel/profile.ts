// Where the writer's time goes: a CPU profile (node --cpu-prof) of a writer run, summed
// by what each sample was doing, as shares of the writer's own time (generating the
// benchmark's flows and idle time left out). Categories follow the call stack: a sample
// inside compressBody counts as deflate wherever it was called from.
import * as fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** First match wins: [category, function names any of which on the stack selects it]. */
const CATEGORIES: Array<[string, string[]]> = [
  ['bench: generating flows', ['flowPool']],
  ['deflate (compressBody: deflateRawSync per frame)', ['compressBody']],
  ['record encoding in send (compact FLOW/DNS, JSON for the rest)', ['encodeCompactResult', 'encodeFlow', 'encodeDns', 'encode']],
  ['encryption (sealFrame)', ['sealFrame']],
  ['frame digests (SHA-256) and chain (BLAKE2b)', ['frameDigest', 'chainHash']],
  ['CHECKPOINT (Ed25519 signature)', ['checkpointFrame']],
  ['COBS', ['cobsEncode', 'frameToWire']],
  ['buildFrame (header, copy, CRC-32C)', ['buildFrame', 'crc32c']],
  ['packRecords', ['packRecords']],
  ['outbox', ['takeBatch', 'nextType', 'push']],
  ['writer loop (concat, fs.write)', ['pump']],
  ['bench: feed loop', ['feedFlows']],
];
const LEFT_OUT = new Set(['bench: generating flows', 'idle']);

export function summarizeProfile(file: string): Array<{ what: string; ms: number; share: number | null }> {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const us = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const names = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) names.add((byId.get(cur) as ProfileNode).callFrame.functionName);
    const self = (byId.get(id) as ProfileNode).callFrame.functionName;
    let what = self === '(idle)' || self === '(program)' ? 'idle' : self === '(garbage collector)' ? 'garbage collection' : 'other';
    if (what === 'other') for (const [c, fns] of CATEGORIES) if (fns.some((f) => names.has(f))) { what = c; break; }
    us.set(what, (us.get(what) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  let writer = 0;
  for (const [k, v] of us) if (!LEFT_OUT.has(k)) writer += v;
  return [...us]
    .sort((a, b) => b[1] - a[1])
    .map(([what, v]) => ({ what, ms: v / 1000, share: LEFT_OUT.has(what) ? null : v / writer }));
}
