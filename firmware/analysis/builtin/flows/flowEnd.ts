// A finished flow as the table hands it out, and its conversion into the FLOW record of
// the results line. The table reuses one FlowEnd for every emission: an emit callback
// that keeps it must copy it (formatFlow does).
import { FlowRecord } from '../../../channel/records';

export type FlowEndReason = 'idle' | 'active' | 'end' | 'evicted' | 'runEnd';

export class FlowEnd {
  ipVersion: 4 | 6 = 4;
  protocol = 0;
  /** Raw addresses: side "a" (first sender) at 0, side "b" at 16; addrLen bytes each. */
  readonly addr = Buffer.alloc(32);
  addrLen: 4 | 16 = 4;
  /** Ports of side a and b; for ICMP 0 and type * 256 + code. */
  srcPort = 0;
  dstPort = 0;
  firstUs = 0;
  lastUs = 0;
  packets = 0;
  bytes = 0;
  revPackets = 0;
  revBytes = 0;
  tcpFlags = 0;
  revTcpFlags = 0;
  endReason: FlowEndReason = 'idle';
}

/** What formatFlow needs from the anonymization policy. */
export interface FlowAnonymizer {
  addr(buf: Buffer, off: number, len: 4 | 16): string;
  time(us: number): number;
}

export function formatFlow(f: FlowEnd, anon: FlowAnonymizer): FlowRecord {
  return {
    ipVersion: f.ipVersion,
    protocol: f.protocol,
    srcAddr: anon.addr(f.addr, 0, f.addrLen),
    dstAddr: anon.addr(f.addr, 16, f.addrLen),
    srcPort: f.srcPort,
    dstPort: f.dstPort,
    firstUs: anon.time(f.firstUs),
    lastUs: anon.time(f.lastUs),
    packets: f.packets,
    bytes: f.bytes,
    revPackets: f.revPackets,
    revBytes: f.revBytes,
    tcpFlags: f.tcpFlags,
    revTcpFlags: f.revTcpFlags,
    endReason: f.endReason,
  };
}
