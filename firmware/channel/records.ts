// The record types carried on the results line, and the shape of each record's body.
// Box and receiver both import this file: it is the contract of the line.
// Bodies are JSON objects (UTF-8) except PACKET, which is binary (see PacketRecord), and
// FLOW and DNS, which usually go in the compact form of result-codec.ts (JSON when it
// cannot carry the record exactly); the receiver decodes both into these shapes.

export const RecordType = {
  BOOT: 1,
  STATUS: 2,
  LOG: 3,
  FLOW: 4,
  PACKET: 5,
  DNS: 6,
  FEC: 7,
  CHECKPOINT: 8,
  END: 9,
  /** A record of a stream the analysis firmware declared (run.json analysis.streams). */
  STREAM: 10,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export const recordTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(RecordType).map(([k, v]) => [v, k]),
);

/** Drain order when the line is slower than the box: lower drains first. */
export const recordPriority: Record<number, number> = {
  [RecordType.BOOT]: 0,
  [RecordType.STATUS]: 0,
  [RecordType.CHECKPOINT]: 0,
  [RecordType.END]: 0,
  [RecordType.LOG]: 1,
  [RecordType.FLOW]: 2,
  [RecordType.DNS]: 2,
  [RecordType.PACKET]: 3,
  [RecordType.FEC]: 0,
  [RecordType.STREAM]: 2,
};

export interface BootRecord {
  /** Session id as 16 hex digits: new every boot. */
  session: string;
  product: 'sealtap';
  version: string;
  board: string;
  /** Analysis firmware identity: name, version, hash (or "dev" on a development host). */
  firmware: { name: string; version: string; hash: string };
  /** Link parameters of the results line. */
  link: { kind: 'tty' | 'file'; baud: number | null };
  /** Per-boot Ed25519 public key (hex) that signs CHECKPOINT records. */
  checkpointKey: string;
  /** Link type of PACKET records (pcap LINKTYPE_*). */
  linkType: number;
  /** Which outputs this run produces. */
  outputs: string[];
  /** Monotonic milliseconds since the supervisor started. */
  uptimeMs: number;
  /**
   * Set when results are encrypted to the researcher's key (channel/frame-seal.ts):
   * the algorithm and the sealed per-boot session key (hex ciphertext). Absent or null: clear.
   */
  encryption?: { alg: string; sealedKey: string } | null;
  /** Reed-Solomon repair frames (channel/fec.ts): m after every k data frames; absent or null: none. */
  fec?: { k: number; m: number } | null;
  /**
   * BLAKE2b-256 (hex) of the run's privacy statement (bundle/privacy.ts): what leaves the
   * box under this policy, run.json and module. On the box it is the hash the bundle's
   * approvers signed.
   */
  privacy?: string;
  /** The researcher's module: its size and BLAKE2b-256 (hex). Absent: no module. */
  module?: { bytes: number; blake2b: string };
  /**
   * The streams the analysis firmware declared (name -> the privacy statement's part for
   * it: each field's declaration with its unit and transform, the limits and the
   * residual capacity); the receiver writes them to schema.json. Absent: none.
   */
  streams?: Record<string, unknown>;
  /**
   * "on" when the researcher's module runs in its operating-system sandbox, "off" when
   * a development switch turned it off (every STATUS and the receiver's summary say so
   * too), absent when the run has no researcher's module.
   */
  sandbox?: 'on' | 'off';
}

export interface StatusRecord {
  uptimeMs: number;
  state: string;
  cpuPercent: number;
  memUsedBytes: number;
  memTotalBytes: number;
  spoolFill: number; // 0..1 of ring slots holding unanalysed data
  captured: number;
  kernelDropped: number;
  spoolDropped: number;
  analysed: number;
  quarantined: number;
  channelBacklogBytes: number;
  /** Records of the module's streams refused by the trusted exit so far (with a module). */
  streamsRefused?: number;
  /** "off" in every STATUS of a run whose module runs without its sandbox (development switch). */
  sandbox?: 'off';
  /** Bytes of the captured packets as stored (caplen: a snap length cuts long packets). */
  capturedBytes?: number;
  /** Milliseconds since capture started, and run.json stop.seconds (null: no time limit). */
  elapsedMs?: number;
  stopSeconds?: number | null;
  /** Records the outbox dropped (line too slow) and the egress guard refused, so far. */
  outboxDropped?: number;
  egressRefused?: number;
  /**
   * The supervisor's own process and the analysis (the trusted analysis process and
   * the module's sandbox under it), each: CPU % of one core since the last STATUS and
   * resident memory. cpuPercent and memUsedBytes above are the whole host's.
   */
  supervisor?: ProcessUsage;
  analysis?: ProcessUsage | null;
}

export interface ProcessUsage {
  cpuPercent: number;
  rssBytes: number;
}

export interface LogRecord {
  uptimeMs: number;
  /** RFC 5424 severity: 3 error, 4 warning, 5 notice, 6 info. */
  severity: number;
  /** The operator's one readable line. */
  msg: string;
}

/** A bidirectional flow. "a" is the side that sent the first packet seen. */
export interface FlowRecord {
  ipVersion: 4 | 6;
  protocol: number;
  srcAddr: string; // anonymized
  dstAddr: string; // anonymized
  srcPort: number;
  dstPort: number;
  /** Microseconds since the epoch after the policy's time shift and coarsening. */
  firstUs: number;
  lastUs: number;
  packets: number;
  bytes: number;
  revPackets: number;
  revBytes: number;
  tcpFlags: number;
  revTcpFlags: number;
  /** idle | active | end (TCP FIN/RST) | evicted | runEnd */
  endReason: string;
  /** Output level this record belongs to (policy levels), "default" if single. */
  level?: string;
}

export interface DnsRecord {
  tsUs: number;
  /** Query name with each label keyed-hashed (public suffix kept when the policy says so). */
  qname: string;
  qtype: number;
  rcode: number | null;
  answers: number | null;
  latencyUs: number | null;
  level?: string;
}

export interface EndRecord {
  reason: string;
  captured: number;
  kernelDropped: number;
  spoolDropped: number;
  spoolAuthFailures: number;
  analysed: number;
  quarantined: number;
  egressRefused: number;
  analysisRestarts: number;
  records: Record<string, number>; // per record type name, as sent
  outboxDropped: number;
  uptimeMs: number;
  /** Records of the module's streams refused by the trusted exit (with a module). */
  streamsRefused?: number;
  /** Per declared stream: records accepted and refused by reason (from the last analysis process). */
  streams?: Record<string, { accepted: number; refused: Record<string, number> }>;
  /** "off" when the module ran without its sandbox (development switch). */
  sandbox?: 'off';
}

/**
 * STREAM body (JSON): one record of a declared stream, after the trusted exit applied
 * the policy to every field. `stream` matches ^[a-z][a-z0-9_]{0,31}$ and is declared in
 * BOOT's `streams`; `record` holds only the declared fields: strings (anonymized
 * addresses, MACs, hashed names, enum values), integers, and lists of integers.
 */
export interface StreamRecord {
  stream: string;
  record: Record<string, string | number | number[]>;
}

/**
 * PACKET body: one anonymized packet as a pcap record (16-byte little-endian header:
 * ts_sec, ts_usec, caplen, origlen, then caplen bytes). The link type is in BOOT.
 */
export type PacketRecord = Buffer;
