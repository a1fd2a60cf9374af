// Pairs DNS queries with their responses to measure latency. Looks at UDP and TCP port
// 53 (and mDNS on 5353, which is multicast and so not paired: each message is emitted
// as seen). A query waits in a bounded table keyed by (transaction id, client address,
// client port) until its response, its timeout (emitted unanswered) or eviction when
// the table is full (oldest first, counted). Time comes from packet timestamps only.
// DNS over TCP: only a message starting at the start of a segment is read (no stream
// reassembly); most TCP DNS segments carry exactly one message.
import { PacketView } from '../../../decode/packetView';
import { DnsEntry } from './dnsEntry';
import { DnsParse, DnsRefusal, dnsRefusalNames, parseDnsMessage } from './dnsMessage';
import { nextTickUs, tickDue } from '../../ticks';

export interface DnsTrackerOptions {
  /** Queries awaiting a response at once; default 65536. */
  maxPending?: number;
  /** A query without response after this long is emitted unanswered; default 10 s. */
  timeoutUs?: number;
}

export const dnsDefaults = { maxPending: 65536, timeoutUs: 10e6 } as const;

const DNS_PORT = 53;
const MDNS_PORT = 5353;
const TCP = 6;
const UDP = 17;

export interface DnsCounters {
  messages: number;
  queries: number;
  responses: number;
  answered: number;
  unanswered: number;
  unmatchedResponses: number;
  duplicateQueries: number;
  evicted: number;
  mdns: number;
  /** Refused messages by reason (shortHeader, badPointer, ...). */
  refused: Record<string, number>;
}

export class DnsTracker {
  readonly counters: DnsCounters = {
    messages: 0, queries: 0, responses: 0, answered: 0, unanswered: 0, unmatchedResponses: 0,
    duplicateQueries: 0, evicted: 0, mdns: 0, refused: {},
  };
  private readonly pending = new Map<string, DnsEntry>();
  private readonly parse = new DnsParse();
  private readonly maxPending: number;
  private readonly timeoutUs: number;
  private nextSweepUs = -Infinity;

  constructor(opts: DnsTrackerOptions, private readonly emit: (e: DnsEntry) => void) {
    this.maxPending = opts.maxPending ?? dnsDefaults.maxPending;
    this.timeoutUs = opts.timeoutUs ?? dnsDefaults.timeoutUs;
    if (!Number.isInteger(this.maxPending) || this.maxPending < 1) throw new Error(`dns.maxPending must be a positive integer, got ${this.maxPending}: fix the run configuration`);
    if (!(this.timeoutUs > 0)) throw new Error(`dns.timeoutUs must be a positive number of microseconds, got ${this.timeoutUs}: fix the run configuration`);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  onPacket(v: PacketView, buf: Buffer, tsUs: number): void {
    // Sweeps on whole seconds of packet time, as timer ticks (ticks.ts).
    if (tickDue(tsUs, this.nextSweepUs)) {
      this.expire(tsUs);
      this.nextSweepUs = nextTickUs(tsUs);
    }
    if (v.ipOff < 0 || v.payloadOff < 0 || v.payloadLen === 0) return;
    const proto = v.ipProto;
    if (proto !== UDP && proto !== TCP) return;
    const sport = v.srcPort;
    const dport = v.dstPort;
    const mdns = proto === UDP && (sport === MDNS_PORT || dport === MDNS_PORT);
    if (!mdns && sport !== DNS_PORT && dport !== DNS_PORT) return;
    let start = v.payloadOff;
    let end = v.payloadOff + v.payloadLen;
    if (proto === TCP) {
      if (v.payloadLen < 2) return;
      const msgLen = buf.readUInt16BE(start);
      start += 2;
      if (start + msgLen < end) end = start + msgLen;
    }
    this.counters.messages++;
    const m = this.parse;
    const refusal = parseDnsMessage(buf, start, end, m);
    if (refusal !== DnsRefusal.none) {
      const name = dnsRefusalNames[refusal];
      this.counters.refused[name] = (this.counters.refused[name] ?? 0) + 1;
      return;
    }
    if (m.response) this.counters.responses++;
    else this.counters.queries++;
    if (mdns) {
      this.counters.mdns++;
      this.emit(this.entry(buf, tsUs, m.response));
      return;
    }
    // The client is the query's sender and the response's receiver.
    const key = m.response ? clientKey(buf, m.id, v.ipDstOff, v.ipAddrLen, dport) : clientKey(buf, m.id, v.ipSrcOff, v.ipAddrLen, sport);
    if (!m.response) {
      if (this.pending.has(key)) {
        this.counters.duplicateQueries++; // a retransmission: latency counts from the first
        return;
      }
      if (this.pending.size >= this.maxPending) this.evictOldest();
      this.pending.set(key, this.entry(buf, tsUs, false));
      return;
    }
    const q = this.pending.get(key);
    if (q === undefined) {
      this.counters.unmatchedResponses++;
      this.emit(this.entry(buf, tsUs, true));
      return;
    }
    this.pending.delete(key);
    q.rcode = m.rcode;
    q.answers = m.ancount;
    q.latencyUs = Math.max(0, tsUs - q.tsUs);
    this.counters.answered++;
    this.emit(q);
  }

  /** Emits, unanswered, every query older than the timeout at `nowUs` (packet time). */
  expire(nowUs: number): void {
    // Map iteration is insertion order, which is query time order in a capture.
    for (const [key, q] of this.pending) {
      if (q.tsUs + this.timeoutUs > nowUs) break;
      this.pending.delete(key);
      this.counters.unanswered++;
      this.emit(q);
    }
  }

  /** At the end of a run: every pending query is emitted unanswered. */
  flushAll(nowUs: number): void {
    this.expire(nowUs);
    for (const q of this.pending.values()) {
      this.counters.unanswered++;
      this.emit(q);
    }
    this.pending.clear();
  }

  private evictOldest(): void {
    const first = this.pending.entries().next();
    if (first.done) return;
    this.pending.delete(first.value[0]);
    this.counters.evicted++;
    this.emit(first.value[1]);
  }

  private entry(buf: Buffer, tsUs: number, response: boolean): DnsEntry {
    const m = this.parse;
    return {
      tsUs,
      labels: m.copyLabels(buf),
      qtype: m.qtype,
      rcode: response ? m.rcode : null,
      answers: response ? m.ancount : null,
      latencyUs: null,
    };
  }
}

function clientKey(buf: Buffer, id: number, addrOff: number, addrLen: number, port: number): string {
  return `${id}/${port}/${buf.toString('latin1', addrOff, addrOff + addrLen)}`;
}
