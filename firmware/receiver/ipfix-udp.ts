// --ipfix udp://host:port: forwards each IPFIX message to a collector (nfcapd, …).
// Workstation side only: the box has no network modules.
//
// UDP has no flow control: messages sent faster than the collector reads them overflow
// its socket buffer and the kernel drops them without telling anyone (nfcapd on
// loopback lost up to half of 3,850 records sent back to back). So messages wait in a
// queue and leave through a token bucket of data records per second, on timers, never
// in a busy loop. The queue is bounded: receive stops reading a file while it is long
// (isFull, whenRoom), so a file loses nothing; a tty cannot wait (its bytes would be
// lost instead), and beyond MAX_QUEUED messages its records are dropped and counted.
import * as dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import { messageContents, templatesBefore } from './ipfix';

import { MAX_QUEUED } from './ipfix-defaults';
/** The bucket holds this much of the rate: the largest burst, far below a collector's socket buffer. */
const BURST_MS = 20;

/** Allows `rate` records per second on average and bursts of `burst`, by the clock `now` (ms). */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(readonly rate: number, readonly burst: number, private readonly now: () => number) {
    this.tokens = burst;
    this.last = now();
  }

  /**
   * Takes `n` tokens and returns 0 if it may go now, else the ms to wait before asking
   * again (nothing taken). A message larger than the bucket goes when the bucket is full
   * and leaves it in debt, so over any span at most burst + rate × span records go.
   */
  take(n: number): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
    const need = Math.min(n, this.burst);
    if (this.tokens >= need) {
      this.tokens -= n;
      return 0;
    }
    return Math.ceil(((need - this.tokens) * 1000) / this.rate);
  }
}

export interface ForwardOptions {
  /** Data records per second, at most (on average; bursts of 20 ms of it). */
  rate: number;
  /** Data sent this many seconds or more after the last template set gets one first. */
  templateSeconds: number;
  /** The clock of the pacing and of the template re-sends, in ms (tests give their own). */
  now?: () => number;
}

/** What was forwarded: summary.json's ipfixForward. */
export interface ForwardReport {
  collector: string;
  recordsPerSecond: number;
  templateSeconds: number;
  /** Data records and messages sent; templateMessages of those messages carry only the templates again. */
  records: number;
  messages: number;
  templateMessages: number;
  /** Records not sent: the queue was full (a tty delivering faster than the rate), or the socket refused them. */
  droppedRecords: number;
  failedRecords: number;
}

interface Queued {
  msg: Buffer;
  records: number;
  templates: boolean;
}

export class IpfixForwarder {
  /** Queued messages at which a file input waits: about 5,000 records, 1 s at the default rate. */
  static readonly HIGH_WATER = 256;
  /** Queued messages beyond which new ones are dropped and counted (at most 23 MB). */
  static readonly MAX_QUEUED = MAX_QUEUED;
  private readonly bucket: TokenBucket;
  private readonly now: () => number;
  private queue: Queued[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;
  private inflight = 0;
  private room: (() => void) | null = null;
  private closed: (() => void) | null = null;
  private lastTemplatesMs = -Infinity;
  private records = 0;
  private messages = 0;
  private templateMessages = 0;
  private droppedRecords = 0;
  private failedRecords = 0;

  private constructor(
    private readonly url: string,
    private readonly sock: dgram.Socket,
    private readonly address: string,
    private readonly port: number,
    private readonly o: ForwardOptions,
  ) {
    this.now = o.now ?? (() => performance.now());
    this.bucket = new TokenBucket(o.rate, Math.max(1, (o.rate * BURST_MS) / 1000), this.now);
    // Send errors arrive in the send callbacks; an 'error' event without a listener would throw.
    sock.on('error', () => undefined);
  }

  static parse(url: string): { host: string; port: number } {
    const m = /^udp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(url);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port > 0 && port < 65536)) throw new Error(`--ipfix ${url}: expected udp://host:port, e.g. udp://127.0.0.1:4739`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  }

  /**
   * Resolves the collector's name once: every message then goes to one address, in order
   * (a lookup per message could reorder the templates and the data that needs them).
   */
  static async open(url: string, o: ForwardOptions): Promise<IpfixForwarder> {
    const { host, port } = IpfixForwarder.parse(url);
    if (!(o.rate > 0 && o.templateSeconds > 0)) throw new Error(`--ipfix: rate ${o.rate} and template interval ${o.templateSeconds} must be above 0`);
    let a: { address: string; family: number };
    try {
      a = await lookup(host);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new Error(`--ipfix ${url}: cannot resolve ${host} (${why}): give the collector's address or a name this workstation resolves`);
    }
    return new IpfixForwarder(url, dgram.createSocket(a.family === 6 ? 'udp6' : 'udp4'), a.address, port, o);
  }

  /** Queues a message (or drops and counts it if MAX_QUEUED are waiting). */
  send(msg: Buffer): void {
    const c = messageContents(msg);
    if (this.queued() >= IpfixForwarder.MAX_QUEUED) {
      this.droppedRecords += c.records;
      return;
    }
    this.queue.push({ msg, ...c });
    this.pump();
  }

  /** HIGH_WATER messages or more are waiting: a file input should wait for whenRoom. */
  isFull(): boolean {
    return this.queued() >= IpfixForwarder.HIGH_WATER;
  }

  /** Calls `f` once the queue is down to half of HIGH_WATER. */
  whenRoom(f: () => void): void {
    this.room = f;
  }

  /** Sends what is queued (at the rate), then closes the socket. */
  close(): Promise<ForwardReport> {
    return new Promise((resolve) => {
      this.closed = () => this.sock.close(() => resolve(this.report()));
      this.settle();
    });
  }

  private report(): ForwardReport {
    return {
      collector: this.url, recordsPerSecond: this.o.rate, templateSeconds: this.o.templateSeconds,
      records: this.records, messages: this.messages, templateMessages: this.templateMessages,
      droppedRecords: this.droppedRecords, failedRecords: this.failedRecords,
    };
  }

  private queued(): number {
    return this.queue.length - this.head;
  }

  private pump(): void {
    if (this.timer) return;
    while (this.head < this.queue.length) {
      const q = this.queue[this.head];
      const wait = this.bucket.take(q.records);
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.pump();
        }, wait);
        return;
      }
      this.head++;
      // A long file keeps the queue from ever emptying: let go of what was sent now and then.
      if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      // RFC 7011 §8.4 and §10.3.6: over UDP, which may lose a template set unnoticed, the
      // exporter resends its templates periodically (RFC 6728's templateRefreshTimeout).
      // The messages of flows.ipfix carry them in the first and every 10th message; when
      // templateSeconds passed without one, a template-only message goes first, so a
      // collector that started late or restarted decodes what follows.
      const t = this.now();
      if (q.templates) this.lastTemplatesMs = t;
      else if (t - this.lastTemplatesMs >= this.o.templateSeconds * 1000) {
        this.transmit(templatesBefore(q.msg), 0, true);
        this.lastTemplatesMs = t;
      }
      this.transmit(q.msg, q.records, false);
      if (this.room && this.queued() <= IpfixForwarder.HIGH_WATER / 2) {
        const f = this.room;
        this.room = null;
        f();
      }
    }
    this.queue = [];
    this.head = 0;
  }

  private transmit(msg: Buffer, records: number, templatesOnly: boolean): void {
    this.inflight++;
    this.sock.send(msg, this.port, this.address, (err) => {
      this.inflight--;
      if (err) this.failedRecords += records;
      else {
        this.records += records;
        this.messages++;
        if (templatesOnly) this.templateMessages++;
      }
      this.settle();
    });
  }

  private settle(): void {
    if (!this.closed || this.inflight > 0 || this.queued() > 0) return;
    const f = this.closed;
    this.closed = null;
    f();
  }
}
