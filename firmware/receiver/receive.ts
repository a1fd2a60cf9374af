// `sealtap receive`: reads the line, writes the output files, reports progress.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineDecoder } from './decoder';
import { LINE_FILE, OutputFiles } from './outputs';
import { readmeText } from './readme';
import type { Summary } from './summary';
import { LiveView } from './live-view';
import { StatusScreen } from './terminal-block';
import { ResultsWriter } from './results-writer';
import type { SessionState } from './session';
import { checkLineInput, openLineSource } from './line-source';
import type { ForwardReport } from './ipfix-udp';
import { DEFAULT_RATE, DEFAULT_TEMPLATE_SECONDS } from './ipfix-defaults';
import { openOutDir, refuseOwnOutput, removeWhatWasWritten } from './out-dir';

export interface ReceiveOptions {
  /** A tty (read with serialport) or a recording of the line (read to its end). */
  input: string;
  out: string;
  baud?: number;
  /** Print operator log lines and the status block while reading. */
  follow?: boolean;
  /**
   * With follow: a terminal to redraw the status block in place on (the CLI passes its
   * stdout when it is a tty). Without it the block is printed as plain "status:" lines
   * through `print`.
   */
  terminal?: { write: (text: string) => void; columns: () => number };
  /** Stop at the first END record. */
  untilEnd?: boolean;
  /** udp://host:port of an IPFIX collector. */
  ipfix?: string;
  /** Data records per second forwarded to it, at most (DEFAULT_RATE). */
  ipfixRate?: number;
  /** Seconds after which the templates are sent to it again (DEFAULT_TEMPLATE_SECONDS). */
  ipfixTemplateSeconds?: number;
  /** Where --follow lines go (stdout by default). */
  print?: (line: string) => void;
  /** Aborting stops reading (SIGINT/SIGTERM in the CLI); the files are still finished. */
  signal?: AbortSignal;
  /** How often the status block is redrawn (default 1 s on a terminal, 2 s as plain lines). */
  statusEveryMs?: number;
  /** How often summary.json (and with follow report.html) is rewritten while reading (default 3 s). */
  resultsEveryMs?: number;
  /** The researcher's results key file (PREFIX.key from `sealtap receive keygen`), to read encrypted sessions. */
  key?: string;
  /** Write into an --out folder that is not empty (files of the same names are replaced). */
  force?: boolean;
}

export async function receive(o: ReceiveOptions): Promise<Summary> {
  const print = o.print ?? ((l: string) => process.stdout.write(l + '\n'));
  const follow = o.follow === true;
  const kind = checkLineInput(o.input);
  // Loaded when asked for: the forwarder (and node's DNS) with --ipfix, the key reader
  // with --key; a plain recording needs neither (docs/benchmarks.md, the receiver's start).
  /* eslint-disable @typescript-eslint/no-require-imports */
  const udp = o.ipfix ? (require('./ipfix-udp') as typeof import('./ipfix-udp')) : null;
  const keys = o.key ? (require('./results-key') as typeof import('./results-key')) : null;
  /* eslint-enable @typescript-eslint/no-require-imports */
  if (o.ipfix) udp!.IpfixForwarder.parse(o.ipfix);
  refuseOwnOutput(o.input, o.out);
  const outDir = openOutDir(o.out, o.force === true);
  // Nothing below may leave files behind when the line held no frame: a failure before
  // the first frame (bad key, busy tty, an input that is not a recording) empties DIR
  // again. After frames arrived, what was written stays: those are results.
  let decoder: LineDecoder | null = null;
  try {
    // Before any file is written: a bad key file is a one-line error.
    const resultsKey = o.key ? keys!.readResultsKey(o.key) : null;
    const forwarder = o.ipfix
      ? await udp!.IpfixForwarder.open(o.ipfix, { rate: o.ipfixRate ?? DEFAULT_RATE, templateSeconds: o.ipfixTemplateSeconds ?? DEFAULT_TEMPLATE_SECONDS })
      : null;
    let forwarded: ForwardReport | null = null;
    let raw = -1;
    let outputs: OutputFiles | null = null;
    const first = Buffer.alloc(4);
    let firstBytes = 0;
    const started = Date.now();
    let source: Awaited<ReturnType<typeof openLineSource>> | null = null;
    let ended = false;
    let follower: Follower | null = null;
    let results: ResultsWriter | null = null;
    try {
      raw = fs.openSync(path.join(o.out, LINE_FILE), 'w');
      const screen = new StatusScreen(o.terminal?.write ?? ((text) => { for (const l of text.slice(0, -1).split('\n')) print(l); }), o.terminal !== undefined, o.terminal?.columns);
      outputs = new OutputFiles(o.out, (l) => follow && screen.log(l), (m) => forwarder?.send(m), () => d.bytesRead);
      const d = new LineDecoder(outputs, { resultsKey });
      const outs = outputs;
      decoder = d;
      const r = (results = new ResultsWriter(o.out, d, outs, started));
      follower = follow ? new Follower(new LiveView(d, outs.timeline, kind === 'tty' ? o.baud ?? 115200 : null), screen) : null;
      const f = follower;
      source = await openLineSource(o.input, o.baud ?? 115200, (chunk) => {
        if (ended) return;
        if (firstBytes < first.length) firstBytes += chunk.copy(first, firstBytes);
        fs.writeSync(raw, chunk);
        d.push(chunk);
        outs.flush();
        f?.onInput();
        // A file waits while the collector's queue is long; a tty cannot (see ipfix-udp.ts).
        if (forwarder?.isFull() && source?.pause && source.resume) {
          source.pause();
          forwarder.whenRoom(source.resume);
        }
        if (o.untilEnd && d.current?.end) {
          ended = true;
          source?.stop();
        }
      });
      const src = source;
      const onAbort = (): void => src.stop();
      o.signal?.addEventListener('abort', onAbort);
      if (o.signal?.aborted) src.stop();
      const ticker = f ? setInterval(() => f.render(), o.statusEveryMs ?? (o.terminal ? 1000 : 2000)) : null;
      // summary.json during the run, once a frame arrived (before that DIR must stay clean).
      // A write that fails (disk full) is told once and tried again; the end writes too.
      let told = false;
      const refresh = setInterval(() => {
        if (d.sessions.size === 0) return;
        try {
          r.write(r.summary(Date.now(), null), { report: follow, final: false });
        } catch (e) {
          if (!told) outs.notice(null, 4, `summary.json could not be rewritten during the run (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): check the free space of ${o.out}`);
          told = true;
        }
      }, o.resultsEveryMs ?? 3000);
      try {
        await src.done;
      } finally {
        if (ticker) clearInterval(ticker);
        clearInterval(refresh);
        o.signal?.removeEventListener('abort', onAbort);
      }
    } finally {
      decoder?.finish();
      outputs?.close();
      if (raw >= 0) fs.closeSync(raw);
      if (resultsKey) keys!.freeResultsKey(resultsKey);
      if (forwarder) forwarded = await forwarder.close();
    }
    if (decoder.sessions.size === 0) throw new Error(noFrameMessage(o.input, kind, decoder.bytesRead, first.subarray(0, firstBytes), o.baud ?? 115200));
    const summary = results!.summary(Date.now(), forwarded);
    results!.write(summary, { report: true, final: true });
    fs.writeFileSync(path.join(o.out, 'README.txt'), readmeText(summary, new Date()));
    follower?.finish();
    return summary;
  } catch (e) {
    if (decoder === null || decoder.sessions.size === 0) removeWhatWasWritten(outDir);
    throw e;
  }
}

const PCAP_MAGICS = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a];

/** Why the input held no sealtap frame, in one sentence that says what to give instead. */
function noFrameMessage(input: string, kind: 'tty' | 'file', bytes: number, first: Buffer, baud: number): string {
  const nothing = 'nothing written';
  if (kind === 'tty') {
    return `no sealtap frame read from ${input} (${bytes} bytes): is it wired to the box's results line, at the box's speed (--baud ${baud})? ${nothing}`;
  }
  if (bytes === 0) return `${input} is empty: no sealtap frame in it; give a recording of the results line (line.raw) or the tty wired to the box; ${nothing}`;
  if (first.length === 4 && PCAP_MAGICS.includes(first.readUInt32BE(0))) {
    return `${input} is a pcap file, not a recording of the results line: give the line.raw the box's line was recorded to (trace.pcap is one of receive's outputs); ${nothing}`;
  }
  return `no sealtap frame in ${input} (${bytes} bytes): is it the results line? give a recording of it (line.raw) or the tty wired to the box; ${nothing}`;
}

/**
 * --follow: keeps the status block on the screen about the current session. A session
 * that ended is drawn one last time and left on the screen; a new BOOT (the box
 * rebooted) starts a new block below it. As plain lines, a block that did not change
 * (a session that ended) is not printed again.
 */
class Follower {
  private shown: SessionState | null = null;
  private endShown = false;
  private lastPlain = '';

  constructor(private readonly view: LiveView, private readonly screen: StatusScreen) {}

  /** After each chunk: redraw at once when a session began or ended. */
  onInput(): void {
    const s = this.view.session();
    if (s !== this.shown || (s?.end && !this.endShown)) this.render();
  }

  render(): void {
    const now = Date.now();
    const s = this.view.session();
    if (this.shown && s !== this.shown) {
      this.show(this.view.lines(now, this.shown));
      this.screen.keep();
      this.lastPlain = '';
    }
    this.shown = s;
    this.endShown = s?.end != null;
    this.show(this.view.lines(now, s));
  }

  /** The last block, left on the screen above whatever is printed next. */
  finish(): void {
    this.render();
    this.screen.keep();
  }

  private show(lines: string[]): void {
    if (!this.screen.inPlace) {
      const text = lines.join('\n');
      if (text === this.lastPlain) return;
      this.lastPlain = text;
    }
    this.screen.show(lines);
  }
}
