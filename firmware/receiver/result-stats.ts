// The distributions report.html draws, counted from the FLOW and DNS records as they are
// written to flows.jsonl and dns.jsonl (never from anything that did not leave the box).
// Every value comes from the line, so only what checks out is counted: finite numbers
// in range, addresses that parse as IPv4/IPv6 text. A record with a bad field is left
// out of that field's distribution only (`unreadable` counts it), as the files keep it.
import * as net from 'node:net';

/** Upper bounds (inclusive) of the flow size buckets, bytes: 64 B … 1 GiB, then "more". */
export const SIZE_BOUNDS = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 16777216, 1073741824];
/** Upper bounds (exclusive) of the duration and latency buckets, microseconds. */
export const DURATION_BOUNDS = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 60_000_000, 600_000_000];
export const LATENCY_BOUNDS = [1_000, 5_000, 20_000, 50_000, 100_000, 500_000, 1_000_000];

const TOP = 10;

export interface Distributions {
  flows: number;
  dnsRecords: number;
  /** Flow size (bytes both ways): counts per SIZE_BOUNDS bucket, the last one above them all. */
  flowBytes: number[];
  /** Flow duration (lastUs − firstUs): counts per DURATION_BOUNDS bucket, then the rest. */
  flowDurations: number[];
  /** Flows per IP protocol number. */
  protocols: Record<string, number>;
  /** The busiest destination ports: [port, flows], most flows first, at most 10. */
  topPorts: Array<[number, number]>;
  /** DNS responses per rcode, and transactions without a response ("none"). */
  dnsRcodes: Record<string, number>;
  /** DNS latency: counts per LATENCY_BOUNDS bucket, then the rest. */
  dnsLatency: number[];
  /** Anonymized /24 (IPv4) and /48 (IPv6) prefixes by the bytes of the flows they took part in, at most 10. */
  topPrefixes: Array<[string, number]>;
  /** Records with a field left out of its distribution (not a number, not an address). */
  unreadable: number;
}

export class ResultStats {
  private flows = 0;
  private dns = 0;
  private unreadable = 0;
  private readonly flowBytes = new Array<number>(SIZE_BOUNDS.length + 1).fill(0);
  private readonly flowDurations = new Array<number>(DURATION_BOUNDS.length + 1).fill(0);
  private readonly dnsLatency = new Array<number>(LATENCY_BOUNDS.length + 1).fill(0);
  // Maps, not objects: keys come from the line ("__proto__" is a valid hashed label).
  private readonly protocols = new Map<number, number>();
  private readonly ports = new Map<number, number>();
  private readonly rcodes = new Map<string, number>();
  private readonly prefixes = new Map<string, number>();

  flow(body: Record<string, unknown>): void {
    this.flows++;
    let bad = false;
    const bytes = whole(body.bytes) + whole(body.revBytes);
    const first = whole(body.firstUs);
    const last = whole(body.lastUs);
    if (Number.isNaN(bytes)) bad = true;
    else this.flowBytes[bucketAtMost(bytes, SIZE_BOUNDS)]++;
    if (Number.isNaN(first) || Number.isNaN(last) || last < first) bad = true;
    else this.flowDurations[bucketBelow(last - first, DURATION_BOUNDS)]++;
    const proto = whole(body.protocol);
    if (proto <= 255) bump(this.protocols, proto);
    else bad = true;
    const port = whole(body.dstPort);
    if (port <= 65535) bump(this.ports, port);
    else bad = true;
    for (const a of [body.srcAddr, body.dstAddr]) {
      const p = prefixOf(a);
      if (p === null) bad = true;
      else if (!Number.isNaN(bytes)) bump(this.prefixes, p, bytes);
    }
    if (bad) this.unreadable++;
  }

  dnsRecord(body: Record<string, unknown>): void {
    this.dns++;
    let bad = false;
    if (body.rcode === null || body.rcode === undefined) bump(this.rcodes, 'none');
    else if (whole(body.rcode) <= 65535) bump(this.rcodes, String(whole(body.rcode)));
    else bad = true;
    if (body.latencyUs !== null && body.latencyUs !== undefined) {
      const l = whole(body.latencyUs);
      if (Number.isNaN(l)) bad = true;
      else this.dnsLatency[bucketBelow(l, LATENCY_BOUNDS)]++;
    }
    if (bad) this.unreadable++;
  }

  snapshot(): Distributions {
    return {
      flows: this.flows,
      dnsRecords: this.dns,
      flowBytes: [...this.flowBytes],
      flowDurations: [...this.flowDurations],
      protocols: Object.fromEntries([...this.protocols].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([k, v]) => [String(k), v])),
      topPorts: top(this.ports, (a, b) => a - b),
      dnsRcodes: Object.fromEntries([...this.rcodes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
      dnsLatency: [...this.dnsLatency],
      topPrefixes: top(this.prefixes, (a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      unreadable: this.unreadable,
    };
  }
}

/** A whole number ≥ 0 from the line, or NaN. */
function whole(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : NaN;
}

function bump<K>(m: Map<K, number>, k: K, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

function top<K>(m: Map<K, number>, tie: (a: K, b: K) => number): Array<[K, number]> {
  return [...m].sort((a, b) => b[1] - a[1] || tie(a[0], b[0])).slice(0, TOP);
}

function bucketAtMost(v: number, bounds: number[]): number {
  const i = bounds.findIndex((b) => v <= b);
  return i < 0 ? bounds.length : i;
}

function bucketBelow(v: number, bounds: number[]): number {
  const i = bounds.findIndex((b) => v < b);
  return i < 0 ? bounds.length : i;
}

/** "a.b.c.0/24" or the first three groups "x:y:z::/48", or null if `a` is not an address. */
export function prefixOf(a: unknown): string | null {
  if (typeof a !== 'string') return null;
  const v = net.isIP(a);
  if (v === 4) return `${a.split('.').slice(0, 3).join('.')}.0/24`;
  if (v !== 6) return null;
  const groups = expandIpv6(a);
  return groups === null ? null : `${groups.slice(0, 3).map((g) => parseInt(g, 16).toString(16)).join(':')}::/48`;
}

/** The eight 16-bit groups of an IPv6 address in text (with an embedded IPv4 tail too). */
function expandIpv6(a: string): string[] | null {
  let text = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === null ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  const all = [...h, ...fill, ...t];
  return all.length === 8 ? all : null;
}
