// `sealtap receive`: reads the line, writes the output files, reports progress.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineDecoder } from './decoder';
import { LINE_FILE, OutputFiles } from './outputs';
import { escapeLineText, lineJson } from './escape-text';
import { buildSummary, missingDataFrames, Summary } from './summary';
import { checkLineInput, openLineSource } from './line-source';
import { IpfixForwarder } from './ipfix-udp';
import { freeResultsKey, readResultsKey } from './results-key';

export interface ReceiveOptions {
  /** A tty (read with serialport) or a recording of the line (read to its end). */
  input: string;
  out: string;
  baud?: number;
  /** Print operator log lines and a periodic status line while reading. */
  follow?: boolean;
  /** Stop at the first END record. */
  untilEnd?: boolean;
  /** udp://host:port of an IPFIX collector. */
  ipfix?: string;
  /** Where --follow lines go (stdout by default). */
  print?: (line: string) => void;
  /** Aborting stops reading (SIGINT/SIGTERM in the CLI); the files are still finished. */
  signal?: AbortSignal;
  statusEveryMs?: number;
  /** The researcher's results key file (PREFIX.key from `sealtap receive keygen`), to read encrypted sessions. */
  key?: string;
}

export function prepareOutDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new Error(`output directory ${dir} is not writable (${code || (e as Error).message}): choose another --out or fix its permissions`);
  }
}

export async function receive(o: ReceiveOptions): Promise<Summary> {
  const print = o.print ?? ((l: string) => process.stdout.write(l + '\n'));
  const follow = o.follow === true;
  checkLineInput(o.input);
  prepareOutDir(o.out);
  const forward = o.ipfix ? IpfixForwarder.parse(o.ipfix) : null;
  // Before any file is written: a bad key file is a one-line error.
  const resultsKey = o.key ? readResultsKey(o.key) : null;
  const forwarder = forward ? new IpfixForwarder(forward.host, forward.port) : null;
  const raw = fs.openSync(path.join(o.out, LINE_FILE), 'w');
  const outputs = new OutputFiles(o.out, (l) => follow && print(l), (m) => forwarder?.send(m));
  const decoder = new LineDecoder(outputs, { resultsKey });
  const started = Date.now();
  let source: Awaited<ReturnType<typeof openLineSource>> | null = null;
  let ended = false;
  try {
    source = await openLineSource(o.input, o.baud ?? 115200, (chunk) => {
      if (ended) return;
      fs.writeSync(raw, chunk);
      decoder.push(chunk);
      outputs.flush();
      if (o.untilEnd && decoder.current?.end) {
        ended = true;
        source?.stop();
      }
    });
    const src = source;
    const onAbort = (): void => src.stop();
    o.signal?.addEventListener('abort', onAbort);
    if (o.signal?.aborted) src.stop();
    const ticker = follow ? setInterval(() => print(statusLine(decoder, started)), o.statusEveryMs ?? 2000) : null;
    try {
      await src.done;
    } finally {
      if (ticker) clearInterval(ticker);
      o.signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    decoder.finish();
    outputs.close();
    fs.closeSync(raw);
    if (resultsKey) freeResultsKey(resultsKey);
    await forwarder?.close();
  }
  const summary = buildSummary(decoder, outputs, started, Date.now());
  fs.writeFileSync(path.join(o.out, 'summary.json'), lineJson(summary, 2) + '\n');
  if (follow) print(statusLine(decoder, started));
  return summary;
}

/** One line of live progress: the box's last STATUS plus what the line looks like from here. */
export function statusLine(d: LineDecoder, startedMs: number): string {
  const s = d.current;
  const st = s?.status;
  let frames = 0;
  let missing = 0;
  let repaired = 0;
  for (const x of d.sessions.values()) {
    frames += x.frames;
    missing += missingDataFrames(x);
    repaired += x.repairedFrames;
  }
  const secs = Math.max(0.001, (Date.now() - startedMs) / 1000);
  // STATUS comes from the line: its fields are shown escaped, whatever their type.
  const t = escapeLineText;
  const box = st
    ? `captured ${t(st.captured)} drops kernel ${t(st.kernelDropped)} spool ${t(st.spoolDropped)} backlog ${t(st.channelBacklogBytes)} B`
    : 'no STATUS yet';
  return `status: ${box} | frames ${frames} bad ${d.totalBadFrames()} missing ${missing}${repaired ? ` repaired ${repaired}` : ''} | ${Math.round(d.bytesRead / secs)} B/s`;
}
