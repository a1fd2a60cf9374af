// The native half of node-pcap, used directly: its JavaScript wrapper allocates an
// object and emits an event per packet, which costs more than the copy we need to do.
// We keep its C++ session (libpcap open, filter, non-blocking dispatch, stats).

export interface NativePcapSession {
  /** Returns the link type name, e.g. "LINKTYPE_ETHERNET". */
  open_live(device: string, filter: string, bufferSize: number, snapLength: number, outfile: string,
    onPacket: () => void, monitor: boolean, bufferTimeoutMs: number, warn: (msg: string) => void, promiscuous: boolean): string;
  open_offline(path: string, filter: string, bufferSize: number, snapLength: number, outfile: string,
    onPacket: () => void, monitor: boolean, bufferTimeoutMs: number, warn: (msg: string) => void, promiscuous: boolean): string;
  /** Copies each available packet into buf/header and calls onPacket; returns the last pcap_dispatch result (-1 error, 0 none/EOF). */
  dispatch(buf: Buffer, header: Buffer): number;
  start_polling(): void;
  read_callback: () => void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
  close(): void;
}

interface Binding {
  PcapSession: new () => NativePcapSession;
  lib_version(): string;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const pcapBinding: Binding = require('pcap/build/Release/pcap_binding');

/** LINKTYPE_* name (as node-pcap reports it) to the number written in pcap files. */
const linkTypeNumbers: Record<string, number> = {
  LINKTYPE_NULL: 0,
  LINKTYPE_ETHERNET: 1,
  LINKTYPE_IEEE802_11_RADIO: 127,
  LINKTYPE_IEEE802_11: 105,
  LINKTYPE_RAW: 101,
  LINKTYPE_LINUX_SLL: 113,
};

/**
 * node-pcap names only a few link types and reports the rest as "Unknown linktype <DLT>";
 * the DLT number equals the LINKTYPE number for every type the decoder knows beyond those.
 */
export function linkTypeNumber(name: string): number {
  if (name in linkTypeNumbers) return linkTypeNumbers[name];
  const m = /Unknown linktype (\d+)/.exec(name);
  return m ? Number(m[1]) : -1;
}
