// The files `sealtap receive` writes into DIR, fed record by record by the LineDecoder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BootRecord, EndRecord, FlowRecord, LogRecord, RecordType, StatusRecord } from '../channel/records';
import { RecordSink } from './decoder';
import { SessionState } from './session';
import { PcapFileWriter } from './pcap-file';
import { IpfixEncoder } from './ipfix';
import { syslogLine } from './syslog-line';
import { BufferedFile } from './buffered-file';
import { escapeLineMessage, escapeLineText, lineJson, lineNumber } from './escape-text';
import { SCHEMA_FILE, StreamFiles } from './stream-files';
import { RunTimeline } from './run-timeline';
import { ResultStats } from './result-stats';

/** Written on every run. */
export const OUTPUT_FILES = ['trace.pcap', 'flows.ipfix', 'flows.jsonl', 'dns.jsonl', 'log.txt', 'summary.json', 'report.html', 'README.txt'] as const;
export const LINE_FILE = 'line.raw';
/**
 * Every file the receiver writes besides stream files (trace-<session>.pcap shares
 * trace.pcap's stem): no stream may be named after one of their stems.
 */
export const RECEIVER_FILES: readonly string[] = [...OUTPUT_FILES, LINE_FILE, SCHEMA_FILE];

export class OutputFiles implements RecordSink {
  private readonly flows: BufferedFile;
  private readonly dns: BufferedFile;
  private readonly logFile: BufferedFile;
  private readonly ipfixFile: BufferedFile;
  private readonly pcaps = new Map<number, PcapFileWriter>();
  private readonly ipfix = new IpfixEncoder(1, 10);
  readonly streams: StreamFiles;
  /** The STATUS records over time, and the distributions of FLOW and DNS records (report.html). */
  readonly timeline = new RunTimeline();
  readonly stats = new ResultStats();
  /** Sessions whose BOOT said the researcher's module runs without its sandbox (told once each). */
  private readonly unsandboxed = new Set<string>();
  private lastLinkType = 1;
  flowRecords = 0;
  dnsRecords = 0;
  logLines = 0;

  constructor(
    readonly dir: string,
    /** Operator lines (the box's LOG records and the receiver's own notices), for --follow. */
    private readonly onLine: (line: string) => void,
    /** Each finished IPFIX message, for --ipfix forwarding. */
    private readonly onIpfix: (msg: Buffer) => void = () => undefined,
    /** Bytes read from the line so far (each STATUS sample records it). */
    private readonly lineBytes: () => number = () => 0,
  ) {
    const open = (name: string): BufferedFile => new BufferedFile(path.join(dir, name));
    this.flows = open('flows.jsonl');
    this.dns = open('dns.jsonl');
    this.logFile = open('log.txt');
    this.ipfixFile = open('flows.ipfix');
    this.streams = new StreamFiles(dir, RECEIVER_FILES, (s, severity, msg) => this.notice(s, severity, msg));
  }

  boot(s: SessionState, boot: BootRecord): void {
    if (s.bootRecords === 1) {
      const t = escapeLineText;
      this.notice(s, 5, `session ${s.id} started: ${t(boot.product ?? '?')} ${t(boot.version ?? '?')} on board ${t(boot.board ?? '?')}, firmware ${t(boot.firmware?.name ?? '?')} ${t(boot.firmware?.version ?? '')}`.trim());
    }
    if (boot.sandbox === 'off' && !this.unsandboxed.has(s.id)) {
      this.unsandboxed.add(s.id);
      this.notice(s, 4, `session ${s.id}: the researcher's module runs without its operating-system sandbox (BOOT sandbox "off": a development switch)`);
    }
    this.streams.declare(s, boot.streams);
    // The box learns its link type only when capture starts: a later BOOT carries it.
    if (lineNumber(boot.linkType) >= 0) this.lastLinkType = lineNumber(boot.linkType);
  }

  status(s: SessionState, st: StatusRecord): void {
    // The last one is kept in the session state too (the --follow status block).
    this.timeline.add(s, st, this.lineBytes());
  }

  log(s: SessionState, log: LogRecord): void {
    this.writeLog(syslogLine(Date.now(), s.boot?.board ?? '-', 'sealtap', s.id, log));
    this.onLine(`[${s.id.slice(0, 8)} +${(lineNumber(log.uptimeMs) / 1000).toFixed(1)}s] ${escapeLineMessage(log.msg)}`);
  }

  result(s: SessionState, type: number, body: Record<string, unknown>): void {
    if (type === RecordType.STREAM) return this.streams.write(s, body);
    const line = lineJson(body) + '\n';
    if (type === RecordType.DNS) {
      this.dns.write(line);
      this.dnsRecords++;
      this.stats.dnsRecord(body);
    } else if (type === RecordType.FLOW) {
      this.flows.write(line);
      this.flowRecords++;
      this.stats.flow(body);
      for (const m of this.ipfix.add(body as unknown as FlowRecord)) this.emitIpfix(m);
    }
  }

  packet(s: SessionState, rec: Buffer): void {
    this.pcapFor(s).write(rec);
  }

  packetIn(s: SessionState, body: Buffer, start: number, end: number): void {
    this.pcapFor(s).writeRange(body, start, end);
  }

  packetsIn(s: SessionState, body: Buffer): void {
    this.pcapFor(s).writePacked(body);
  }

  end(s: SessionState, end: EndRecord): void {
    const t = escapeLineText;
    this.notice(s, 5, `session ${s.id} ended (${t(end.reason)}): captured ${t(end.captured)}, analysed ${t(end.analysed)}`);
  }

  sessionClosed(s: SessionState): void {
    if (s.closedBy === 'end') return;
    const holes = s.seq.holes.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',') || 'none';
    this.notice(s, 4, `session ${s.id} closed by ${s.closedBy} without END: last frame ${s.seq.last()}, missing frames ${s.seq.missing} (${holes}); anything after frame ${s.seq.last()} is lost`);
  }

  pcapPackets(): number {
    let n = 0;
    for (const p of this.pcaps.values()) n += p.packets;
    return n;
  }

  pcapMalformed(): number {
    let n = 0;
    for (const p of this.pcaps.values()) n += p.malformed;
    return n;
  }

  ipfixRecords(): number {
    return this.ipfix.records;
  }

  /** Flows kept in flows.jsonl but not in flows.ipfix (times before 1970, bad fields). */
  ipfixSkipped(): number {
    return this.ipfix.skipped;
  }

  /** Pushes buffered output to the files (after each chunk of input). */
  flush(): void {
    for (const f of [this.flows, this.dns, this.logFile, this.ipfixFile]) f.flush();
    for (const p of this.pcaps.values()) p.flush();
    this.streams.flush();
  }

  close(): void {
    for (const m of this.ipfix.flush()) this.emitIpfix(m);
    // trace.pcap exists even when no BOOT arrived, so tools that expect it do not fail.
    if (!fs.existsSync(path.join(this.dir, 'trace.pcap'))) new PcapFileWriter(path.join(this.dir, 'trace.pcap'), this.lastLinkType).close();
    for (const p of this.pcaps.values()) p.close();
    for (const f of [this.flows, this.dns, this.logFile, this.ipfixFile]) f.close();
    this.streams.close();
  }

  /**
   * The receiver's own remarks go to log.txt too, as app "sealtap-receive". Whatever of
   * the line `msg` quotes is escaped by its caller (escapeLineText, which never throws);
   * escaping again here is a no-op that keeps a forgotten one off the terminal.
   */
  notice(s: SessionState | null, severity: number, msg: string): void {
    this.writeLog(syslogLine(Date.now(), s?.boot?.board ?? '-', 'sealtap-receive', s?.id ?? '-', { uptimeMs: 0, severity, msg }));
    this.onLine(`[receive] ${escapeLineText(msg)}`);
  }

  private writeLog(line: string): void {
    this.logFile.write(line + '\n');
    this.logLines++;
  }

  private emitIpfix(m: Buffer): void {
    this.ipfixFile.write(m);
    this.onIpfix(m);
  }

  /** PACKET records go to trace.pcap; a later session with another link type gets trace-<session>.pcap. */
  private pcapFor(s: SessionState): PcapFileWriter {
    const announced = lineNumber(s.boot?.linkType ?? -1);
    const lt = announced >= 0 ? announced : this.lastLinkType;
    let w = this.pcaps.get(lt);
    if (!w) {
      const name = this.pcaps.size === 0 ? 'trace.pcap' : `trace-${s.id}.pcap`;
      w = new PcapFileWriter(path.join(this.dir, name), lt);
      this.pcaps.set(lt, w);
    }
    return w;
  }
}
