// Bidirectional flows keyed on the innermost IP header. Side "a" is the sender of the
// first packet seen. Time comes only from packet timestamps (never the wall clock), so
// replaying a capture yields the same flows at any speed.
// A flow ends when: idle longer than idleTimeoutUs ("idle"), older than activeTimeoutUs
// ("active", the next packet starts a new flow), TCP saw FIN both ways or an RST ("end",
// after endLingerUs so the last ACKs are still counted in it), the table was full and
// it was the least recently seen ("evicted"), or the run ended ("runEnd").
import { PacketView } from '../../../decode/packetView';
import { FlowEnd, FlowEndReason } from './flowEnd';
import { flowHash, icmpRecordPort, ICMP, ICMPV6, keyDstPort, keySrcPort, TCP } from './flowKey';
import { FlowStore, NIL } from './flowStore';
import { nextTickUs, tickDue } from '../../ticks';

export interface FlowTableOptions {
  /** Flows held at once; when full the least recently seen is evicted. Default 65536. */
  maxFlows?: number;
  idleTimeoutUs?: number;
  activeTimeoutUs?: number;
  /** How long a TCP flow that ended stays to collect the last ACKs. Default 1 s. */
  endLingerUs?: number;
}

export const flowDefaults = { maxFlows: 65536, idleTimeoutUs: 60e6, activeTimeoutUs: 300e6, endLingerUs: 1e6 } as const;

/** Timeouts are checked at most this often (in packet time) outside the packet's own flow. */

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;
const FIN_A = 1;
const FIN_B = 2;
const CLOSED = 4;

export interface FlowCounters {
  packets: number;
  notIp: number;
  flows: number;
  idle: number;
  active: number;
  end: number;
  evicted: number;
  runEnd: number;
}

export class FlowTable {
  readonly store: FlowStore;
  readonly counters: FlowCounters = { packets: 0, notIp: 0, flows: 0, idle: 0, active: 0, end: 0, evicted: 0, runEnd: 0 };
  private readonly idleUs: number;
  private readonly activeUs: number;
  private readonly lingerUs: number;
  private readonly scratch = new FlowEnd();
  private nextSweepUs = -Infinity;

  constructor(opts: FlowTableOptions, private readonly emit: (f: FlowEnd) => void) {
    const maxFlows = opts.maxFlows ?? flowDefaults.maxFlows;
    if (!Number.isInteger(maxFlows) || maxFlows < 1) throw new Error(`flows.maxFlows must be a positive integer, got ${maxFlows}: fix the run configuration`);
    this.idleUs = opts.idleTimeoutUs ?? flowDefaults.idleTimeoutUs;
    this.activeUs = opts.activeTimeoutUs ?? flowDefaults.activeTimeoutUs;
    this.lingerUs = opts.endLingerUs ?? flowDefaults.endLingerUs;
    for (const [name, value] of [['idleTimeoutUs', this.idleUs], ['activeTimeoutUs', this.activeUs], ['endLingerUs', this.lingerUs]] as const) {
      if (!(value > 0)) throw new Error(`flows.${name} must be a positive number of microseconds, got ${value}: fix the run configuration`);
    }
    this.store = new FlowStore(maxFlows);
  }

  /** When the table sweeps next (packet time, µs; -Infinity before the first packet). */
  nextSweep(): number {
    return this.nextSweepUs;
  }

  /** The idle and active timeouts (µs). */
  timeouts(): { idleUs: number; activeUs: number } {
    return { idleUs: this.idleUs, activeUs: this.activeUs };
  }

  /** Number of flows held now. */
  get size(): number {
    return this.store.used;
  }

  /** Accounts one decoded packet (the view must come from decodePacket on `buf`). */
  onPacket(v: PacketView, buf: Buffer, tsUs: number): void {
    this.counters.packets++;
    // Sweeps on whole seconds of packet time, as timer ticks (ticks.ts).
    if (tickDue(tsUs, this.nextSweepUs)) {
      this.expire(tsUs);
      this.nextSweepUs = nextTickUs(tsUs);
    }
    if (v.ipOff < 0) {
      this.counters.notIp++;
      return;
    }
    const s = this.store;
    const sport = keySrcPort(v);
    const dport = keyDstPort(v);
    const hash = flowHash(buf, v, sport, dport);
    let id = NIL;
    let forward = true;
    for (let slot = s.firstSlot(hash); ; slot = s.nextSlot(slot)) {
      const cand = s.idAt(slot);
      if (cand === NIL) break;
      if (s.hash[cand] !== hash || s.proto[cand] !== v.ipProto || s.version[cand] !== v.ipVersion) continue;
      if (s.portA[cand] === sport && s.portB[cand] === dport && sameAddr(s.addr, cand * 32, buf, v.ipSrcOff, v.ipAddrLen) && sameAddr(s.addr, cand * 32 + 16, buf, v.ipDstOff, v.ipAddrLen)) {
        id = cand;
        break;
      }
      if (s.portA[cand] === dport && s.portB[cand] === sport && sameAddr(s.addr, cand * 32, buf, v.ipDstOff, v.ipAddrLen) && sameAddr(s.addr, cand * 32 + 16, buf, v.ipSrcOff, v.ipAddrLen)) {
        id = cand;
        forward = false;
        break;
      }
    }
    const tcpFlags = v.ipProto === TCP ? v.tcpFlags : 0;
    if (id !== NIL && this.mustRestart(id, tsUs, tcpFlags)) id = NIL;
    if (id === NIL) {
      id = this.create(hash, v, buf, sport, dport, tsUs);
      forward = true;
    }
    const bytes = v.ipTotalLen > 0 ? v.ipTotalLen : Math.max(0, v.origLen - (v.ipOff - v.start));
    if (tsUs > s.lastUs[id]) s.lastUs[id] = tsUs;
    if (forward) {
      s.pktsA[id]++;
      s.bytesA[id] += bytes;
      s.flagsA[id] |= tcpFlags;
    } else {
      s.pktsB[id]++;
      s.bytesB[id] += bytes;
      s.flagsB[id] |= tcpFlags;
    }
    const state = s.state[id];
    if (state & CLOSED) return;
    s.lru.moveToTail(id);
    if (tcpFlags & (FIN | RST)) {
      let next = state | (tcpFlags & RST ? CLOSED : forward ? FIN_A : FIN_B);
      if ((next & (FIN_A | FIN_B)) === (FIN_A | FIN_B)) next |= CLOSED;
      s.state[id] = next;
      if (next & CLOSED) {
        s.closedUs[id] = tsUs;
        s.lru.remove(id);
        s.closing.push(id);
      }
    }
  }

  /** Ends every flow whose timeout has passed at `nowUs` (packet time). */
  expire(nowUs: number): void {
    const s = this.store;
    while (s.closing.head !== NIL && s.closedUs[s.closing.head] + this.lingerUs <= nowUs) this.finish(s.closing.head, 'end');
    while (s.lru.head !== NIL && s.lastUs[s.lru.head] + this.idleUs <= nowUs) this.finish(s.lru.head, 'idle');
    while (s.created.head !== NIL && s.firstUs[s.created.head] + this.activeUs <= nowUs) this.finish(s.created.head, 'active');
  }

  /** Ends every flow (at the end of a run): closed TCP flows as "end", the rest "runEnd". */
  flushAll(nowUs: number): void {
    this.expire(nowUs);
    const s = this.store;
    while (s.created.head !== NIL) this.finish(s.created.head, 'runEnd');
  }

  /** An existing flow that a new packet must not join: timed out, or a new TCP connection. */
  private mustRestart(id: number, tsUs: number, tcpFlags: number): boolean {
    const s = this.store;
    if (s.state[id] & CLOSED) {
      // A SYN reusing the ports of a finished connection starts a new one.
      if (s.closedUs[id] + this.lingerUs <= tsUs || (tcpFlags & (SYN | ACK)) === SYN) {
        this.finish(id, 'end');
        return true;
      }
      return false;
    }
    if (s.lastUs[id] + this.idleUs <= tsUs) {
      this.finish(id, 'idle');
      return true;
    }
    if (s.firstUs[id] + this.activeUs <= tsUs) {
      this.finish(id, 'active');
      return true;
    }
    return false;
  }

  private create(hash: number, v: PacketView, buf: Buffer, sport: number, dport: number, tsUs: number): number {
    const s = this.store;
    if (s.full) this.finish(s.closing.head !== NIL ? s.closing.head : s.lru.head, s.closing.head !== NIL ? 'end' : 'evicted');
    const id = s.allocate(hash);
    const base = id * 32;
    buf.copy(s.addr, base, v.ipSrcOff, v.ipSrcOff + v.ipAddrLen);
    buf.copy(s.addr, base + 16, v.ipDstOff, v.ipDstOff + v.ipAddrLen);
    s.portA[id] = sport;
    s.portB[id] = dport;
    s.proto[id] = v.ipProto;
    s.version[id] = v.ipVersion;
    s.firstUs[id] = tsUs;
    s.lastUs[id] = tsUs;
    s.pktsA[id] = 0;
    s.pktsB[id] = 0;
    s.bytesA[id] = 0;
    s.bytesB[id] = 0;
    s.flagsA[id] = 0;
    s.flagsB[id] = 0;
    s.state[id] = 0;
    s.closedUs[id] = 0;
    s.lru.push(id);
    s.created.push(id);
    this.counters.flows++;
    return id;
  }

  /** Emits a flow and frees its slot. A closed TCP flow always ends as "end". */
  private finish(id: number, reason: FlowEndReason): void {
    const s = this.store;
    const closed = (s.state[id] & CLOSED) !== 0;
    const why: FlowEndReason = closed ? 'end' : reason;
    const f = this.scratch;
    const len = s.version[id] === 6 ? 16 : 4;
    f.ipVersion = len === 16 ? 6 : 4;
    f.addrLen = len;
    s.addr.copy(f.addr, 0, id * 32, id * 32 + len);
    s.addr.copy(f.addr, 16, id * 32 + 16, id * 32 + 16 + len);
    f.protocol = s.proto[id];
    const icmp = f.protocol === ICMP || f.protocol === ICMPV6;
    f.srcPort = icmp ? 0 : s.portA[id];
    f.dstPort = icmp ? icmpRecordPort(s.portA[id]) : s.portB[id];
    f.firstUs = s.firstUs[id];
    f.lastUs = s.lastUs[id];
    f.packets = s.pktsA[id];
    f.bytes = s.bytesA[id];
    f.revPackets = s.pktsB[id];
    f.revBytes = s.bytesB[id];
    f.tcpFlags = s.flagsA[id];
    f.revTcpFlags = s.flagsB[id];
    f.endReason = why;
    if (closed) s.closing.remove(id);
    else s.lru.remove(id);
    s.created.remove(id);
    s.release(id);
    this.counters[why]++;
    this.emit(f);
  }
}

function sameAddr(store: Buffer, at: number, buf: Buffer, off: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (store[at + i] !== buf[off + i]) return false;
  return true;
}
